#include "report/report_command.h"

#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "common/options.h"
#include "report/aggregate.h"
#include "report/layout.h"
#include "report/metrics.h"
#include "report/render.h"
#include "results/sqlite.h"
#include "results/run_ledger.h"
#include "results/store.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <ostream>
#include <set>

namespace isda::report {
namespace {

struct Options {
  std::string table, figure, sweep, metric, out, format, db;
  bool list = false;
};

}  // namespace

const Command& report_command_line() {
  static const Command command = [] {
    Command c;
    c.name = "isda-report";
    c.usage = {"[--table ID | --figure ID | --sweep NAME] [--format FORMAT] [--metric NAME] [--out FILE] [--db PATH]",
               "--list [--db PATH]"};
    c.description =
        "Prints the paper's tables (and, in HTML, its curves) from the runs in the results store, with the paper's\n"
        "numbers beside ours. Without --table, --figure or --sweep: every table (HTML: and every figure).\n";
    c.options = {
        value_option("--table", "ID", "a paper table, from the most recent sweep whose spec has it"),
        value_option("--figure", "ID", "a paper figure (its curves need --format html)"),
        value_option("--sweep", "NAME|ID", "this sweep's table and figure (default: see --table, --figure)"),
        value_option("--metric", "NAME", "what the cells or the curves show (metrics below)"),
        value_option("--format", "FORMAT", "how the report is written")
            .one_of({"terminal", "markdown", "latex", "csv", "html"})
            .default_to("terminal"),
        value_option("--out", "FILE", "write the report there instead of to stdout"),
        value_option("--db", "PATH", "the results store").default_to(results::kDefaultDatabasePath),
        switch_option("--list", "list the store's sweeps with their tables, figures and runs"),
    };
    c.notes = fmt::format("metrics of tables: {} (default {})\n", metric_names(MetricKind::final_value), kDefaultTableMetric) +
              fmt::format("metrics of figures and HTML curves: {} (default {})\n", metric_names(MetricKind::per_epoch),
                          kDefaultFigureMetric) +
              "Cells: mean ± sample standard deviation (n-1) over seeds.\n";
    c.exit_codes = {{kExitOk, "ok"},
                    {kExitUsage, "bad usage, unknown table or figure, or bad layout"},
                    {kExitStore, "results store missing or unreadable"}};
    return c;
  }();
  return command;
}

namespace {

Options options_from(const Arguments& args) {
  if (!args.positional().empty()) throw UsageError("unexpected argument \"" + args.positional()[0] + "\" (see --help)");
  Options o;
  o.table = args.text("--table");
  o.figure = args.text("--figure");
  o.sweep = args.text("--sweep");
  o.metric = args.text("--metric");
  o.format = args.text("--format");
  o.out = args.text("--out");
  o.db = args.text("--db");
  o.list = args.has("--list");
  return o;
}

results::ResultsStore open_store(const std::string& path) {
  if (!std::filesystem::exists(path)) {
    throw results::StoreError(path + ": no results store there (run isda-run SPEC first, or pass --db PATH)");
  }
  return results::ResultsStore::open(path, results::ResultsStore::Mode::reader);
}

std::string utc_time(double seconds) {
  const auto time = static_cast<std::time_t>(seconds);
  std::tm parts{};
  gmtime_r(&time, &parts);
  char text[32];
  std::strftime(text, sizeof text, "%Y-%m-%d %H:%M", &parts);
  return text;
}

// The profile a sweep ran ("smoke" of sweep "table4:smoke"); "" for the paper's setting.
std::string profile_of(const results::SweepInfo& sweep) {
  const auto colon = sweep.name.find(':');
  return colon == std::string::npos ? std::string() : sweep.name.substr(colon + 1);
}

// The sweep that declares this table (`figure` false) or figure id: the newest of the paper's
// setting when there is one (a newer smoke sweep does not hide it), else the newest; or nullptr.
const results::SweepInfo* newest_with(const std::vector<results::SweepInfo>& sweeps, bool figure, const std::string& id) {
  const results::SweepInfo* found = nullptr;
  for (const auto& sweep : sweeps) {
    const auto ids = declared_ids(sweep.spec_json);
    if ((figure ? ids.figure : ids.table) != id) continue;
    const bool paper = profile_of(sweep).empty();
    const bool found_paper = found != nullptr && profile_of(*found).empty();
    if (found == nullptr || (paper && !found_paper) || (paper == found_paper && results::is_newer(sweep, *found))) {
      found = &sweep;
    }
  }
  return found;
}

// The ids of every table (or figure) the store's sweeps declare, in reading order.
std::vector<std::string> declared(const std::vector<results::SweepInfo>& sweeps, bool figure) {
  std::set<std::string> ids;
  for (const auto& sweep : sweeps) {
    const auto found = declared_ids(sweep.spec_json);
    const auto& id = figure ? found.figure : found.table;
    if (!id.empty()) ids.insert(id);
  }
  std::vector<std::string> sorted(ids.begin(), ids.end());
  std::sort(sorted.begin(), sorted.end(), id_less);
  return sorted;
}

std::string nothing_found(const std::string& db, const std::vector<results::SweepInfo>& sweeps, bool figure,
                          const std::string& id) {
  const char* kind = figure ? "figure" : "table";
  if (sweeps.empty()) return fmt::format("{}: the store holds no sweeps yet (run isda-run SPEC first)", db);
  const auto known = declared(sweeps, figure);
  if (known.empty()) {
    return fmt::format("{}: no sweep has a {} {} (no sweep's spec has a \"{}\" layout; see --list)", db, kind, id, kind);
  }
  return fmt::format("{}: no sweep has {} {} ({}s in the store: {}; see --list)", db, kind, id, kind,
                     fmt::join(known, ", "));
}

const results::SweepInfo& find_sweep(const std::vector<results::SweepInfo>& sweeps, const std::string& name_or_id,
                                     const std::string& db) {
  const bool numeric = std::all_of(name_or_id.begin(), name_or_id.end(), [](unsigned char c) { return std::isdigit(c); });
  const results::SweepInfo* found = nullptr;
  for (const auto& sweep : sweeps) {
    const bool same = numeric ? std::to_string(sweep.id) == name_or_id : sweep.name == name_or_id;
    if (same && (found == nullptr || results::is_newer(sweep, *found))) found = &sweep;
  }
  if (found != nullptr) return *found;
  std::vector<std::string> names;
  for (const auto& sweep : sweeps) names.push_back(sweep.name);
  if (names.empty()) throw UsageError(fmt::format("{}: no sweep {}: the store holds no sweeps yet", db, name_or_id));
  throw UsageError(fmt::format("{}: no sweep {} (sweeps: {})", db, name_or_id, fmt::join(names, ", ")));
}

// A sweep's layouts; a sweep of a profile says so first in each title, with what the profile sets
// ("Profile smoke (epochs 1, train_limit 2000), not the paper's setting: Table 4: ..."), so that a
// toy-size table is never taken for the paper's.
SpecLayouts layouts_of(const results::SweepInfo& sweep) {
  auto layouts = parse_layouts(sweep.spec_json, "sweep " + sweep.name);
  const auto profile = profile_of(sweep);
  if (profile.empty()) return layouts;
  std::vector<std::string> sets;
  const auto spec = nlohmann::json::parse(sweep.spec_json, nullptr, /*allow_exceptions=*/false);
  if (spec.is_object() && spec.contains("profiles") && spec["profiles"].is_object() && spec["profiles"].contains(profile) &&
      spec["profiles"][profile].is_object()) {
    for (const auto& item : spec["profiles"][profile].items()) sets.push_back(item.key() + " " + item.value().dump());
  }
  const auto prefix = fmt::format("Profile {}{}, not the paper's setting: ", profile,
                                  sets.empty() ? std::string() : fmt::format(" ({})", fmt::join(sets, ", ")));
  if (layouts.table) layouts.table->title = prefix + layouts.table->title;
  if (layouts.figure) layouts.figure->title = prefix + layouts.figure->title;
  return layouts;
}

// What to report: tables and figures, each with the sweep it comes from.
struct Selection {
  std::vector<std::pair<results::SweepInfo, TableLayout>> tables;
  std::vector<std::pair<results::SweepInfo, FigureLayout>> figures;
};

void select_from_sweep(const Options& o, const results::SweepInfo& sweep, Selection& selection) {
  const auto layouts = layouts_of(sweep);
  const auto mismatch = [&](const char* kind, const std::string& wanted, const std::string& has) {
    if (has.empty()) return fmt::format("sweep {} has no {} layout in its spec", sweep.name, kind);
    return fmt::format("sweep {} has {} {}, not {}", sweep.name, kind, has, wanted);
  };
  if (!o.table.empty()) {
    if (!layouts.table || layouts.table->id != o.table) {
      throw UsageError(mismatch("table", o.table, layouts.table ? layouts.table->id : ""));
    }
    selection.tables.emplace_back(sweep, *layouts.table);
  }
  if (!o.figure.empty()) {
    if (!layouts.figure || layouts.figure->id != o.figure) {
      throw UsageError(mismatch("figure", o.figure, layouts.figure ? layouts.figure->id : ""));
    }
    selection.figures.emplace_back(sweep, *layouts.figure);
  }
  if (!o.table.empty() || !o.figure.empty()) return;
  if (layouts.table) selection.tables.emplace_back(sweep, *layouts.table);
  if (layouts.figure && (o.format == "html" || !layouts.table)) selection.figures.emplace_back(sweep, *layouts.figure);
  if (!layouts.table && !layouts.figure) {
    throw UsageError(fmt::format("sweep {} has no table or figure layout in its spec", sweep.name));
  }
}

Selection select(const Options& o, const std::vector<results::SweepInfo>& sweeps) {
  Selection selection;
  if (!o.sweep.empty()) {
    select_from_sweep(o, find_sweep(sweeps, o.sweep, o.db), selection);
    return selection;
  }
  const auto add = [&](bool figure, const std::string& id) {
    const auto* sweep = newest_with(sweeps, figure, id);
    if (sweep == nullptr) throw UsageError(nothing_found(o.db, sweeps, figure, id));
    const auto layouts = layouts_of(*sweep);
    if (figure) selection.figures.emplace_back(*sweep, *layouts.figure);
    else selection.tables.emplace_back(*sweep, *layouts.table);
  };
  if (!o.table.empty()) add(false, o.table);
  if (!o.figure.empty()) add(true, o.figure);
  if (!o.table.empty() || !o.figure.empty()) return selection;
  for (const auto& id : declared(sweeps, false)) add(false, id);
  if (o.format == "html" || selection.tables.empty()) {
    for (const auto& id : declared(sweeps, true)) add(true, id);
  }
  if (selection.tables.empty() && selection.figures.empty()) {
    if (sweeps.empty()) throw UsageError(fmt::format("{}: the store holds no sweeps yet (run isda-run SPEC first)", o.db));
    throw UsageError(fmt::format("{}: no sweep's spec has a table or figure layout (see --list)", o.db));
  }
  return selection;
}

// Applies --metric to what it concerns: a final metric to the tables, a per-epoch one to the
// figures and the HTML curves (returned; test_error by default).
const Metric& apply_metric(const Options& o, Selection& selection) {
  const Metric& default_curves = *find_metric(kDefaultFigureMetric);
  if (o.metric.empty()) return default_curves;
  const auto* metric = find_metric(o.metric);
  if (metric == nullptr) {
    throw UsageError(fmt::format("--metric: unknown metric \"{}\" (for tables: {}; for figures: {})", o.metric,
                                 metric_names(MetricKind::final_value), metric_names(MetricKind::per_epoch)));
  }
  if (metric->kind == MetricKind::final_value) {
    if (selection.tables.empty()) {
      throw UsageError(fmt::format("--metric: {} is a final metric, for tables; figures plot a per-epoch one ({})",
                                   o.metric, metric_names(MetricKind::per_epoch)));
    }
    for (auto& [sweep, layout] : selection.tables) {
      layout.metric = o.metric;
      for (auto& column : layout.columns) column.metric = o.metric;
    }
    return default_curves;
  }
  if (selection.figures.empty() && o.format != "html") {
    throw UsageError(fmt::format("--metric: {} is a per-epoch metric, for figures and HTML curves; tables need a "
                                 "final one ({})",
                                 o.metric, metric_names(MetricKind::final_value)));
  }
  for (auto& [sweep, layout] : selection.figures) layout.metric = o.metric;
  return *metric;
}

// Sweeps read once each; std::map keeps them in place for the RunCurves that point into them.
class SweepCache {
 public:
  SweepCache(results::ResultsStore& store, bool with_epochs) : store_(store), with_epochs_(with_epochs) {}
  const SweepData& get(const results::SweepInfo& sweep) {
    auto found = sweeps_.find(sweep.id);
    if (found == sweeps_.end()) found = sweeps_.emplace(sweep.id, load_sweep(store_, sweep, with_epochs_)).first;
    return found->second;
  }

