#include "report/aggregate.h"

#include "common/run_files.h"
#include "train/train_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

namespace isda::report {
namespace {

using nlohmann::json;

// A config value as a reader writes it: strings without quotes.
std::string value_text(const json& value) { return value.is_string() ? value.get<std::string>() : value.dump(); }

// Finds the cell's paper value and whether ours is within two standard deviations of it.
void compare_with_paper(Cell& cell) {
  if (!cell.paper || cell.status != CellStatus::results) return;
  cell.difference = cell.ours.mean - cell.paper->mean;
  const double sigma = std::isnan(cell.paper->std) ? cell.ours.std : cell.paper->std;
  cell.within_two_std = !std::isnan(sigma) && std::abs(cell.difference) <= 2 * sigma + 1e-9;
}

Cell aggregate_cell(const std::vector<const RunResult*>& runs, const Metric& metric,
                    const std::optional<PaperValue>& paper) {
  Cell cell;
  cell.paper = paper;
  cell.counts = count_states(runs);
  cell.difference_in_config = config_difference(runs);
  if (cell.difference_in_config) {
    cell.status = CellStatus::mixed;
    return cell;
  }
  std::vector<double> values;
  for (const auto* run : runs) {
    if (run->state != results::RunState::done || !run->finals) continue;
    const double value = value_of(metric, *run->finals);
    if (std::isnan(value)) ++cell.done_without_metric;
    values.push_back(value);
  }
  for (const auto* run : runs) {
    if (run->state == results::RunState::done && run->finals) {
      cell.early = early_epochs(run->config, metric);
      break;
    }
  }
  cell.ours = summarize(values);
  cell.status = cell.ours.n > 0 ? CellStatus::results : CellStatus::no_results;
  compare_with_paper(cell);
  return cell;
}

void mark_best_per_column(std::vector<std::vector<Cell>>& cells, size_t columns) {
  for (size_t column = 0; column < columns; ++column) {
    double lowest = std::numeric_limits<double>::infinity();
    for (const auto& row : cells) {
      if (row[column].status == CellStatus::results) lowest = std::min(lowest, row[column].ours.mean);
    }
    for (auto& row : cells) {
      auto& cell = row[column];
      cell.best = cell.status == CellStatus::results && cell.ours.mean == lowest;
    }
  }
}

Curve curve_of(const std::string& label, const std::vector<const RunResult*>& runs, const Metric& metric) {
  Curve curve;
  curve.label = label;
  curve.counts = count_states(runs);
  curve.difference_in_config = config_difference(runs);
  if (curve.difference_in_config) return curve;
  std::map<int64_t, std::vector<double>> values_by_epoch;
  for (const auto* run : runs) {
    if (run->state != results::RunState::done || run->epochs.empty()) continue;
    ++curve.runs_used;
    for (const auto& epoch : run->epochs) values_by_epoch[epoch.epoch].push_back(value_of(metric, epoch));
  }
  for (const auto& [epoch, values] : values_by_epoch) {
    const auto summary = summarize(values);
    if (summary.n > 0) curve.points.push_back({epoch, summary});
  }
  return curve;
}

Sample sample_of(const Cell& cell) {
  if (cell.status != CellStatus::results) return {};
  return {cell.ours.n, cell.ours.mean, cell.ours.std};
}

Comparison compare(const Cell& cell, const Cell& baseline, size_t baseline_row, size_t baseline_column) {
  Comparison comparison;
  comparison.baseline_row = baseline_row;
  comparison.baseline_column = baseline_column;
  comparison.ours = welch_difference(sample_of(cell), sample_of(baseline));
  if (cell.paper && baseline.paper) comparison.paper_difference = cell.paper->mean - baseline.paper->mean;
  const bool paper_known = !std::isnan(comparison.paper_difference);
  if (comparison.ours.status == WelchStatus::ok && paper_known) {
    const bool inside = comparison.ours.low <= comparison.paper_difference + 1e-12 &&
                        comparison.paper_difference <= comparison.ours.high + 1e-12;
    comparison.agreement = inside ? Comparison::Agreement::consistent : Comparison::Agreement::inconsistent;
  }
  comparison.seeds_target_is_paper = paper_known;
  const double target = paper_known ? comparison.paper_difference : comparison.ours.difference;
  const bool spread_known = cell.ours.n >= 2 && baseline.ours.n >= 2 && cell.status == CellStatus::results &&
                            baseline.status == CellStatus::results;
  if (comparison.ours.status == WelchStatus::no_data) return comparison;  // nothing measured to advise on
  comparison.seeds = spread_known ? seeds_for_power(target, cell.ours.std, baseline.ours.std)
                     : std::isnan(target) || target == 0 ? SeedsAdvice{PowerStatus::no_target, 0}
                                                         : SeedsAdvice{PowerStatus::no_spread_known, 0};
  return comparison;
}

void compare_with_baselines(const TableLayout& layout, std::vector<std::vector<Cell>>& cells) {
  if (layout.baseline_axis == BaselineAxis::none) return;
  for (size_t r = 0; r < layout.rows.size(); ++r) {
    for (size_t c = 0; c < layout.columns.size(); ++c) {
      const bool by_row = layout.baseline_axis == BaselineAxis::rows;
      const auto& baseline = layout.baseline_of[by_row ? r : c];
      if (!baseline) continue;
      const size_t base_row = by_row ? *baseline : r;
      const size_t base_column = by_row ? c : *baseline;
      cells[r][c].comparison = compare(cells[r][c], cells[base_row][base_column], base_row, base_column);
    }
  }
}

results::StateCounts count_all(const SweepData& sweep) {
  std::vector<const RunResult*> all;
  for (const auto& run : sweep.runs) all.push_back(&run);
  return count_states(all);
}

// The run config key naming the generator run whose images a classifier mixes in (core/gan).
constexpr char kGeneratorRunKey[] = "generator_run";

// The run's generator_run, or "" when it mixes in no generated images.
std::string generator_run_of(const RunResult& run) {
  const auto found = run.config.find(kGeneratorRunKey);
  return found != run.config.end() && found->is_string() ? found->get<std::string>() : "";
}

RunResult run_result_of(const results::RunInfo& info) {
  RunResult run;
  run.id = info.id;
  run.config = json::parse(info.config_json, nullptr, /*allow_exceptions=*/false);
  if (!run.config.is_object()) run.config = json::object();  // matches nothing
  run.state = info.state;
  run.run_dir = info.run_dir;
  return run;
}

// Gives each done run its final metrics.
void load_finals(results::ResultsStore& store, std::vector<RunResult>& runs) {
  std::vector<std::string> done_ids;
  for (const auto& run : runs) {
    if (run.state == results::RunState::done) done_ids.push_back(run.id);
  }
  std::map<std::string, results::FinalRow> finals;
  for (auto& row : finals_of(store, done_ids)) finals.emplace(row.run_id, std::move(row));
  for (auto& run : runs) {
    const auto found = finals.find(run.id);
    if (found != finals.end()) run.finals = found->second;
  }
}

const RunResult* find_run_of(const SweepData& sweep, const std::string& id) {
  for (const auto* runs : {&sweep.runs, &sweep.outside_generator_runs}) {
    const auto found = std::find_if(runs->begin(), runs->end(), [&](const RunResult& run) { return run.id == id; });
    if (found != runs->end()) return &*found;
  }
  return nullptr;
}

// "cgan on cifar10 (seed 0)", and the run's id when `with_id`.
std::string generator_label(const RunResult& run, bool with_id) {
  std::vector<std::string> details;
  const auto seed = run.config.find("seed");
  if (seed != run.config.end()) details.push_back("seed " + value_text(*seed));
  if (with_id) details.push_back("run " + run.id);
  auto label = run.config.value("task", std::string("?")) + " on " + run.config.value("dataset", std::string("?"));
  if (!details.empty()) label += fmt::format(" ({})", fmt::join(details, ", "));
  return label;
}

GeneratorRun generator_run(const RunResult& run, bool with_id) {
  GeneratorRun generator;
  generator.id = run.id;
  generator.label = generator_label(run, with_id);
  generator.state = run.state;
  if (run.state == results::RunState::done && run.finals) {
    generator.class_consistency = run.finals->class_consistency;
    generator.judge_test_accuracy = run.finals->judge_test_accuracy;
  }
  return generator;
}

// Notes the generator runs that a cell's runs name in `ids` (in order of first use) and gives the
// cell their indices.
void note_generator_runs(const std::vector<const RunResult*>& runs, std::vector<std::string>& ids, Cell& cell) {
  for (const auto* run : runs) {
    const auto id = generator_run_of(*run);
    if (id.empty()) continue;
    const auto found = std::find(ids.begin(), ids.end(), id);
    const auto index = static_cast<size_t>(found - ids.begin());
    if (found == ids.end()) ids.push_back(id);
    if (std::find(cell.generators.begin(), cell.generators.end(), index) == cell.generators.end()) {
      cell.generators.push_back(index);
    }
  }
}

// The generator runs of those ids, labelled with their id where two would read alike.
std::vector<GeneratorRun> generator_runs(const SweepData& sweep, const std::vector<std::string>& ids) {
  std::map<std::string, int> runs_per_label;
  for (const auto& id : ids) {
    if (const auto* run = find_run_of(sweep, id)) ++runs_per_label[generator_label(*run, false)];
  }
  std::vector<GeneratorRun> generators;
  for (const auto& id : ids) {
    const auto* run = find_run_of(sweep, id);
    if (run != nullptr) {
      generators.push_back(generator_run(*run, runs_per_label[generator_label(*run, false)] > 1));
      continue;
    }
    GeneratorRun unknown;
    unknown.id = unknown.label = id;
    unknown.in_store = false;
    generators.push_back(unknown);
  }
  return generators;
}

}  // namespace

SweepData load_sweep(results::ResultsStore& store, const results::SweepInfo& sweep, bool with_epochs) {
  SweepData data;
  data.info = sweep;
  for (const auto& info : runs_of_sweep(store, sweep.id)) {
    auto run = run_result_of(info);
    if (with_epochs) run.epochs = epochs_of(store, run.id);
    data.runs.push_back(std::move(run));
  }
  load_finals(store, data.runs);
  for (const auto& run : data.runs) {
    const auto id = generator_run_of(run);
    if (id.empty() || find_run_of(data, id) != nullptr) continue;
    if (const auto info = find_run(store, id)) data.outside_generator_runs.push_back(run_result_of(*info));
  }
  load_finals(store, data.outside_generator_runs);
  return data;
}

std::optional<EarlyEpochs> early_epochs(const json& config, const Metric& metric) {
  if (metric.name.rfind("last10_", 0) != 0) return std::nullopt;
  const auto epochs_found = config.find("epochs");
  if (epochs_found == config.end() || !epochs_found->is_number_integer()) return std::nullopt;
  const int64_t epochs = epochs_found->get<int64_t>();
  const int64_t averaged = std::min<int64_t>(10, epochs);
  if (epochs < 2) return std::nullopt;
  const EarlyEpochs range{epochs - averaged + 1, epochs, 0, false};
  if (config.value("lr_schedule", std::string("step")) == "cosine") {
    return averaged > 1 ? std::optional<EarlyEpochs>(EarlyEpochs{range.first, range.last, 0, true}) : std::nullopt;
  }
  if (config.value("lr_gamma", 0.1) == 1.0) return std::nullopt;
  const int64_t early = config.value("lr_decay_early", false) ? 1 : 0;
  int64_t last_drop = 0;  // 0-based epoch from which the final learning rate applies
  const auto milestones = config.find("lr_milestones");
  if (milestones == config.end() || !milestones->is_array()) return std::nullopt;
  for (const auto& milestone : *milestones) {
    if (!milestone.is_number_integer()) continue;
    const int64_t epoch = milestone.get<int64_t>() - early;
    if (epoch >= 1 && epoch <= epochs - 1) last_drop = std::max(last_drop, epoch);
  }
  if (last_drop == 0 || epochs - averaged >= last_drop) return std::nullopt;
  return EarlyEpochs{range.first, range.last, last_drop + 1, false};
}

Summary summarize(const std::vector<double>& values) {
  Summary summary;
  double sum = 0;
  for (const double v : values) {
    if (std::isnan(v)) continue;
    sum += v;
    ++summary.n;
  }
  if (summary.n == 0) return summary;
  summary.mean = sum / static_cast<double>(summary.n);
  if (summary.n < 2) return summary;
  double squares = 0;
  for (const double v : values) {
    if (!std::isnan(v)) squares += (v - summary.mean) * (v - summary.mean);
  }
  summary.std = std::sqrt(squares / static_cast<double>(summary.n - 1));
  return summary;
}

bool config_matches(const json& config, const std::vector<const json*>& matches) {
  for (const auto* match : matches) {
    for (const auto& item : match->items()) {
      const auto found = config.find(item.key());
      if (item.value().is_null()) {  // null: the run's config has no such key (an optional key at its default)
        if (found != config.end()) return false;
        continue;
      }
      if (found == config.end() || *found != item.value()) return false;
    }
  }
  return true;
}

std::vector<const RunResult*> runs_matching(const SweepData& sweep, const std::vector<const json*>& matches) {
  std::vector<const RunResult*> runs;
  for (const auto& run : sweep.runs) {
    if (config_matches(run.config, matches)) runs.push_back(&run);
  }
  return runs;
}

// The seed, the generator run (derived per seed: train::generator_config), and the keys that say
// only where and how a run executed (train/train_config.h: one list for run identity, checkpoints
// and this).
bool may_differ_within_cell(const std::string& key) {
  return key == "seed" || key == kGeneratorRunKey || train::is_execution_key(key);
}

std::optional<ConfigDifference> config_difference(const std::vector<const RunResult*>& runs) {
  std::set<std::string> keys;
  for (const auto* run : runs) {
    for (const auto& item : run->config.items()) {
      if (!may_differ_within_cell(item.key())) keys.insert(item.key());
    }
  }
  std::optional<ConfigDifference> difference;
  for (const auto& key : keys) {
    std::set<std::string> values;
    for (const auto* run : runs) {
      const auto found = run->config.find(key);
      values.insert(found == run->config.end() ? "(absent)" : value_text(*found));
    }
    if (values.size() < 2) continue;
    if (!difference) difference = ConfigDifference{key, {values.begin(), values.end()}, {}};
    difference->keys.push_back(key);
  }
  return difference;
}

results::StateCounts count_states(const std::vector<const RunResult*>& runs) {
  results::StateCounts counts;
  for (const auto* run : runs) {
    switch (run->state) {
      case results::RunState::pending: ++counts.pending; break;
      case results::RunState::running: ++counts.running; break;
      case results::RunState::done: ++counts.done; break;
      case results::RunState::failed: ++counts.failed; break;
      case results::RunState::interrupted: ++counts.interrupted; break;
    }
  }
  return counts;
}

TableReport aggregate_table(const TableLayout& layout, const SweepData& sweep) {
  TableReport report;
  report.layout = layout;
  report.sweep = sweep.info;
  report.counts = count_all(sweep);
  std::vector<std::string> generator_ids;
  for (const auto& row : layout.rows) {
    std::vector<Cell> cells;
    for (size_t c = 0; c < layout.columns.size(); ++c) {
      const auto& column = layout.columns[c];
      const auto runs = runs_matching(sweep, {&layout.match, &row.match, &column.match});
      cells.push_back(aggregate_cell(runs, *find_metric(column.metric), row.paper[c]));
      note_generator_runs(runs, generator_ids, cells.back());
    }
    report.cells.push_back(std::move(cells));
  }
  mark_best_per_column(report.cells, layout.columns.size());
  compare_with_baselines(layout, report.cells);
  report.generators = generator_runs(sweep, generator_ids);
  return report;
}

FigureReport aggregate_figure(const FigureLayout& layout, const SweepData& sweep) {
  FigureReport report;
  report.id = layout.id;
  report.title = layout.title;
  report.note = layout.note;
  report.metric = find_metric(layout.metric);
  report.sweep = sweep.info;
  report.counts = count_all(sweep);
  for (const auto& series : layout.series) {
    report.curves.push_back(curve_of(series.label, runs_matching(sweep, {&layout.match, &series.match}), *report.metric));
  }
  return report;
}

std::vector<FigureReport> table_curves(const TableLayout& layout, const SweepData& sweep, const Metric& metric) {
  std::vector<std::string> row_groups;  // in order of first appearance
  for (const auto& row : layout.rows) {
    if (std::find(row_groups.begin(), row_groups.end(), row.group) == row_groups.end()) row_groups.push_back(row.group);
  }
  std::vector<FigureReport> charts;
  for (const auto& column : layout.columns) {
    for (const auto& group : row_groups) {
      FigureReport chart;
      std::string title = column.group.empty() ? column.label : column.group + " · " + column.label;
      if (!group.empty()) title = group + " · " + title;
      chart.title = title;
      chart.metric = &metric;
      chart.sweep = sweep.info;
      chart.counts = count_all(sweep);
      for (const auto& row : layout.rows) {
        if (row.group != group) continue;
        const auto runs = runs_matching(sweep, {&layout.match, &row.match, &column.match});
        chart.curves.push_back(curve_of(row.label, runs, metric));
      }
      charts.push_back(std::move(chart));
    }
  }
  return charts;
}

std::vector<RunCurves> run_curves(const SweepData& sweep) {
  std::vector<const RunResult*> all;
  for (const auto& run : sweep.runs) all.push_back(&run);
  std::set<std::string> varying_keys;
  if (const auto difference = config_difference(all)) varying_keys.insert(difference->keys.begin(), difference->keys.end());
  if (all.size() > 1) varying_keys.insert("seed");
  std::vector<RunCurves> curves;
  for (const auto& run : sweep.runs) {
    std::string label;
    for (const auto& key : varying_keys) {
      const auto found = run.config.find(key);
      if (found == run.config.end()) continue;
      label += (label.empty() ? "" : ", ") + key + "=" + value_text(*found);
    }
    curves.push_back({run.id, label.empty() ? run.id : label, run.state, &run.epochs});
  }
  return curves;
}

std::vector<GeneratorSamples> generator_samples(const SweepData& sweep) {
  std::vector<GeneratorSamples> samples;
  for (const auto& run : sweep.runs) {
    const auto task = run.config.find("task");
    if (task == run.config.end() || !task->is_string() || run.run_dir.empty()) continue;
    samples.push_back({generator_run(run, false), run_files::path(run.run_dir, run_files::kSamples)});
  }
  return samples;
}

}  // namespace isda::report
