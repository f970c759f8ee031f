#include "report/layout.h"

#include "example_store.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace isda::report {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

std::string error_of(const json& table) {
  try {
    parse_table_layout(table, "sweep table5");
  } catch (const LayoutError& e) {
    return e.what();
  }
  return "(no error)";
}

json minimal_table() {
  return {{"id", "5"},
          {"columns", {{{"label", "CIFAR-10"}, {"match", {{"dataset", "cifar10"}}}},
                       {{"label", "CIFAR-100"}, {"match", {{"dataset", "cifar100"}}}}}},
          {"rows", {{{"label", "Basic"}, {"match", {{"method", "ce"}}}, {"paper", {{3.82, 0.15}, 18.58}}},
                    {{"label", "ISDA"}, {"match", {{"method", "isda"}}}, {"paper", {nullptr, {17.98, 0.15}}}}}}};
}

TEST(Layout, ParsesTheTableOfASpec) {
  const auto layout = parse_table_layout(testing::table5_layout("T5"), "sweep table5");
  EXPECT_EQ(layout.id, "5");
  EXPECT_EQ(layout.title, "T5");
  EXPECT_EQ(layout.metric, "last10_test_error");
  EXPECT_EQ(layout.match, json({{"holdout", false}}));
  ASSERT_EQ(layout.columns.size(), 2u);
  EXPECT_EQ(layout.columns[1].label, "CIFAR-100");
  EXPECT_EQ(layout.columns[1].metric, "last10_test_error");
  ASSERT_EQ(layout.rows.size(), 4u);
  EXPECT_EQ(layout.rows[1].match, json({{"method", "isda"}, {"covariance", "identity"}}));
  ASSERT_TRUE(layout.rows[0].paper[1].has_value());
  EXPECT_DOUBLE_EQ(layout.rows[0].paper[1]->mean, 18.58);
  EXPECT_DOUBLE_EQ(layout.rows[0].paper[1]->std, 0.10);
}

TEST(Layout, PaperEntriesMayBeABareMeanOrNull) {
  const auto layout = parse_table_layout(minimal_table(), "sweep t");
  EXPECT_DOUBLE_EQ(layout.rows[0].paper[1]->mean, 18.58);
  EXPECT_TRUE(std::isnan(layout.rows[0].paper[1]->std));
  EXPECT_FALSE(layout.rows[1].paper[0].has_value());
}

TEST(Layout, DefaultsTitleAndMetricAndAColumnMayNameItsOwnMetric) {
  auto table = minimal_table();
  table["columns"][1]["metric"] = "best_test_error";
  table["id"] = 5;
  const auto layout = parse_table_layout(table, "sweep t");
  EXPECT_EQ(layout.id, "5");
  EXPECT_EQ(layout.title, "Table 5");
  EXPECT_EQ(layout.columns[0].metric, "last10_test_error");
  EXPECT_EQ(layout.columns[1].metric, "best_test_error");
  EXPECT_TRUE(layout.rows[0].group.empty());
}

TEST(Layout, NamesAPaperArrayOfTheWrongLength) {
  auto table = minimal_table();
  table["rows"].push_back({{"label", "x"}, {"paper", {1, 2, 3}}});
  EXPECT_EQ(error_of(table), "sweep table5: table.rows[2].paper: expected 2 entries (one per column), got 3");
}

