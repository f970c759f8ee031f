#include "report/aggregate.h"
#include "report/format.h"
#include "report/render.h"

#include "example_store.h"

#include <gtest/gtest.h>

#include <cmath>

namespace isda::report {
namespace {

using nlohmann::json;
using results::RunState;

RunResult run(json config, RunState state, double last10 = NAN, std::vector<double> test_errors = {}) {
  RunResult result;
  result.id = testing::StoreBuilder::id_of(config);
  result.config = std::move(config);
  result.state = state;
  if (state == RunState::done) {
    results::FinalRow finals;
    finals.run_id = result.id;
    finals.last10_test_error = last10;
    finals.final_test_error = last10 + 0.1;
    finals.best_test_error = last10 - 0.2;
    finals.last10_validation_error = NAN;
    result.finals = finals;
  }
  for (size_t i = 0; i < test_errors.size(); ++i) {
    results::EpochRow epoch;
    epoch.epoch = static_cast<int64_t>(i + 1);
    epoch.test_error = test_errors[i];
    epoch.validation_error = NAN;
    result.epochs.push_back(epoch);
  }
  return result;
}

// The example Table 5 sweep, in memory.
SweepData table5_sweep() {
  SweepData sweep;
  sweep.info.id = 3;
  sweep.info.name = "table5:smoke";
  for (const auto& fake : testing::table5_runs()) {
    sweep.runs.push_back(run(fake.config, fake.state, fake.last10_test_error, fake.test_errors));
  }
  return sweep;
}

TableLayout table5_layout() { return parse_table_layout(testing::table5_layout("T5"), "sweep t"); }

TEST(Aggregate, SummarizesWithTheSampleStandardDeviation) {
  const auto summary = summarize({1, 2, 3, 4});
  EXPECT_EQ(summary.n, 4);
  EXPECT_DOUBLE_EQ(summary.mean, 2.5);
  EXPECT_NEAR(summary.std, std::sqrt(5.0 / 3.0), 1e-12);  // divisor n - 1 = 3, not n = 4
  const auto one = summarize({7, NAN});
  EXPECT_EQ(one.n, 1);
  EXPECT_DOUBLE_EQ(one.mean, 7);
  EXPECT_TRUE(std::isnan(one.std));
  EXPECT_EQ(summarize({}).n, 0);
  EXPECT_TRUE(std::isnan(summarize({}).mean));
}

TEST(Aggregate, MatchesEveryKeyOfEveryMatchNumbersByValue) {
  const json config = {{"dataset", "cifar10"}, {"lambda0", 0.5}, {"epochs", 160}, {"holdout", false}};
  const json by_value = {{"epochs", 160.0}};
  const json dataset = {{"dataset", "cifar10"}};
  const json other = {{"dataset", "cifar100"}};
  const json missing = {{"dropout", 0.3}};
  const json holdout = {{"holdout", false}};
  EXPECT_TRUE(config_matches(config, {&by_value, &dataset, &holdout}));
  EXPECT_FALSE(config_matches(config, {&dataset, &other}));
  EXPECT_FALSE(config_matches(config, {&missing}));
  EXPECT_TRUE(config_matches(config, {}));
}

// null in a match: the key is absent (Table 3's Basic row: runs without generated images).
TEST(Aggregate, ANullMatchesOnlyAnAbsentKey) {
  const json plain = {{"method", "ce"}}, with_gan = {{"method", "ce"}, {"gan", "cgan"}};
  const json no_gan = {{"gan", nullptr}}, cgan = {{"gan", "cgan"}};
  EXPECT_TRUE(config_matches(plain, {&no_gan}));
  EXPECT_FALSE(config_matches(with_gan, {&no_gan}));
  EXPECT_TRUE(config_matches(with_gan, {&cgan}));
  EXPECT_FALSE(config_matches(plain, {&cgan}));
}

// A done generator run whose done record had these shares (NaN: not recorded).
RunResult generator(json config, double class_consistency, double judge_test_accuracy) {
  auto result = run(std::move(config), RunState::done);
  result.finals->class_consistency = class_consistency;
  result.finals->judge_test_accuracy = judge_test_accuracy;
  return result;
}

TEST(Aggregate, ListsGeneratorRunsWithTheirSampleGridsAndClassConsistency) {
  SweepData sweep;
  sweep.runs.push_back(generator({{"task", "acgan"}, {"dataset", "cifar10"}, {"seed", 0}}, 0.64, 0.81));
  sweep.runs.back().run_dir = "results/runs/g1";
  sweep.runs.push_back(generator({{"task", "cgan"}, {"dataset", "cifar10"}, {"seed", 0}}, NAN, NAN));
  sweep.runs.back().run_dir = "results/runs/g2";
  sweep.runs.push_back(run({{"task", "infogan"}, {"dataset", "cifar10"}}, RunState::running));
  sweep.runs.back().run_dir = "results/runs/g3";
  sweep.runs.push_back(run({{"method", "ce"}, {"gan", "acgan"}}, RunState::done, 5.0));
  sweep.runs.back().run_dir = "results/runs/c1";
  const auto samples = generator_samples(sweep);
  ASSERT_EQ(samples.size(), 3u);
  EXPECT_EQ(samples[0].run.label, "acgan on cifar10 (seed 0)");
  EXPECT_EQ(samples[0].run.id, sweep.runs[0].id);
  EXPECT_EQ(samples[0].png_path, "results/runs/g1/samples.png");
  EXPECT_EQ(samples[0].run.state, RunState::done);
  EXPECT_DOUBLE_EQ(samples[0].run.class_consistency, 0.64);
  EXPECT_DOUBLE_EQ(samples[0].run.judge_test_accuracy, 0.81);
  EXPECT_TRUE(std::isnan(samples[1].run.class_consistency));
  EXPECT_EQ(samples[2].run.label, "infogan on cifar10");
  // The HTML report links each grid under its table, beside the run's class consistency.
  HtmlReport report;
  report.tables.push_back({aggregate_table(table5_layout(), table5_sweep()), {}, {}, samples});
  const auto html = render_html(report);
  EXPECT_NE(html.find("<li>acgan on cifar10 (seed 0), run " + sweep.runs[0].id +
                      " (done): <a href=\"results/runs/g1/samples.png\">results/runs/g1/samples.png</a>; "
                      "class consistency 0.640 [0.810]</li>"),
            std::string::npos)
      << html;
  EXPECT_NE(html.find("results/runs/g2/samples.png</a>; class consistency not recorded</li>"), std::string::npos);
  EXPECT_NE(html.find("results/runs/g3/samples.png</a>; class consistency not yet (running)</li>"),
            std::string::npos);
  EXPECT_NE(html.find("an independent judge classifier assigns the label they were generated for"), std::string::npos);
}

// isda-run trains one generator per seed: a cell whose seeds mix in images of their own generator
// runs is one cell (not "mixed"), lists them all, and its CSV line gives their ids and mean figures.
TEST(Aggregate, ACellWhoseSeedsHaveTheirOwnGeneratorRunsIsOneCell) {
  const auto layout = parse_table_layout(testing::table3_layout(), "sweep t3");
  SweepData sweep;
  auto first = testing::generator_config("cgan", "cifar10"), second = first;
  second["seed"] = 1;
  sweep.runs.push_back(generator(first, 0.6, 0.8));
  sweep.runs.push_back(generator(second, 0.7, 0.9));
  for (const int seed : {0, 1}) {
    const json classifier = {{"model", "resnet110"}, {"dataset", "cifar10"}, {"method", "ce"}, {"epochs", 3}, {"seed", seed}};
    sweep.runs.push_back(run(testing::using_generator(classifier, seed == 0 ? first : second), RunState::done, 6.5 + seed));
  }
  const auto table = aggregate_table(layout, sweep);
  const size_t cgan = 2;
  const auto& cell = table.cells[cgan][0];
  EXPECT_EQ(cell.status, CellStatus::results);
  EXPECT_EQ(cell.ours.n, 2);
  EXPECT_EQ(cell.generators, (std::vector<size_t>{0, 1}));
  const auto csv = render_tables_csv({table});
  EXPECT_NE(csv.find("," + sweep.runs[0].id + " " + sweep.runs[1].id + ",0.6500,0.8500"), std::string::npos) << csv;
}

// Table 3's generator rows: each generator run that feeds a cell, once, in the order the cells
// name it; each cell knows its own; a generator run of another version shows "not recorded".
TEST(Aggregate, ATableWithGeneratedImagesListsTheGeneratorRunsOfItsCells) {
  const auto layout = parse_table_layout(testing::table3_layout(), "sweep t3");
  SweepData sweep;
  for (const auto& fake : testing::table3_runs()) {
    const double consistency = fake.done_extra.value("class_consistency", testing::kNoValue);
    const double judge = fake.done_extra.value("judge_test_accuracy", testing::kNoValue);
    sweep.runs.push_back(fake.config.contains("task") && fake.state == RunState::done
                             ? generator(fake.config, consistency, judge)
                             : run(fake.config, fake.state, fake.last10_test_error, fake.test_errors));
  }
  const auto table = aggregate_table(layout, sweep);
  ASSERT_EQ(table.generators.size(), 3u);
  EXPECT_EQ(table.generators[0].label, "cgan on cifar10 (seed 0)");
  EXPECT_EQ(table.generators[0].id, testing::StoreBuilder::id_of(testing::generator_config("cgan", "cifar10")));
  EXPECT_DOUBLE_EQ(table.generators[0].class_consistency, 0.64);
  EXPECT_DOUBLE_EQ(table.generators[0].judge_test_accuracy, 0.81);
  EXPECT_EQ(table.generators[1].label, "cgan on cifar100 (seed 0)");
  EXPECT_EQ(table.generators[2].label, "acgan on cifar10 (seed 0)");
  EXPECT_EQ(consistency_text(table.generators[2]), "not recorded");
  EXPECT_EQ(consistency_text(table.generators[0]), "0.640 [0.810]");

  const size_t cgan = 2, acgan = 3;  // rows; the columns: ResNet-110 CIFAR-10, CIFAR-100, WRN CIFAR-10
  using Indices = std::vector<size_t>;
  EXPECT_EQ(table.cells[cgan][0].generators, Indices{0});
  EXPECT_EQ(table.cells[cgan][1].generators, Indices{1});
  EXPECT_EQ(table.cells[cgan][2].generators, Indices{0});
  EXPECT_EQ(table.cells[acgan][0].generators, Indices{2});
  EXPECT_TRUE(table.cells[acgan][1].generators.empty());  // no runs
  EXPECT_TRUE(table.cells[0][0].generators.empty());      // Focal Loss: no generated images
  EXPECT_DOUBLE_EQ(table.cells[cgan][0].ours.mean, 6.60);
  EXPECT_EQ(table.cells[cgan][0].ours.n, 2);

  const auto lines = consistency_lines(table, kPlainNotation);
  EXPECT_EQ(lines, (std::vector<std::string>{"cgan on cifar10 (seed 0): 0.640 [0.810]",
                                             "cgan on cifar100 (seed 0): 0.410 [0.520]",
                                             "acgan on cifar10 (seed 0): not recorded"}));
}

// Two generator runs that read alike are told apart by their ids; a generator_run outside the
// sweep is found among the store's other runs (load_sweep reads them), or said to be missing.
TEST(Aggregate, GeneratorRunsThatReadAlikeShowTheirIdsAndOnesOutsideTheSweepAreFound) {
  const json short_run = {{"task", "cgan"}, {"dataset", "cifar10"}, {"seed", 0}, {"gan_epochs", 1}};
  const json long_run = {{"task", "cgan"}, {"dataset", "cifar10"}, {"seed", 0}, {"gan_epochs", 25}};
  const json elsewhere = {{"task", "acgan"}, {"dataset", "cifar10"}, {"seed", 0}};
  SweepData sweep;
  sweep.runs.push_back(generator(short_run, 0.5, 0.7));
  sweep.runs.push_back(generator(long_run, 0.6, 0.7));
  sweep.outside_generator_runs.push_back(generator(elsewhere, 0.55, 0.75));
  const auto classifier = [](const std::string& method, const std::string& generator_run) {
    return run({{"method", method}, {"gan", "cgan"}, {"generator_run", generator_run}}, RunState::done, 6.0);
  };
  sweep.runs.push_back(classifier("ce", sweep.runs[0].id));
  sweep.runs.push_back(classifier("isda", sweep.runs[1].id));
  sweep.runs.push_back(classifier("focal", sweep.outside_generator_runs[0].id));
  sweep.runs.push_back(classifier("lq", "runs/by-hand"));
  const auto layout = parse_table_layout(
      {{"id", "g"},
       {"columns", {{{"label", "C10"}}}},
       {"rows", {{{"label", "short"}, {"match", {{"method", "ce"}}}},
                 {{"label", "long"}, {"match", {{"method", "isda"}}}},
                 {{"label", "elsewhere"}, {"match", {{"method", "focal"}}}},
                 {{"label", "by hand"}, {"match", {{"method", "lq"}}}}}}},
      "sweep g");
  const auto table = aggregate_table(layout, sweep);
  ASSERT_EQ(table.generators.size(), 4u);
  EXPECT_EQ(table.generators[0].label, "cgan on cifar10 (seed 0, run " + sweep.runs[0].id + ")");
  EXPECT_EQ(table.generators[1].label, "cgan on cifar10 (seed 0, run " + sweep.runs[1].id + ")");
  EXPECT_EQ(table.generators[2].label, "acgan on cifar10 (seed 0)");
  EXPECT_EQ(consistency_text(table.generators[2]), "0.550 [0.750]");
  EXPECT_FALSE(table.generators[3].in_store);
  EXPECT_EQ(consistency_lines(table, kPlainNotation)[3], "runs/by-hand: not a run of this store");
}

TEST(Aggregate, FindsTheKeyInWhichACellsRunsDiffer) {
  const auto a = run({{"method", "ce"}, {"lr", 0.1}, {"seed", 0}, {"device", "cuda"}}, RunState::done, 1);
  const auto b = run({{"method", "ce"}, {"lr", 0.1}, {"seed", 1}, {"device", "cpu"}}, RunState::done, 2);
  const auto c = run({{"method", "ce"}, {"lr", 0.05}, {"seed", 2}, {"dropout", 0.3}}, RunState::done, 3);
  EXPECT_FALSE(config_difference({&a, &b}).has_value());
  const auto difference = config_difference({&a, &b, &c});
  ASSERT_TRUE(difference.has_value());
  EXPECT_EQ(difference->key, "dropout");
  EXPECT_EQ(difference->values, (std::vector<std::string>{"(absent)", "0.3"}));
  EXPECT_EQ(difference->keys, (std::vector<std::string>{"dropout", "lr"}));
}

// The execution keys (core's one list) may differ within a cell; ranks and sync_bn may not: a
// 1-GPU and an 8-GPU run are different runs.
TEST(Aggregate, ExecutionKeysMayDifferWithinACellButNotRanks) {
  const auto a = run({{"method", "ce"}, {"seed", 0}, {"stall_limit", 60}, {"deterministic", true}}, RunState::done, 1);
  const auto b = run({{"method", "ce"}, {"seed", 1}, {"dist_timeout", 30.0}, {"cuda_graph", true}}, RunState::done, 2);
  EXPECT_FALSE(config_difference({&a, &b}).has_value());
  const auto c = run({{"method", "ce"}, {"seed", 2}, {"ranks", 8}}, RunState::done, 3);
  const auto difference = config_difference({&a, &c});
  ASSERT_TRUE(difference.has_value());
  EXPECT_EQ(difference->key, "ranks");
}

TEST(Aggregate, BuildsEveryKindOfCell) {
  const auto table = aggregate_table(table5_layout(), table5_sweep());
  EXPECT_EQ(table.counts.total(), 19);
  EXPECT_EQ(table.counts.done, 15);

  const auto& basic10 = table.cells[0][0];
  EXPECT_EQ(basic10.status, CellStatus::results);
  EXPECT_EQ(basic10.ours.n, 3);
  EXPECT_NEAR(basic10.ours.mean, 3.80, 1e-9);
  EXPECT_NEAR(basic10.ours.std, 0.10, 1e-9);
  EXPECT_NEAR(basic10.difference, -0.02, 1e-9);
  EXPECT_TRUE(basic10.within_two_std);  // |-0.02| <= 2 x 0.15

  const auto& basic100 = table.cells[0][1];
  EXPECT_NEAR(basic100.difference, 19.10 - 18.58, 1e-9);
  EXPECT_FALSE(basic100.within_two_std);  // 0.52 > 2 x 0.10

  const auto& identity10 = table.cells[1][0];
  EXPECT_EQ(identity10.ours.n, 2);
  EXPECT_EQ(identity10.counts.total(), 3);
  EXPECT_EQ(identity10.counts.running, 1);

  const auto& identity100 = table.cells[1][1];
  EXPECT_EQ(identity100.status, CellStatus::no_results);
  EXPECT_EQ(identity100.counts.pending, 1);
  EXPECT_EQ(identity100.counts.running, 1);
  EXPECT_EQ(identity100.counts.failed, 1);

  const auto& diagonal10 = table.cells[2][0];
  EXPECT_EQ(diagonal10.status, CellStatus::mixed);
  EXPECT_EQ(diagonal10.difference_in_config->key, "lr");

  const auto& diagonal100 = table.cells[2][1];  // one seed, and the paper gives no std: no mark
  EXPECT_EQ(diagonal100.ours.n, 1);
  EXPECT_TRUE(std::isnan(diagonal100.ours.std));
  EXPECT_FALSE(diagonal100.within_two_std);

  const auto& isda10 = table.cells[3][0];  // the hold-out run is left out by the table's match
  EXPECT_EQ(isda10.counts.total(), 3);
  EXPECT_NEAR(isda10.ours.mean, 3.56, 1e-9);
  EXPECT_EQ(table.cells[3][1].counts.total(), 0);
}

TEST(Aggregate, MarksTheLowestMeanOfEachColumnAsBest) {
  const auto table = aggregate_table(table5_layout(), table5_sweep());
  EXPECT_TRUE(table.cells[3][0].best);  // ISDA 3.56 < Identity 3.62 < Basic 3.80
  EXPECT_FALSE(table.cells[0][0].best);
  EXPECT_FALSE(table.cells[1][0].best);
  EXPECT_TRUE(table.cells[2][1].best);  // Diagonal 18.40 < Basic 19.10
  EXPECT_FALSE(table.cells[0][1].best);
}

TEST(Aggregate, FallsBackToOurStdWhenThePaperGivesNone) {
  auto layout = table5_layout();
  layout.rows[0].paper[0] = PaperValue{3.95};  // ours 3.80 +- 0.10: within 2 x 0.10
  layout.rows[0].paper[1] = PaperValue{19.50};  // ours 19.10 +- 0.20: 0.40 is not above 2 x 0.20
  layout.rows[3].paper[0] = PaperValue{3.80};   // ours 3.56 +- 0.06: outside
  const auto table = aggregate_table(layout, table5_sweep());
  EXPECT_TRUE(table.cells[0][0].within_two_std);
  EXPECT_TRUE(table.cells[0][1].within_two_std);
  EXPECT_FALSE(table.cells[3][0].within_two_std);
}

TEST(Aggregate, UsesEachColumnsMetric) {
  auto layout = table5_layout();
  layout.columns[0].metric = "best_test_error";
  const auto table = aggregate_table(layout, table5_sweep());
  EXPECT_NEAR(table.cells[0][0].ours.mean, 3.60, 1e-9);
  EXPECT_NEAR(table.cells[0][1].ours.mean, 19.10, 1e-9);
}

TEST(Aggregate, CountsDoneRunsWithoutTheMetric) {
  auto layout = table5_layout();
  for (auto& column : layout.columns) column.metric = "last10_validation_error";
  const auto table = aggregate_table(layout, table5_sweep());
  EXPECT_EQ(table.cells[0][0].status, CellStatus::no_results);
  EXPECT_EQ(table.cells[0][0].done_without_metric, 3);
}

TEST(Aggregate, AveragesCurvesOverTheDoneRunsPerEpoch) {
  SweepData sweep;
  for (const auto& fake : testing::figure2_runs()) {
    sweep.runs.push_back(run(fake.config, fake.state, fake.last10_test_error, fake.test_errors));
  }
  const auto figure = aggregate_figure(parse_figure_layout(testing::figure2_layout(), "sweep f"), sweep);
  ASSERT_EQ(figure.curves.size(), 2u);
  const auto& isda = figure.curves[1];
  EXPECT_EQ(isda.runs_used, 2);  // the running run is not averaged in
  EXPECT_EQ(isda.counts.running, 1);
  ASSERT_EQ(isda.points.size(), 4u);
  EXPECT_EQ(isda.points[0].epoch, 1);
  EXPECT_DOUBLE_EQ(isda.points[0].value.mean, 57.5);
  EXPECT_NEAR(isda.points[0].value.std, std::sqrt(0.5), 1e-12);
}

TEST(Aggregate, DrawsOneChartPerColumnAndRowGroupForATable) {
  const auto layout = parse_table_layout(testing::table3_layout(), "sweep t3");
  SweepData sweep;
  for (const auto& fake : testing::table3_runs()) {
    sweep.runs.push_back(run(fake.config, fake.state, fake.last10_test_error, fake.test_errors));
  }
  const auto charts = table_curves(layout, sweep, *find_metric("test_error"));
  ASSERT_EQ(charts.size(), 9u);  // 3 columns x 3 row groups
  EXPECT_EQ(charts[0].title, "losses · ResNet-110 · CIFAR-10");
  EXPECT_EQ(charts[0].curves.size(), 2u);
  EXPECT_EQ(charts[1].title, "generated images · ResNet-110 · CIFAR-10");
  EXPECT_EQ(charts[2].curves.size(), 1u);
  EXPECT_EQ(charts[0].curves[0].runs_used, 2);
}

TEST(Aggregate, LabelsEachRunByWhatVariesInItsSweep) {
  const auto sweep = table5_sweep();
  const auto curves = run_curves(sweep);
  ASSERT_EQ(curves.size(), sweep.runs.size());
  EXPECT_EQ(curves[0].label, "covariance=full, dataset=cifar10, holdout=false, lr=0.1, method=ce, seed=0");
  EXPECT_EQ(curves[0].epochs, &sweep.runs[0].epochs);
}

TEST(Aggregate, ComparesEachCellWithItsBaselineByWelch) {
  SweepData sweep;
  const double ce[] = {7.3, 7.4, 7.5};    // mean 7.4, std 0.1
  const double isda[] = {7.0, 7.1, 7.2};  // mean 7.1, std 0.1
  for (int seed = 0; seed < 3; ++seed) {
    sweep.runs.push_back(run({{"method", "ce"}, {"seed", seed}}, RunState::done, ce[seed]));
    sweep.runs.push_back(run({{"method", "isda"}, {"seed", seed}}, RunState::done, isda[seed]));
  }
  const auto layout = parse_table_layout(
      {{"id", "q"},
       {"baseline", {{"row", "Basic"}}},
       {"columns", {{{"label", "C10"}}}},
       {"rows", {{{"label", "Basic"}, {"match", {{"method", "ce"}}}, {"paper", {{7.39, 0.10}}}},
                 {{"label", "ISDA"}, {"match", {{"method", "isda"}}}, {"paper", {{7.09, 0.12}}}}}}},
      "sweep q");
  const auto report = aggregate_table(layout, sweep);
  EXPECT_FALSE(report.cells[0][0].comparison.has_value());
  ASSERT_TRUE(report.cells[1][0].comparison.has_value());
  const auto& comparison = *report.cells[1][0].comparison;
  EXPECT_EQ(comparison.baseline_row, 0u);
  EXPECT_NEAR(comparison.ours.difference, -0.3, 1e-9);
  EXPECT_NEAR(comparison.ours.df, 4, 1e-9);  // equal n = 3 and equal std: 2 (n - 1)
  // se = 0.1 sqrt(2/3); t(0.975, 4) = 2.7764.
  EXPECT_NEAR(comparison.ours.high - comparison.ours.difference, 2.776445 * 0.1 * std::sqrt(2.0 / 3.0), 1e-5);
  EXPECT_LT(comparison.ours.p_value, 0.05);
  EXPECT_NEAR(comparison.paper_difference, -0.30, 1e-9);
  EXPECT_EQ(comparison.agreement, Comparison::Agreement::consistent);
  EXPECT_TRUE(comparison.seeds_target_is_paper);
  EXPECT_EQ(comparison.seeds.status, PowerStatus::ok);

  // A paper difference far outside our interval is inconsistent.
  auto shifted = layout;
  shifted.rows[1].paper[0] = PaperValue{9.0, 0.1};
  EXPECT_EQ(aggregate_table(shifted, sweep).cells[1][0].comparison->agreement, Comparison::Agreement::inconsistent);
}

TEST(Aggregate, AComparisonWithOneSeedHasADifferenceAndNoInterval) {
  SweepData sweep;
  sweep.runs.push_back(run({{"method", "ce"}, {"seed", 0}}, RunState::done, 7.4));
  sweep.runs.push_back(run({{"method", "isda"}, {"seed", 0}}, RunState::done, 7.0));
  const auto layout = parse_table_layout(
      {{"id", "q"},
       {"baseline", {{"row", "Basic"}}},
       {"columns", {{{"label", "C10"}}}},
       {"rows", {{{"label", "Basic"}, {"match", {{"method", "ce"}}}}, {{"label", "ISDA"}, {"match", {{"method", "isda"}}}}}}},
      "sweep q");
  const auto& comparison = *aggregate_table(layout, sweep).cells[1][0].comparison;
  EXPECT_EQ(comparison.ours.status, WelchStatus::too_few_seeds);
  EXPECT_NEAR(comparison.ours.difference, -0.4, 1e-9);
  EXPECT_EQ(comparison.agreement, Comparison::Agreement::unknown);
  EXPECT_EQ(comparison.seeds.status, PowerStatus::no_spread_known);
}

TEST(Aggregate, FindsLast10AveragesThatStartBeforeTheLastLearningRateDrop) {
  const auto& last10 = *find_metric("last10_test_error");
  // 5 epochs, drop from 0-based epoch 3: the average covers epochs 1-5, the final rate starts at 4.
  auto early = early_epochs({{"epochs", 5}, {"lr_schedule", "step"}, {"lr_milestones", {3}}}, last10);
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->first, 1);
  EXPECT_EQ(early->last, 5);
  EXPECT_EQ(early->last_drop, 4);
  // The paper's ResNet recipe: 160 epochs, drops at 80 and 120: epochs 151-160 are all after them.
  EXPECT_FALSE(early_epochs({{"epochs", 160}, {"lr_milestones", {80, 120}}}, last10).has_value());
  // A drop 5 epochs from the end; the authors' early decay moves it one epoch earlier.
  early = early_epochs({{"epochs", 30}, {"lr_milestones", {15, 25}}}, last10);
  ASSERT_TRUE(early.has_value());
  EXPECT_EQ(early->last_drop, 26);
  EXPECT_EQ(early->first, 21);
  EXPECT_FALSE(early_epochs({{"epochs", 30}, {"lr_milestones", {21}}, {"lr_decay_early", true}}, last10).has_value());
  // Milestones past the end never happen; cosine always still falls; other metrics are not averages.
  EXPECT_FALSE(early_epochs({{"epochs", 5}, {"lr_milestones", {5, 9}}}, last10).has_value());
  EXPECT_TRUE(early_epochs({{"epochs", 1800}, {"lr_schedule", "cosine"}}, last10)->cosine);
  EXPECT_FALSE(early_epochs({{"epochs", 5}, {"lr_milestones", {3}}}, *find_metric("final_test_error")).has_value());
}

}  // namespace
}  // namespace isda::report
