#pragma once
// From a sweep's runs to what the report shows: table cells (mean and sample standard deviation
// over seeds, the paper's value, the difference) and curves (per-epoch mean and band over seeds).
// Pure functions of the runs read once from the store, so they are tested without a database.

#include "report/layout.h"
#include "report/metrics.h"
#include "report/statistics.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"

#include <nlohmann/json.hpp>

#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace isda::report {

// One run of a sweep as the report sees it.
struct RunResult {
  std::string id;
  nlohmann::json config;  // the resolved config
  results::RunState state = results::RunState::pending;
  std::optional<results::FinalRow> finals;  // present once the run is done
  std::vector<results::EpochRow> epochs;    // empty unless loaded
  std::string run_dir;                      // where its worker writes (may be empty)
};

struct SweepData {
  results::SweepInfo info;
  std::vector<RunResult> runs;  // in registration order
  // The generator runs that runs of the sweep mix images of (their config's `generator_run`) but
  // that are not in the sweep (a generator_run given by hand), as far as the store has them.
  std::vector<RunResult> outside_generator_runs;
};

// Reads a sweep's runs and their final metrics, and their per-epoch metrics when `with_epochs`;
// also the runs outside the sweep that its runs name as their generator_run, without epochs.
// Throws results::StoreError.
SweepData load_sweep(results::ResultsStore& store, const results::SweepInfo& sweep, bool with_epochs);

// Mean and sample standard deviation (divisor n - 1) of the values that are not NaN.
struct Summary {
  int64_t n = 0;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();  // NaN when n < 2
};
Summary summarize(const std::vector<double>& values);

// True when `config` has every key/value of every object in `matches` (numbers compare by value).
bool config_matches(const nlohmann::json& config, const std::vector<const nlohmann::json*>& matches);
std::vector<const RunResult*> runs_matching(const SweepData& sweep, const std::vector<const nlohmann::json*>& matches);

// The config keys that may differ between the runs of one cell: the seed, and what only says where
// a run executes.
bool may_differ_within_cell(const std::string& key);

// Runs of one cell whose configs differ in keys other than those: the first such key (in
// alphabetical order) with its distinct values, and every such key.
struct ConfigDifference {
  std::string key;
  std::vector<std::string> values;  // as JSON text; "(absent)" for a run without the key
  std::vector<std::string> keys;    // every differing key, `key` first
};
std::optional<ConfigDifference> config_difference(const std::vector<const RunResult*>& runs);

results::StateCounts count_states(const std::vector<const RunResult*>& runs);

enum class CellStatus {
  results,     // at least one finished run has the metric
  no_results,  // no finished run with the metric (yet)
  mixed,       // the runs differ in more than the seed: not averaged
};

// A cell against its baseline cell (layout.baseline_of): Δ = cell - baseline.
struct Comparison {
  size_t baseline_row = 0, baseline_column = 0;
  WelchResult ours;            // Welch 95% interval and two-sided p-value of our difference
  double paper_difference = std::numeric_limits<double>::quiet_NaN();  // NaN unless the paper has both
  // Ours is consistent with the paper's difference when the paper's lies inside our 95% interval.
  enum class Agreement { unknown, consistent, inconsistent } agreement = Agreement::unknown;
  // Seeds per cell for 80% power (two-sided, 5%) to detect the paper's difference (ours where the
  // paper has none) with our observed standard deviations.
  SeedsAdvice seeds;
  bool seeds_target_is_paper = false;
};

// A cell whose metric averages the last epochs of its runs (last10_*) over a range that starts
// before the learning rate's last drop (step schedules) or while it still falls (cosine): what the
// table must say in a footnote. Epochs are 1-based.
struct EarlyEpochs {
  int64_t first = 0, last = 0;  // the averaged epochs
  int64_t last_drop = 0;        // the first epoch at the final learning rate (0 for cosine)
  bool cosine = false;
};
// For a run config and a final metric: the averaged range when it starts before the last drop.
std::optional<EarlyEpochs> early_epochs(const nlohmann::json& config, const Metric& metric);