TEST(Layout, NamesEveryOtherProblemWithItsPath) {
  auto bad_entry = minimal_table();
  bad_entry["rows"][0]["paper"][0] = {1, 2, 3};
  EXPECT_EQ(error_of(bad_entry), "sweep table5: table.rows[0].paper[0]: expected [mean, std], a bare mean or null, got [1,2,3]");

  auto unknown_key = minimal_table();
  unknown_key["columns"][0]["lable"] = "x";
  EXPECT_THAT(error_of(unknown_key), HasSubstr("sweep table5: table.columns[0].lable: unknown key (known: label, group"));

  auto no_id = minimal_table();
  no_id.erase("id");
  EXPECT_EQ(error_of(no_id), "sweep table5: table: missing \"id\"");

  auto no_rows = minimal_table();
  no_rows["rows"] = json::array();
  EXPECT_EQ(error_of(no_rows), "sweep table5: table.rows: expected a non-empty array, got an array");

  auto no_label = minimal_table();
  no_label["rows"][1].erase("label");
  EXPECT_EQ(error_of(no_label), "sweep table5: table.rows[1]: missing \"label\"");

  auto bad_match = minimal_table();
  bad_match["columns"][1]["match"] = "cifar100";
  EXPECT_EQ(error_of(bad_match), "sweep table5: table.columns[1].match: expected an object of run-config keys, got a string");

  auto unknown_metric = minimal_table();
  unknown_metric["metric"] = "top5_error";
  EXPECT_THAT(error_of(unknown_metric), HasSubstr("sweep table5: table.metric: unknown metric \"top5_error\" (final metrics: "
                                                  "last10_test_error, final_test_error"));

  auto per_epoch_metric = minimal_table();
  per_epoch_metric["metric"] = "test_error";
  EXPECT_THAT(error_of(per_epoch_metric), HasSubstr("table.metric: \"test_error\" is not a final metric"));

  auto negative_std = minimal_table();
  negative_std["rows"][0]["paper"][0] = {3.8, -0.1};
  EXPECT_EQ(error_of(negative_std), "sweep table5: table.rows[0].paper[0]: the standard deviation must not be negative");

  EXPECT_EQ(error_of(json::array()), "sweep table5: table: expected an object, got an array");
}

TEST(Layout, ParsesAndValidatesFigures) {
  const auto figure = parse_figure_layout(testing::figure2_layout(), "sweep figure2");
  EXPECT_EQ(figure.id, "2");
  EXPECT_EQ(figure.metric, "test_error");
  ASSERT_EQ(figure.series.size(), 2u);
  EXPECT_EQ(figure.series[1].label, "WRN-28-10 + ISDA");

  auto final_metric = testing::figure2_layout();
  final_metric["metric"] = "last10_test_error";
  EXPECT_THROW(parse_figure_layout(final_metric, "sweep f"), LayoutError);
  auto no_series_label = testing::figure2_layout();
  no_series_label["series"][0].erase("label");
  try {
    parse_figure_layout(no_series_label, "sweep f");
    FAIL() << "no error";
  } catch (const LayoutError& e) {
    EXPECT_STREQ(e.what(), "sweep f: figure.series[0]: missing \"label\"");
  }
}

TEST(Layout, ReadsBothLayoutsOfAStoredSpecAndItsDeclaredIds) {
  const json spec = {{"name", "x"}, {"table", testing::table5_layout("T")}, {"figure", testing::figure2_layout()}};
  const auto layouts = parse_layouts(spec.dump(), "sweep x");
  EXPECT_TRUE(layouts.table.has_value());
  EXPECT_TRUE(layouts.figure.has_value());
  const auto ids = declared_ids(spec.dump());
  EXPECT_EQ(ids.table, "5");
  EXPECT_EQ(ids.figure, "2");
  EXPECT_EQ(declared_ids("{\"name\": \"q\"}").table, "");
  EXPECT_EQ(declared_ids("not json").table, "");
  EXPECT_FALSE(parse_layouts("{\"name\": \"q\"}", "sweep q").table.has_value());
  EXPECT_THROW(parse_layouts("not json", "sweep q"), LayoutError);
}

TEST(Layout, OrdersIdsAsAReaderExpects) {
  EXPECT_TRUE(id_less("2", "10"));
  EXPECT_FALSE(id_less("10", "2"));
  EXPECT_TRUE(id_less("5", "5a"));
  EXPECT_TRUE(id_less("5a", "5b"));
}