 private:
  results::ResultsStore& store_;
  bool with_epochs_;
  std::map<int64_t, SweepData> sweeps_;
};

std::string render_text_formats(const Options& o, const Selection& selection, SweepCache& cache, bool ansi) {
  if (o.format == "latex" && !selection.figures.empty()) {
    throw UsageError("figures need --format html (terminal, markdown and csv give their numbers); LaTeX is for tables");
  }
  if (o.format == "csv" && !selection.tables.empty() && !selection.figures.empty()) {
    throw UsageError("--format csv: ask for tables or for figures, not both (their columns differ)");
  }
  std::vector<TableReport> tables;
  for (const auto& [sweep, layout] : selection.tables) tables.push_back(aggregate_table(layout, cache.get(sweep)));
  std::vector<FigureReport> figures;
  for (const auto& [sweep, layout] : selection.figures) figures.push_back(aggregate_figure(layout, cache.get(sweep)));
  if (o.format == "csv") return tables.empty() ? render_figures_csv(figures) : render_tables_csv(tables);
  std::vector<std::string> parts;
  for (const auto& table : tables) {
    if (o.format == "terminal") parts.push_back(render_table_terminal(table, ansi));
    if (o.format == "markdown") parts.push_back(render_table_markdown(table));
    if (o.format == "latex") parts.push_back(render_table_latex(table));
  }
  for (const auto& figure : figures) {
    parts.push_back(o.format == "markdown" ? render_figure_markdown(figure) : render_figure_terminal(figure));
  }
  return fmt::format("{}", fmt::join(parts, "\n"));
}

std::string render_html_report(const Options& o, const Selection& selection, SweepCache& cache,
                               const Metric& curve_metric) {
  HtmlReport report;
  report.store_path = o.db;
  for (const auto& [sweep, layout] : selection.tables) {
    const auto& data = cache.get(sweep);
    report.tables.push_back({aggregate_table(layout, data), table_curves(layout, data, curve_metric), run_curves(data),
                             generator_samples(data)});
  }
  for (const auto& [sweep, layout] : selection.figures) {
    const auto& data = cache.get(sweep);
    report.figures.push_back({aggregate_figure(layout, data), run_curves(data)});
  }
  return render_html(report);
}

// Writes the whole report or nothing (common::write_file_atomically), as a one-line usage error.
void write_file(const std::string& path, const std::string& text) {
  try {
    common::write_file_atomically(path, text);
  } catch (const common::FileError& e) {
    throw UsageError(fmt::format("--out: cannot write {} ({})", path, std::strerror(e.error_number)));
  }
}

std::string aligned(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    widths.resize(std::max(widths.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) widths[i] = std::max(widths[i], row[i].size());
  }
  std::string text;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) line += fmt::format("{:<{}}  ", row[i], widths[i]);
    while (!line.empty() && line.back() == ' ') line.pop_back();
    text += line + "\n";
  }
  return text;
}