// A generator run (a config with "task", core/gan) and how class-consistent its images are.
struct GeneratorRun {
  std::string id;     // the run id, or the classifier's generator_run as given when the store lacks it
  std::string label;  // e.g. "cgan on cifar10 (seed 0)"; "(seed 0, run ID)" where two listed runs read alike
  bool in_store = true;  // false: the generator_run names no run of the store (a directory, say)
  results::RunState state = results::RunState::pending;
  // The share (0..1) of a fixed set of its images that an independent judge classifier assigns the
  // label they were generated for, and the judge's accuracy (0..1) on the real test images (the
  // first's ceiling): NaN until the run is done, and for runs of versions that did not record them.
  double class_consistency = std::numeric_limits<double>::quiet_NaN();
  double judge_test_accuracy = std::numeric_limits<double>::quiet_NaN();
};

struct Cell {
  CellStatus status = CellStatus::no_results;
  Summary ours;
  results::StateCounts counts;   // of every run in the cell
  int64_t done_without_metric = 0;  // done runs whose value of the metric is NaN
  std::optional<ConfigDifference> difference_in_config;  // set when mixed
  std::optional<PaperValue> paper;
  double difference = std::numeric_limits<double>::quiet_NaN();  // ours.mean - paper.mean
  // |difference| <= 2 sigma, sigma the paper's std, or ours where the paper gives none.
  bool within_two_std = false;
  bool best = false;  // lowest mean of its column among cells with results
  std::optional<Comparison> comparison;  // set when the layout gives this cell a baseline
  std::optional<EarlyEpochs> early;      // from the cell's first done run
  // Indices in TableReport::generators of the generator runs whose images the cell's runs mix in
  // (their generator_run: one per seed, as isda-run derives them), in order of first use; empty
  // without generated images.
  std::vector<size_t> generators;
};

struct TableReport {
  TableLayout layout;
  results::SweepInfo sweep;
  results::StateCounts counts;           // of every run in the sweep
  std::vector<std::vector<Cell>> cells;  // [row][column]
  // The generator runs whose images runs of the table's cells mix in, in the order the cells first
  // name them (row by row); empty for a table without generated images.
  std::vector<GeneratorRun> generators;
};

// The table of `layout` over the sweep's runs.
TableReport aggregate_table(const TableLayout& layout, const SweepData& sweep);

// One curve: per epoch, the mean and sample std of a per-epoch metric over the finished runs.
struct CurvePoint {
  int64_t epoch = 0;
  Summary value;
};
struct Curve {
  std::string label;
  std::vector<CurvePoint> points;  // by epoch
  int64_t runs_used = 0;           // done runs with epochs
  results::StateCounts counts;     // of every run the series matches
  std::optional<ConfigDifference> difference_in_config;  // set (and no points) when mixed
};

struct FigureReport {
  std::string id;  // empty for the curves drawn under a table
  std::string title;
  std::string note;
  const Metric* metric = nullptr;  // per-epoch
  results::SweepInfo sweep;
  results::StateCounts counts;  // of every run in the sweep
  std::vector<Curve> curves;
};

// The figure of `layout` over the sweep's runs (they need their epochs loaded).
FigureReport aggregate_figure(const FigureLayout& layout, const SweepData& sweep);

// Figure 2-style curves for a table: one chart per column (and per row group), one curve per row.
std::vector<FigureReport> table_curves(const TableLayout& layout, const SweepData& sweep, const Metric& metric);

// A run's own training curves, labelled by the config keys that vary within its sweep.
struct RunCurves {
  std::string id;
  std::string label;  // e.g. "method=isda, seed=1"
  results::RunState state = results::RunState::pending;
  const std::vector<results::EpochRow>* epochs = nullptr;  // owned by the SweepData
};
std::vector<RunCurves> run_curves(const SweepData& sweep);

// The generator runs of a sweep and the PNG grid of samples each leaves in its run directory
// (`samples.png`, one row per class), for the HTML report to link beside its class consistency.
struct GeneratorSamples {
  GeneratorRun run;
  std::string png_path;
};
std::vector<GeneratorSamples> generator_samples(const SweepData& sweep);

}  // namespace isda::report
