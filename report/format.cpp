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