void print_list(results::ResultsStore& store, const std::string& db, std::ostream& out) {
  const auto sweeps = list_sweeps(store);
  if (sweeps.empty()) {
    out << db << ": the store holds no sweeps yet (run isda-run SPEC first)\n";
    return;
  }
  std::vector<std::vector<std::string>> rows = {
      {"id", "sweep", "layouts", "reported by", "runs", "done", "running", "pending", "interrupted", "failed",
       "created (UTC)"}};
  std::vector<std::string> problems;
  for (const auto& sweep : sweeps) {
    const auto ids = declared_ids(sweep.spec_json);
    std::vector<std::string> layouts, reported_by;
    if (!ids.table.empty()) {
      layouts.push_back("table " + ids.table);
      if (newest_with(sweeps, false, ids.table)->id == sweep.id) reported_by.push_back("--table " + ids.table);
    }
    if (!ids.figure.empty()) {
      layouts.push_back("figure " + ids.figure);
      if (newest_with(sweeps, true, ids.figure)->id == sweep.id) reported_by.push_back("--figure " + ids.figure);
    }
    try {
      layouts_of(sweep);
    } catch (const LayoutError& e) {
      problems.push_back(e.what());
    }
    const auto counts = counts_by_state(store, sweep.id);
    rows.push_back({std::to_string(sweep.id), sweep.name, layouts.empty() ? "-" : fmt::format("{}", fmt::join(layouts, ", ")),
                    reported_by.empty() ? "-" : fmt::format("{}", fmt::join(reported_by, " ")),
                    std::to_string(counts.total()), std::to_string(counts.done), std::to_string(counts.running),
                    std::to_string(counts.pending), std::to_string(counts.interrupted), std::to_string(counts.failed),
                    utc_time(sweep.created)});
  }
  out << db << ": " << sweeps.size() << " sweep" << (sweeps.size() == 1 ? "" : "s") << "\n" << aligned(rows);
  for (const auto& problem : problems) out << "bad layout: " << problem << '\n';
}

