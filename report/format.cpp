#include "report/format.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>

namespace isda::report {
namespace {

std::string unfinished_text(const results::StateCounts& counts, int64_t done_without_metric) {
  std::vector<std::string> parts;
  if (counts.running > 0) parts.push_back(fmt::format("{} running", counts.running));
  if (counts.pending > 0) parts.push_back(fmt::format("{} pending", counts.pending));
  if (counts.interrupted > 0) parts.push_back(fmt::format("{} interrupted", counts.interrupted));
  if (counts.failed > 0) parts.push_back(fmt::format("{} failed", counts.failed));
  if (done_without_metric > 0) parts.push_back(fmt::format("{} done without this metric", done_without_metric));
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string difference_summary(const ConfigDifference& difference, const Notation& notation) {
  std::string text = fmt::format("runs differ in {} ({})", notation.escape(difference.key),
                                 notation.escape(fmt::format("{}", fmt::join(difference.values, ", "))));
  if (difference.keys.size() > 1) {
    std::vector<std::string> others(difference.keys.begin() + 1, difference.keys.end());
    text += " and in " + notation.escape(fmt::format("{}", fmt::join(others, ", ")));
  }
  return text;
}

std::string metrics_phrase(const TableLayout& layout, const Notation& notation) {
  std::vector<std::string> names;
  for (const auto& column : layout.columns) {
    if (std::find(names.begin(), names.end(), column.metric) == names.end()) names.push_back(column.metric);
  }
  if (names.size() == 1) {
    return fmt::format("{} ({})", notation.escape(names[0]), notation.escape(std::string(find_metric(names[0])->description)));
  }
  std::vector<std::string> parts;
  for (const auto& column : layout.columns) parts.push_back(notation.escape(column.label + ": " + column.metric));
  return fmt::format("each column's metric ({})", fmt::join(parts, "; "));
}

}  // namespace

std::string no_escape(const std::string& text) { return text; }

const Notation kPlainNotation = {"±", "✓", "Δ", "≤", "σ", no_escape};

std::string format_number(double value) { return std::isnan(value) ? "" : fmt::format("{:.2f}", value); }

std::string format_signed(double value) {
  if (std::isnan(value)) return "";
  const auto text = fmt::format("{:+.2f}", value);
  return text == "-0.00" ? "+0.00" : text;
}

std::string format_mean_std(double mean, double std, const Notation& notation) {
  if (std::isnan(std)) return format_number(mean);
  return fmt::format("{} {} {}", format_number(mean), notation.plus_minus, format_number(std));
}

std::string format_paper(const std::optional<PaperValue>& paper, const Notation& notation) {
  return paper ? format_mean_std(paper->mean, paper->std, notation) : "";
}

std::string ours_text(const Cell& cell, const Notation& notation) {
  switch (cell.status) {
    case CellStatus::results: return format_mean_std(cell.ours.mean, cell.ours.std, notation);
    case CellStatus::mixed:  // the values are in the problem lines under the table
      return "mixed: runs differ in " +
             notation.escape(fmt::format("{}", fmt::join(cell.difference_in_config->keys, ", ")));
    case CellStatus::no_results: break;
  }
  if (cell.counts.total() == 0) return "no runs";
  return "no results (" + unfinished_text(cell.counts, cell.done_without_metric) + ")";
}

std::string seeds_text(const Cell& cell) {
  if (cell.status == CellStatus::mixed) return "";
  const auto total = cell.counts.total();
  if (cell.ours.n == total) return std::to_string(total);
  return fmt::format("{}/{}", cell.ours.n, total);
}

std::string difference_text(const Cell& cell, const Notation& notation) {
  if (std::isnan(cell.difference)) return "";
  return format_signed(cell.difference) + (cell.within_two_std ? std::string(" ") + notation.check : "");
}

std::string counts_text(const results::StateCounts& counts) {
  if (counts.total() == 0) return "no runs";
  std::vector<std::string> parts;
  if (counts.done > 0) parts.push_back(fmt::format("{} done", counts.done));
  const auto rest = unfinished_text(counts, 0);
  if (!rest.empty()) parts.push_back(rest);
  return fmt::format("{}", fmt::join(parts, ", "));
}

std::string sweep_line(const results::SweepInfo& sweep, const results::StateCounts& counts, const Notation& notation) {
  return fmt::format("sweep {} (id {}), {} run{}: {}", notation.escape(sweep.name), sweep.id, counts.total(),
                     counts.total() == 1 ? "" : "s", counts_text(counts));
}

std::string cell_name(const TableLayout& layout, size_t row, size_t column) {
  std::vector<std::string> parts;
  const auto& r = layout.rows[row];
  const auto& c = layout.columns[column];
  if (!r.group.empty()) parts.push_back(r.group);
  parts.push_back(r.label);
  if (!c.group.empty()) parts.push_back(c.group);
  parts.push_back(c.label);
  return fmt::format("{}", fmt::join(parts, " / "));
}

std::vector<std::string> legend_lines(const TableReport& report, const Notation& notation,
                                      const std::string& best_marking) {
  return {
      fmt::format("ours: mean {} sample standard deviation (n-1) over seeds of {}; n: seeds with results "
                  "(x/y: x of the cell's y runs have one)",
                  notation.plus_minus, metrics_phrase(report.layout, notation)),
      fmt::format("paper: the paper's value; {} = ours - paper; {}: |{}| {} 2{}, {} the paper's standard deviation "
                  "(ours where the paper gives none); the best (lowest) mean of each column {}",
                  notation.delta, notation.check, notation.delta, notation.le, notation.sigma, notation.sigma,
                  best_marking),
  };
}

std::vector<std::string> problem_lines(const TableReport& report, const Notation& notation) {
  std::vector<std::string> lines;
  for (size_t r = 0; r < report.cells.size(); ++r) {
    for (size_t c = 0; c < report.cells[r].size(); ++c) {
      const auto& cell = report.cells[r][c];
      if (cell.status != CellStatus::mixed) continue;
      lines.push_back(fmt::format("{}: {}; not averaged (make the layout's match tell them apart)",
                                  notation.escape(cell_name(report.layout, r, c)),
                                  difference_summary(*cell.difference_in_config, notation)));
    }
  }
  return lines;
}

bool has_comparisons(const TableReport& report) {
  for (const auto& row : report.cells) {
    for (const auto& cell : row) {
      if (cell.comparison) return true;
    }
  }
  return false;
}

namespace {

// "ISDA − Basic", with the baseline's group when it is another.
template <typename Item>
std::string compared_label(const Item& item, const Item& baseline) {
  const auto base = baseline.group == item.group || baseline.group.empty() ? baseline.label
                                                                            : baseline.group + " " + baseline.label;
  return item.label + " − " + base;
}

}  // namespace

ComparisonGrid comparison_grid(const TableReport& report) {
  const auto& layout = report.layout;
  ComparisonGrid grid;
  grid.layout.id = layout.id;
  grid.layout.title = layout.title;
  const bool by_row = layout.baseline_axis == BaselineAxis::rows;
  for (size_t r = 0; r < layout.rows.size(); ++r) {
    if (by_row && !layout.baseline_of[r]) continue;
    grid.rows.push_back(r);
    auto row = layout.rows[r];
    if (by_row) row.label = compared_label(row, layout.rows[*layout.baseline_of[r]]);
    grid.layout.rows.push_back(row);
  }
  for (size_t c = 0; c < layout.columns.size(); ++c) {
    if (!by_row && !layout.baseline_of[c]) continue;
    grid.columns.push_back(c);
    auto column = layout.columns[c];
    if (!by_row) column.label = compared_label(column, layout.columns[*layout.baseline_of[c]]);
    grid.layout.columns.push_back(column);
  }
  return grid;
}

std::string comparison_interval_text(const Comparison& comparison) {
  const auto& welch = comparison.ours;
  switch (welch.status) {
    case WelchStatus::no_data: return "";
    case WelchStatus::too_few_seeds: return format_signed(welch.difference) + " (n=1)";
    case WelchStatus::zero_variance: return format_signed(welch.difference) + " (no spread)";
    case WelchStatus::ok: break;
  }
  return fmt::format("{} [{}, {}]", format_signed(welch.difference), format_signed(welch.low), format_signed(welch.high));
}

std::string p_value_text(const WelchResult& welch) {
  if (welch.status != WelchStatus::ok) return "";
  if (welch.p_value < 0.001) return "<0.001";
  return fmt::format("{:.3f}", welch.p_value);
}

std::string paper_difference_text(const Comparison& comparison, const Notation& notation) {
  if (std::isnan(comparison.paper_difference)) return "";
  const auto text = format_signed(comparison.paper_difference);
  switch (comparison.agreement) {
    case Comparison::Agreement::consistent: return text + " " + notation.check;
    case Comparison::Agreement::inconsistent: return text + " " + notation.cross;
    case Comparison::Agreement::unknown: break;
  }
  return text;
}

std::string seeds_advice_text(const Comparison& comparison) {
  switch (comparison.seeds.status) {
    case PowerStatus::ok: return std::to_string(comparison.seeds.seeds);
    case PowerStatus::beyond_limit: return fmt::format(">{}", comparison.seeds.seeds);
    case PowerStatus::no_spread: return "2";
    case PowerStatus::no_spread_known: return "n<2";
    case PowerStatus::no_target: break;
  }
  return "";
}

std::vector<std::string> comparison_legend_lines(const Notation& notation) {
  return {
      fmt::format("{} [95% CI]: our mean difference (row or column minus its baseline) with Welch's 95% confidence "
                  "interval; p: Welch's two-sided t-test; (n=1): a cell with a single seed has no interval; (no spread): "
                  "no variation in either cell",
                  notation.delta),
      fmt::format("paper {}: the paper's difference; {} when it lies inside our interval (consistent), {} when not",
                  notation.delta, notation.check, notation.cross),
      fmt::format("seeds: seeds per cell for 80% power (Welch, two-sided, 5%) to detect the paper's {} (ours where "
                  "the paper has none) at our observed standard deviations; n<2: a cell needs 2 seeds to estimate one",
                  notation.delta),
  };
}

std::vector<std::string> epoch_range_lines(const TableReport& report, const Notation& notation) {
  // One line per distinct range, naming its cells.
  std::vector<std::pair<std::string, std::vector<std::string>>> groups;
  for (size_t r = 0; r < report.cells.size(); ++r) {
    for (size_t c = 0; c < report.cells[r].size(); ++c) {
      const auto& early = report.cells[r][c].early;
      if (!early || report.cells[r][c].status != CellStatus::results) continue;
      const auto& metric = report.layout.columns[c].metric;
      const auto text =
          early->cosine
              ? fmt::format("{} averages epochs {}-{} of a cosine schedule, whose learning rate still falls in them",
                            metric, early->first, early->last)
              : fmt::format("{} averages epochs {}-{}, from before the learning rate's last drop (at epoch {}): "
                            "it mixes epochs trained at different rates",
                            metric, early->first, early->last, early->last_drop);
      auto found = std::find_if(groups.begin(), groups.end(), [&](const auto& g) { return g.first == text; });
      if (found == groups.end()) {
        groups.push_back({text, {}});
        found = groups.end() - 1;
      }
      found->second.push_back(cell_name(report.layout, r, c));
    }
  }
  std::vector<std::string> lines;
  size_t cells = 0;  // with results
  for (const auto& row : report.cells) {
    for (const auto& cell : row) cells += cell.status == CellStatus::results;
  }
  for (const auto& [text, names] : groups) {
    const auto where = names.size() == cells ? std::string("every cell with results")
                                             : fmt::format("{}", fmt::join(names, "; "));
    lines.push_back(notation.escape(fmt::format("{} ({})", text, where)));
  }
  return lines;
}

std::string consistency_text(const GeneratorRun& run) {
  if (!run.in_store) return "not a run of this store";
  if (run.state == results::RunState::failed) return "none (failed)";
  if (run.state != results::RunState::done) return fmt::format("not yet ({})", results::to_string(run.state));
  if (std::isnan(run.class_consistency)) return "not recorded";
  if (std::isnan(run.judge_test_accuracy)) return fmt::format("{:.3f}", run.class_consistency);
  return fmt::format("{:.3f} [{:.3f}]", run.class_consistency, run.judge_test_accuracy);
}

std::string consistency_heading(const Notation& notation) {
  return notation.escape(
      "generator class consistency (the share of a generator run's images that an independent judge classifier "
      "assigns the label they were generated for; in brackets the judge's accuracy on the real test images, its "
      "ceiling)");
}

std::vector<std::string> consistency_lines(const TableReport& report, const Notation& notation) {
  std::vector<std::string> lines;
  for (const auto& run : report.generators) lines.push_back(notation.escape(run.label) + ": " + consistency_text(run));
  return lines;
}

std::vector<int64_t> summary_epochs(const FigureReport& figure, size_t count) {
  std::set<int64_t> all;
  for (const auto& curve : figure.curves) {
    for (const auto& point : curve.points) all.insert(point.epoch);
  }
  const std::vector<int64_t> epochs(all.begin(), all.end());
  if (epochs.size() <= count || count < 2) return epochs;
  std::vector<int64_t> chosen;
  for (size_t i = 0; i < count; ++i) {
    const auto index = static_cast<size_t>(std::lround(static_cast<double>(i) * static_cast<double>(epochs.size() - 1) /
                                                       static_cast<double>(count - 1)));
    if (chosen.empty() || chosen.back() != epochs[index]) chosen.push_back(epochs[index]);
  }
  return chosen;
}

const CurvePoint* point_at(const Curve& curve, int64_t epoch) {
  const auto found = std::find_if(curve.points.begin(), curve.points.end(),
                                  [epoch](const CurvePoint& p) { return p.epoch == epoch; });
  return found == curve.points.end() ? nullptr : &*found;
}

std::vector<std::string> figure_legend_lines(const FigureReport& figure, const Notation& notation) {
  return {fmt::format("{} ({}): mean {} sample standard deviation (n-1) over the seeds of each series' done runs, "
                      "per epoch; (n): runs behind a point",
                      notation.escape(std::string(figure.metric->name)),
                      notation.escape(std::string(figure.metric->description)), notation.plus_minus)};
}

std::string curve_status(const Curve& curve, const Notation& notation) {
  if (curve.difference_in_config) {
    return "mixed: " + difference_summary(*curve.difference_in_config, notation) + "; not averaged";
  }
  if (!curve.points.empty()) {
    if (curve.counts.done == curve.counts.total()) return "";
    return fmt::format("{} done run{} averaged; not yet in: {}", curve.runs_used, curve.runs_used == 1 ? "" : "s",
                       unfinished_text(curve.counts, 0));
  }
  if (curve.counts.total() == 0) return "no runs";
  if (curve.counts.done > 0) return fmt::format("no epochs recorded ({})", counts_text(curve.counts));
  return "no finished runs (" + counts_text(curve.counts) + ")";
}

}  // namespace isda::report
