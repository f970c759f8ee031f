#pragma once
// Texts every renderer shares: numbers, cell contents, the sweep line, the legend. A Notation says
// how a format writes the few symbols and escapes free text, so the wording is written once.

#include "report/aggregate.h"

#include <optional>
#include <string>
#include <vector>

namespace isda::report {

struct Notation {
  const char* plus_minus;  // between a mean and its standard deviation
  const char* check;       // the within-two-std mark
  const char* delta;       // the difference's header
  const char* le;          // "less or equal" in the legend
  const char* sigma;
  std::string (*escape)(const std::string&);  // for labels, keys and values taken from the store
  const char* cross = "✗";  // the paper's difference lies outside our interval
};

std::string no_escape(const std::string& text);
extern const Notation kPlainNotation;  // UTF-8 symbols, text as is (terminal, Markdown, HTML after escaping)

// Two decimals, as the paper prints; "" for NaN.
std::string format_number(double value);
// "+0.08" or "-0.12".
std::string format_signed(double value);
// "3.58 ± 0.15", or "3.58" without a standard deviation.
std::string format_mean_std(double mean, double std, const Notation& notation);
// The paper's value, or "" where it has none.
std::string format_paper(const std::optional<PaperValue>& paper, const Notation& notation);

// A cell's main text: the mean ± std, or why there is none ("no results (2 running, 1 pending)",
// "no runs", "mixed: runs differ in lr").
std::string ours_text(const Cell& cell, const Notation& notation);
// The seeds behind the cell: "3", or "2/3" when some of its runs have no result.
std::string seeds_text(const Cell& cell);
// "+0.08 ✓", "+0.08", or "" when there is nothing to compare.
std::string difference_text(const Cell& cell, const Notation& notation);

// "20 done, 2 running, 2 pending" (states with no run left out; "no runs" when empty).
std::string counts_text(const results::StateCounts& counts);
// "sweep table5:smoke (id 2), 24 runs: 20 done, 2 running, 2 pending".
std::string sweep_line(const results::SweepInfo& sweep, const results::StateCounts& counts, const Notation& notation);
// "CIFAR-100 / WRN-28-10 / Cutout": a cell's row and column with their groups.
std::string cell_name(const TableLayout& layout, size_t row, size_t column);

// What the columns mean, the std convention, the mark and the bold; `best_marking` says how the
// format shows the best value ("in bold", "marked *").
std::vector<std::string> legend_lines(const TableReport& report, const Notation& notation,
                                      const std::string& best_marking);
// One line per cell that could not be averaged.
std::vector<std::string> problem_lines(const TableReport& report, const Notation& notation);

// The comparisons with the baseline as a grid of their own: the compared rows (baseline axis rows)
// or columns (axis columns) only, labelled "ISDA − Basic"; `rows`/`columns` index the report's.
struct ComparisonGrid {
  TableLayout layout;
  std::vector<size_t> rows, columns;
};
bool has_comparisons(const TableReport& report);
ComparisonGrid comparison_grid(const TableReport& report);
// "-0.30 [-0.55, -0.05]"; "-0.30 (n=1)" without an interval for a single seed; "+0.00 (no spread)"
// when neither cell varies; "" when a side has no result.
std::string comparison_interval_text(const Comparison& comparison);
// "0.031", "<0.001", or "" without a test.
std::string p_value_text(const WelchResult& welch);
// The paper's difference with ✓ (inside our interval) or ✗ (outside); "" where the paper has none.
std::string paper_difference_text(const Comparison& comparison, const Notation& notation);
// Seeds per cell for 80% power: "7", ">1000", "2" (no spread), "n<2" (spread unknown), "".
std::string seeds_advice_text(const Comparison& comparison);
// What the comparison grid's columns mean.
std::vector<std::string> comparison_legend_lines(const Notation& notation);
// A footnote for every cell whose metric averages epochs from before the last learning-rate drop.
std::vector<std::string> epoch_range_lines(const TableReport& report, const Notation& notation);

// A generator run's class consistency with its judge's test accuracy in brackets, three decimals:
// "0.625 [0.813]"; "not recorded" for a done run without them (a run of an older version), "not
// yet (running)" before it is done, "none (failed)", "not a run of this store" for a generator_run
// the store lacks.
std::string consistency_text(const GeneratorRun& run);
// What consistency_text's numbers mean, introducing a list of them.
std::string consistency_heading(const Notation& notation);
// One entry per generator run whose images the table's cells use (TableReport::generators):
// "cgan on cifar10 (seed 0): 0.625 [0.813]"; empty for a table without generated images.
std::vector<std::string> consistency_lines(const TableReport& report, const Notation& notation);

// The epochs a compact figure summary shows: at most `count`, evenly spread, first and last included.
std::vector<int64_t> summary_epochs(const FigureReport& figure, size_t count);
// The curve's point at that epoch, or nullptr.
const CurvePoint* point_at(const Curve& curve, int64_t epoch);
// "mean ± sample standard deviation (n-1) over the seeds of the done runs, per epoch" and friends.
std::vector<std::string> figure_legend_lines(const FigureReport& figure, const Notation& notation);
// Why a curve is empty or which runs it leaves out, or "" when it averages all its runs.
std::string curve_status(const Curve& curve, const Notation& notation);

}  // namespace isda::report