int run(const Options& o, std::ostream& out, std::ostream& err, bool out_is_terminal) {
  auto store = open_store(o.db);
  if (o.list) {
    print_list(store, o.db, out);
    return 0;
  }
  auto selection = select(o, list_sweeps(store));
  const auto& curve_metric = apply_metric(o, selection);
  SweepCache cache(store, o.format == "html" || !selection.figures.empty());
  const bool ansi = out_is_terminal && o.out.empty();
  const auto text = o.format == "html" ? render_html_report(o, selection, cache, curve_metric)
                                       : render_text_formats(o, selection, cache, ansi);
  if (o.out.empty()) {
    out << text;
  } else {
    write_file(o.out, text);
    err << "isda-report: wrote " << o.out << '\n';
  }
  return 0;
}

}  // namespace

int report_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool out_is_terminal) {
  const auto fail = [&err](int code, const std::string& message) {
    err << "isda-report: error: " << message.substr(0, message.find('\n')) << '\n';
    return code;
  };
  try {
    const auto arguments = parse_arguments(report_command_line(), args);
    if (arguments.help()) {
      out << help_text(report_command_line());
      return 0;
    }
    return run(options_from(arguments), out, err, out_is_terminal);
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const LayoutError& e) {
    return fail(kExitUsage, e.what());
  } catch (const results::StoreError& e) {
    return fail(kExitStore, e.what());
  } catch (const std::exception& e) {
    return fail(kExitFailed, e.what());
  }
}

}  // namespace isda::report
