#include "report/layout.h"

#include "report/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>

namespace isda::report {
namespace {

using nlohmann::json;

// Where in a spec a value sits, for messages: "sweep table5: table.rows[2].paper".
class Where {
 public:
  Where(std::string context, std::string path) : context_(std::move(context)), path_(std::move(path)) {}
  Where key(const std::string& name) const { return {context_, path_ + "." + name}; }
  Where index(size_t i) const { return {context_, fmt::format("{}[{}]", path_, i)}; }
  [[noreturn]] void fail(const std::string& problem) const {
    throw LayoutError(fmt::format("{}: {}: {}", context_, path_, problem));
  }

 private:
  std::string context_;
  std::string path_;
};

const char* type_name(const json& value) {
  if (value.is_null()) return "null";
  if (value.is_boolean()) return "a boolean";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  return "an object";
}

void check_keys(const json& object, const Where& where, std::initializer_list<const char*> known) {
  if (!object.is_object()) where.fail(fmt::format("expected an object, got {}", type_name(object)));
  for (const auto& item : object.items()) {
    const bool is_known = std::any_of(known.begin(), known.end(), [&](const char* k) { return item.key() == k; });
    if (!is_known) where.key(item.key()).fail(fmt::format("unknown key (known: {})", fmt::join(known, ", ")));
  }
}

std::string optional_string(const json& object, const char* key, const Where& where) {
  const auto found = object.find(key);
  if (found == object.end()) return "";
  if (!found->is_string()) where.key(key).fail(fmt::format("expected a string, got {}", type_name(*found)));
  return found->get<std::string>();
}

std::string required_label(const json& object, const Where& where) {
  if (!object.contains("label")) where.fail("missing \"label\"");
  auto label = optional_string(object, "label", where);
  if (label.empty()) where.key("label").fail("must not be empty");
  return label;
}

std::string id_of(const json& object, const Where& where) {
  const auto found = object.find("id");
  if (found == object.end()) where.fail("missing \"id\"");
  if (found->is_string() && !found->get<std::string>().empty()) return found->get<std::string>();
  if (found->is_number_integer()) return std::to_string(found->get<int64_t>());
  where.key("id").fail(fmt::format("expected a non-empty string such as \"5\", got {}", type_name(*found)));
}

json match_of(const json& object, const Where& where) {
  const auto found = object.find("match");
  if (found == object.end()) return json::object();
  if (!found->is_object()) {
    where.key("match").fail(fmt::format("expected an object of run-config keys, got {}", type_name(*found)));
  }
  return *found;
}

std::string metric_of(const json& object, const Where& where, MetricKind kind, const std::string& fallback) {
  const auto name = optional_string(object, "metric", where);
  if (name.empty()) return fallback;
  const auto* metric = find_metric(name);
  const char* wanted = kind == MetricKind::final_value ? "final" : "per-epoch";
  if (metric == nullptr) {
    where.key("metric").fail(fmt::format("unknown metric \"{}\" ({} metrics: {})", name, wanted, metric_names(kind)));
  }
  if (metric->kind != kind) {
    where.key("metric").fail(fmt::format("\"{}\" is not a {} metric (those are: {})", name, wanted, metric_names(kind)));
  }
  return name;
}

const json& non_empty_array(const json& object, const char* key, const Where& where) {
  const auto found = object.find(key);
  if (found == object.end()) where.fail(fmt::format("missing \"{}\"", key));
  if (!found->is_array() || found->empty()) {
    where.key(key).fail(fmt::format("expected a non-empty array, got {}", type_name(*found)));
  }
  return *found;
}

// One entry of rows[].paper: [mean, std], a bare mean, or null.
std::optional<PaperValue> paper_value_of(const json& entry, const Where& where) {
  if (entry.is_null()) return std::nullopt;
  if (entry.is_number()) return PaperValue{entry.get<double>()};
  if (entry.is_array() && entry.size() == 2 && entry[0].is_number() && entry[1].is_number()) {
    if (entry[1].get<double>() < 0) where.fail("the standard deviation must not be negative");
    return PaperValue{entry[0].get<double>(), entry[1].get<double>()};
  }
  where.fail(fmt::format("expected [mean, std], a bare mean or null, got {}", entry.dump()));
}

TableColumn column_of(const json& source, const Where& where, const std::string& table_metric) {
  check_keys(source, where, {"label", "group", "metric", "match", "baseline"});
  TableColumn column;
  column.label = required_label(source, where);
  column.group = optional_string(source, "group", where);
  column.metric = metric_of(source, where, MetricKind::final_value, table_metric);
  column.match = match_of(source, where);
  return column;
}

TableRow row_of(const json& source, const Where& where, size_t columns) {
  check_keys(source, where, {"label", "group", "match", "paper", "baseline"});
  TableRow row;
  row.label = required_label(source, where);
  row.group = optional_string(source, "group", where);
  row.match = match_of(source, where);
  row.paper.assign(columns, std::nullopt);
  const auto paper = source.find("paper");
  if (paper == source.end()) return row;
  const auto at = where.key("paper");
  if (!paper->is_array()) at.fail(fmt::format("expected an array (one entry per column), got {}", type_name(*paper)));
  if (paper->size() != columns) {
    at.fail(fmt::format("expected {} entries (one per column), got {}", columns, paper->size()));
  }
  for (size_t i = 0; i < columns; ++i) row.paper[i] = paper_value_of((*paper)[i], at.index(i));
  return row;
}

// A reference to a baseline row or column: a label (in the item's own group), or an object with
// "group" and/or "label" (a missing one is the item's own).
struct BaselineReference {
  std::optional<std::string> group;
  std::optional<std::string> label;
};

BaselineReference reference_of(const json& value, const Where& where) {
  if (value.is_string() && !value.get<std::string>().empty()) return {std::nullopt, value.get<std::string>()};
  if (value.is_object()) {
    check_keys(value, where, {"group", "label"});
    if (value.empty()) where.fail("expected \"group\" and/or \"label\"");
    BaselineReference reference;
    if (value.contains("group")) reference.group = optional_string(value, "group", where);
    if (value.contains("label")) reference.label = optional_string(value, "label", where);
    return reference;
  }
  where.fail(fmt::format("expected a label or {{\"group\": ..., \"label\": ...}}, got {}", value.dump()));
}

// Resolves each item's baseline reference (its own, else the table's) to an index.
template <typename Item>
std::vector<std::optional<size_t>> resolve_baselines(const std::vector<Item>& items, const json& source,
                                                     const char* key, const std::optional<BaselineReference>& shared,
                                                     const Where& table_where) {
  std::vector<std::optional<size_t>> resolved(items.size());
  for (size_t i = 0; i < items.size(); ++i) {
    const auto at = table_where.key(key).index(i);
    const auto own = source[i].find("baseline");
    const bool has_own = own != source[i].end();
    if (!has_own && !shared) continue;  // neither compared nor named as anyone's baseline by itself
    const auto where = has_own ? at.key("baseline") : table_where.key("baseline");
    const auto reference = has_own ? reference_of(*own, where) : *shared;
    const auto group = reference.group.value_or(items[i].group);
    const auto label = reference.label.value_or(items[i].label);
    std::vector<size_t> found;
    for (size_t j = 0; j < items.size(); ++j) {
      if (items[j].group == group && items[j].label == label) found.push_back(j);
    }
    const auto name = group.empty() ? fmt::format("\"{}\"", label) : fmt::format("\"{}\" in group \"{}\"", label, group);
    if (found.empty()) where.fail(fmt::format("no {} {} (the baseline of {}[{}] \"{}\")", key == std::string("rows") ? "row" : "column", name, key, i, items[i].label));
    if (found.size() > 1) where.fail(fmt::format("{} {}s are {}: the baseline is ambiguous", found.size(), key == std::string("rows") ? "row" : "column", name));
    if (found.front() != i) resolved[i] = found.front();
  }
  return resolved;
}

void parse_baselines(const json& table, const Where& where, TableLayout& layout) {
  std::optional<BaselineReference> shared;
  const auto found = table.find("baseline");
  if (found != table.end()) {
    const auto at = where.key("baseline");
    check_keys(*found, at, {"row", "column"});
    if (found->size() != 1) at.fail("expected exactly one of \"row\" or \"column\"");
    layout.baseline_axis = found->contains("row") ? BaselineAxis::rows : BaselineAxis::columns;
    shared = reference_of(found->begin().value(), at.key(found->begin().key()));
  }
  const auto declares_own = [](const json& items) {
    return std::any_of(items.begin(), items.end(), [](const json& item) { return item.contains("baseline"); });
  };
  const bool rows_own = declares_own(table["rows"]);
  const bool columns_own = declares_own(table["columns"]);
  if ((rows_own && columns_own) || (rows_own && layout.baseline_axis == BaselineAxis::columns) ||
      (columns_own && layout.baseline_axis == BaselineAxis::rows)) {
    where.key("baseline").fail("a table compares either rows or columns with a baseline, not both");
  }
  if (layout.baseline_axis == BaselineAxis::none) {
    if (!rows_own && !columns_own) return;
    layout.baseline_axis = rows_own ? BaselineAxis::rows : BaselineAxis::columns;
  }
  layout.baseline_of = layout.baseline_axis == BaselineAxis::rows
                           ? resolve_baselines(layout.rows, table["rows"], "rows", shared, where)
                           : resolve_baselines(layout.columns, table["columns"], "columns", shared, where);
}

}  // namespace

TableLayout parse_table_layout(const json& table, const std::string& context) {
  const Where where(context, "table");
  check_keys(table, where, {"id", "title", "note", "metric", "match", "columns", "rows", "baseline"});
  TableLayout layout;
  layout.id = id_of(table, where);
  layout.title = optional_string(table, "title", where);
  if (layout.title.empty()) layout.title = "Table " + layout.id;
  layout.note = optional_string(table, "note", where);
  layout.metric = metric_of(table, where, MetricKind::final_value, kDefaultTableMetric);
  layout.match = match_of(table, where);
  const auto& columns = non_empty_array(table, "columns", where);
  for (size_t i = 0; i < columns.size(); ++i) {
    layout.columns.push_back(column_of(columns[i], where.key("columns").index(i), layout.metric));
  }
  const auto& rows = non_empty_array(table, "rows", where);
  for (size_t i = 0; i < rows.size(); ++i) {
    layout.rows.push_back(row_of(rows[i], where.key("rows").index(i), layout.columns.size()));
  }
  parse_baselines(table, where, layout);
  return layout;
}

FigureLayout parse_figure_layout(const json& figure, const std::string& context) {
  const Where where(context, "figure");
  check_keys(figure, where, {"id", "title", "note", "metric", "match", "series"});
  FigureLayout layout;
  layout.id = id_of(figure, where);
  layout.title = optional_string(figure, "title", where);
  if (layout.title.empty()) layout.title = "Figure " + layout.id;
  layout.note = optional_string(figure, "note", where);
  layout.metric = metric_of(figure, where, MetricKind::per_epoch, kDefaultFigureMetric);
  layout.match = match_of(figure, where);
  const auto& series = non_empty_array(figure, "series", where);
  for (size_t i = 0; i < series.size(); ++i) {
    const auto at = where.key("series").index(i);
    check_keys(series[i], at, {"label", "match"});
    layout.series.push_back({required_label(series[i], at), match_of(series[i], at)});
  }
  return layout;
}

SpecLayouts parse_layouts(const std::string& spec_json, const std::string& context) {
  json spec;
  try {
    spec = json::parse(spec_json);
  } catch (const json::exception& e) {
    throw LayoutError(fmt::format("{}: the stored spec is not JSON ({})", context, e.what()));
  }
  if (!spec.is_object()) throw LayoutError(context + ": the stored spec is not a JSON object");
  SpecLayouts layouts;
  if (spec.contains("table")) layouts.table = parse_table_layout(spec["table"], context);
  if (spec.contains("figure")) layouts.figure = parse_figure_layout(spec["figure"], context);
  return layouts;
}

DeclaredIds declared_ids(const std::string& spec_json) {
  const auto spec = json::parse(spec_json, nullptr, /*allow_exceptions=*/false);
  const auto id_in = [&spec](const char* key) -> std::string {
    if (!spec.is_object() || !spec.contains(key) || !spec[key].is_object()) return "";
    const auto id = spec[key].find("id");
    if (id == spec[key].end()) return "";
    if (id->is_string()) return id->get<std::string>();
    if (id->is_number_integer()) return std::to_string(id->get<int64_t>());
    return "";
  };
  return {id_in("table"), id_in("figure")};
}

bool id_less(const std::string& a, const std::string& b) {
  const auto is_number = [](const std::string& s) {
    return !s.empty() && s.size() < 10 && std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isdigit(c); });
  };
  const bool a_number = is_number(a);
  const bool b_number = is_number(b);
  if (a_number && b_number) return std::stoi(a) < std::stoi(b);
  if (a_number != b_number) return a_number;
  return a < b;
}

}  // namespace isda::report
