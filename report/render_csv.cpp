// The CSV renderers: one line per table cell, or per figure series and epoch (RFC 4180 quoting).
#include "report/format.h"
#include "report/render.h"

#include <fmt/format.h>

#include <cmath>
#include <sstream>

namespace isda::report {
namespace {

std::string csv_field(const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (const char c : text) {
    if (c == '"') quoted += '"';
    quoted += c;
  }
  return quoted + "\"";
}

std::string csv_number(double value) { return std::isnan(value) ? "" : fmt::format("{:.4f}", value); }

std::string csv_line(const std::vector<std::string>& fields) {
  std::string line;
  for (size_t i = 0; i < fields.size(); ++i) line += (i == 0 ? "" : ",") + csv_field(fields[i]);
  return line + "\n";
}

const char* status_name(CellStatus status) {
  switch (status) {
    case CellStatus::results: return "results";
    case CellStatus::no_results: return "no_results";
    case CellStatus::mixed: return "mixed";
  }
  return "";
}

// The fields after `detail`: the comparison with the baseline, the averaged epochs, and the
// generator runs whose images the cell's runs mix in (space-separated ids, one per seed) with the
// mean of their class consistencies and of their judges' accuracies (empty when one of them has
// not recorded it, or is not done).
std::vector<std::string> fields_after_detail(const TableReport& table, const Cell& cell) {
  std::vector<std::string> fields(14);
  if (cell.comparison) {
    const auto& comparison = *cell.comparison;
    const auto& welch = comparison.ours;
    fields[0] = cell_name(table.layout, comparison.baseline_row, comparison.baseline_column);
    fields[1] = csv_number(welch.difference);
    fields[2] = csv_number(welch.low);
    fields[3] = csv_number(welch.high);
    fields[4] = csv_number(welch.df);
    fields[5] = std::isnan(welch.p_value) ? "" : fmt::format("{:.6f}", welch.p_value);
    fields[6] = csv_number(comparison.paper_difference);
    if (comparison.agreement != Comparison::Agreement::unknown) {
      fields[7] = comparison.agreement == Comparison::Agreement::consistent ? "1" : "0";
    }
    fields[8] = seeds_advice_text(comparison);
  }
  if (cell.early && cell.status == CellStatus::results) {
    fields[9] = fmt::format("{}-{}", cell.early->first, cell.early->last);
    fields[10] = cell.early->cosine ? "cosine" : std::to_string(cell.early->last_drop);
  }
  if (!cell.generators.empty()) {
    // One generator run per seed: their ids, and the means of their figures (empty when one lacks them).
    double consistency = 0, judge = 0;
    for (const size_t index : cell.generators) {
      const auto& generator = table.generators[index];
      fields[11] += (fields[11].empty() ? "" : " ") + generator.id;
      consistency += generator.class_consistency;
      judge += generator.judge_test_accuracy;
    }
    const auto n = static_cast<double>(cell.generators.size());
    fields[12] = csv_number(consistency / n);
    fields[13] = csv_number(judge / n);
  }
  return fields;
}

}  // namespace

std::string render_tables_csv(const std::vector<TableReport>& tables) {
  std::ostringstream out;
  out << csv_line({"table", "sweep_id", "sweep", "row_group", "row", "column_group", "column", "metric", "status",
                   "mean", "sample_std", "n", "runs", "done", "running", "pending", "interrupted", "failed",
                   "paper_mean", "paper_std", "difference", "within_2_std", "best", "detail", "baseline", "baseline_difference",
                   "ci95_low", "ci95_high", "welch_df", "p_value", "paper_baseline_difference", "consistent_with_paper",
                   "seeds_for_80_power", "averaged_epochs", "last_lr_drop_epoch", "generator_run",
                   "class_consistency", "judge_test_accuracy"});
  for (const auto& table : tables) {
    const auto& layout = table.layout;
    for (size_t r = 0; r < layout.rows.size(); ++r) {
      for (size_t c = 0; c < layout.columns.size(); ++c) {
        const auto& cell = table.cells[r][c];
        const bool comparable = !std::isnan(cell.difference);
        std::vector<std::string> fields = {layout.id, std::to_string(table.sweep.id), table.sweep.name, layout.rows[r].group,
                         layout.rows[r].label, layout.columns[c].group, layout.columns[c].label,
                         layout.columns[c].metric, status_name(cell.status), csv_number(cell.ours.mean),
                         csv_number(cell.ours.std), std::to_string(cell.ours.n), std::to_string(cell.counts.total()),
                         std::to_string(cell.counts.done), std::to_string(cell.counts.running),
                         std::to_string(cell.counts.pending), std::to_string(cell.counts.interrupted),
                         std::to_string(cell.counts.failed), csv_number(cell.paper ? cell.paper->mean : NAN),
                         csv_number(cell.paper ? cell.paper->std : NAN), csv_number(cell.difference),
                         comparable ? (cell.within_two_std ? "1" : "0") : "", cell.best ? "1" : "0",
                         cell.status == CellStatus::results ? "" : ours_text(cell, kPlainNotation)};
        const auto more = fields_after_detail(table, cell);
        fields.insert(fields.end(), more.begin(), more.end());
        out << csv_line(fields);
      }
    }
  }
  return out.str();
}

std::string render_figures_csv(const std::vector<FigureReport>& figures) {
  std::ostringstream out;
  out << csv_line({"figure", "sweep_id", "sweep", "series", "metric", "epoch", "mean", "sample_std", "n"});
  for (const auto& figure : figures) {
    for (const auto& curve : figure.curves) {
      for (const auto& point : curve.points) {
        out << csv_line({figure.id, std::to_string(figure.sweep.id), figure.sweep.name, curve.label,
                         std::string(figure.metric->name), std::to_string(point.epoch), csv_number(point.value.mean),
                         csv_number(point.value.std), std::to_string(point.value.n)});
      }
    }
  }
  return out.str();
}

}  // namespace isda::report