TEST(Layout, ATableBaselineNamesARowPerGroupOrAColumn) {
  auto table = minimal_table();
  table["baseline"] = {{"row", "Basic"}};
  auto layout = parse_table_layout(table, "sweep t");
  EXPECT_EQ(layout.baseline_axis, BaselineAxis::rows);
  ASSERT_EQ(layout.baseline_of.size(), 2u);
  EXPECT_FALSE(layout.baseline_of[0].has_value());  // the baseline itself
  EXPECT_EQ(layout.baseline_of[1], std::optional<size_t>(0));

  // Table 1's shape: methods in columns, grouped by data set; "Basic" of the column's own group.
  json columns = json::array();
  for (const char* group : {"CIFAR-10", "CIFAR-100"}) {
    for (const char* label : {"Basic", "ISDA"}) columns.push_back({{"label", label}, {"group", group}});
  }
  table = {{"id", "1"}, {"columns", columns}, {"rows", {{{"label", "ResNet-32"}}}}, {"baseline", {{"column", "Basic"}}}};
  layout = parse_table_layout(table, "sweep t");
  EXPECT_EQ(layout.baseline_axis, BaselineAxis::columns);
  EXPECT_EQ(layout.baseline_of[1], std::optional<size_t>(0));
  EXPECT_EQ(layout.baseline_of[3], std::optional<size_t>(2));
  // Table 4's shape: the same label in the group "Basic".
  table["baseline"] = {{"column", {{"group", "CIFAR-10"}}}};
  layout = parse_table_layout(table, "sweep t");
  EXPECT_FALSE(layout.baseline_of[0].has_value());
  EXPECT_EQ(layout.baseline_of[2], std::optional<size_t>(0));
  EXPECT_EQ(layout.baseline_of[3], std::optional<size_t>(1));
}

TEST(Layout, ARowOrColumnMayNameItsOwnBaseline) {
  json table = {{"id", "2"},
                {"columns", {{{"label", "Cutout"}}, {{"label", "Cutout + ISDA"}, {"baseline", "Cutout"}},
                             {{"label", "AA"}}, {{"label", "AA + ISDA"}, {"baseline", "AA"}}}},
                {"rows", {{{"label", "WRN"}}}}};
  const auto layout = parse_table_layout(table, "sweep t");
  EXPECT_EQ(layout.baseline_axis, BaselineAxis::columns);
  EXPECT_FALSE(layout.baseline_of[0].has_value());
  EXPECT_EQ(layout.baseline_of[1], std::optional<size_t>(0));
  EXPECT_FALSE(layout.baseline_of[2].has_value());
  EXPECT_EQ(layout.baseline_of[3], std::optional<size_t>(2));
}

TEST(Layout, BadBaselinesAreOneLineNamingThePath) {
  auto table = minimal_table();
  table["baseline"] = {{"row", "Plain"}};
  EXPECT_EQ(error_of(table), "sweep table5: table.baseline: no row \"Plain\" (the baseline of rows[0] \"Basic\")");
  table["baseline"] = {{"row", "Basic"}, {"column", "CIFAR-10"}};
  EXPECT_EQ(error_of(table), "sweep table5: table.baseline: expected exactly one of \"row\" or \"column\"");
  table["baseline"] = {{"rows", "Basic"}};
  EXPECT_THAT(error_of(table), HasSubstr("table.baseline.rows: unknown key (known: row, column)"));
  table["baseline"] = {{"row", 3}};
  EXPECT_EQ(error_of(table), "sweep table5: table.baseline.row: expected a label or {\"group\": ..., \"label\": ...}, got 3");
  table.erase("baseline");
  table["rows"][1]["baseline"] = "Basic";
  table["columns"][1]["baseline"] = "CIFAR-10";
  EXPECT_EQ(error_of(table), "sweep table5: table.baseline: a table compares either rows or columns with a baseline, not both");
  table["columns"][1].erase("baseline");
  table["rows"][0]["label"] = "ISDA";  // two rows now share the label
  table["rows"][1]["baseline"] = "ISDA";
  EXPECT_EQ(error_of(table), "sweep table5: table.rows[1].baseline: 2 rows are \"ISDA\": the baseline is ambiguous");
}

TEST(Layout, EveryShippedSpecHasAValidLayoutAndTheTablesHaveABaseline) {
  size_t tables = 0;
  for (const auto& entry : std::filesystem::directory_iterator(ISDA_EXPERIMENTS_DIR)) {
    if (entry.path().extension() != ".json") continue;
    std::ifstream in(entry.path());
    std::stringstream text;
    text << in.rdbuf();
    const auto layouts = parse_layouts(text.str(), entry.path().filename().string());  // throws on a bad one
    if (!layouts.table) continue;
    ++tables;
    EXPECT_NE(layouts.table->baseline_axis, BaselineAxis::none) << entry.path();
  }
  EXPECT_GE(tables, 7u);
}

}  // namespace
}  // namespace isda::report
