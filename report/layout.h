#pragma once
// The layouts of the paper's tables and figures, read from the `table` and `figure` objects of a
// sweep's spec (format: experiments/README.md) and validated, so a renderer never meets a bad one.

#include <nlohmann/json.hpp>

#include <limits>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace isda::report {

// A layout that does not follow experiments/README.md. what() is one line naming the sweep and the
// JSON path, e.g. "sweep table5: table.rows[2].paper: expected 2 entries (one per column), got 3".
class LayoutError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A number the paper reports; `std` is NaN where the paper gives only a mean.
struct PaperValue {
  double mean = std::numeric_limits<double>::quiet_NaN();
  double std = std::numeric_limits<double>::quiet_NaN();
};

// Which cell a cell is compared with (Δ = cell - baseline, Welch): the baseline row of its column, or
// the baseline column of its row. Declared by the table's `baseline` ({"row": REF} or {"column": REF})
// and overridden by a row's or column's own `baseline` (REF); REF is a label (in the item's group) or
// {"group": G, "label": L} (a missing one is the item's own). experiments/README.md.
enum class BaselineAxis { none, rows, columns };

struct TableColumn {
  std::string label;
  std::string group;   // spanning header over consecutive columns with the same group; may be empty
  std::string metric;  // a final metric (the table's unless the column names its own)
  nlohmann::json match = nlohmann::json::object();
};

struct TableRow {
  std::string label;
  std::string group;  // spanning label over consecutive rows with the same group; may be empty
  nlohmann::json match = nlohmann::json::object();
  std::vector<std::optional<PaperValue>> paper;  // one per column; nullopt where the paper has none
};

struct TableLayout {
  std::string id;
  std::string title;
  std::string note;  // may be empty
  std::string metric;
  nlohmann::json match = nlohmann::json::object();
  std::vector<TableColumn> columns;
  std::vector<TableRow> rows;
  BaselineAxis baseline_axis = BaselineAxis::none;
  // Per row (axis rows) or column (axis columns): the index of its baseline; nullopt for a baseline
  // itself. Empty when the axis is none.
  std::vector<std::optional<size_t>> baseline_of;
};

struct FigureSeries {
  std::string label;
  nlohmann::json match = nlohmann::json::object();
};

struct FigureLayout {
  std::string id;
  std::string title;
  std::string note;
  std::string metric;  // a per-epoch metric
  nlohmann::json match = nlohmann::json::object();
  std::vector<FigureSeries> series;
};

struct SpecLayouts {
  std::optional<TableLayout> table;
  std::optional<FigureLayout> figure;
};

// Parses and validates the layouts in a spec's JSON text. `context` (e.g. "sweep table5") starts
// every message. Throws LayoutError.
SpecLayouts parse_layouts(const std::string& spec_json, const std::string& context);
TableLayout parse_table_layout(const nlohmann::json& table, const std::string& context);
FigureLayout parse_figure_layout(const nlohmann::json& figure, const std::string& context);

// The ids a spec declares ("" when it has no such layout or the id is not a string or integer),
// without validating the rest: enough to find the sweep that `--table 5` asks for.
struct DeclaredIds {
  std::string table;
  std::string figure;
};
DeclaredIds declared_ids(const std::string& spec_json);

// Orders ids as a reader expects: "2" before "10", numbers before other text.
bool id_less(const std::string& a, const std::string& b);

}  // namespace isda::report
