// The two-stage lambda0 protocol: search runs, the recorded choice, the final runs that follow;
// and the shipped specs' table layouts against the runs they expand to.
#include "runner/sweep.h"

#include "results/ingest.h"
#include "results/run_ledger.h"
#include "support/idx_files.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

namespace isda::runner {
namespace {

using ::testing::HasSubstr;
using results::ResultsStore;

nlohmann::json two_stage_spec() {
  return nlohmann::json::parse(R"({
    "name": "two_stage",
    "base": {"dataset": "cifar10", "epochs": 3, "holdout": false},
    "grid": {"model": ["resnet8", "resnet20"], "method": ["ce", "isda"]},
    "seeds": [0, 1],
    "lambda0_search": {"candidates": [0.1, 0.5, 1.0], "seeds": [7, 8]}
  })");
}

std::string error_of(const nlohmann::json& source) {
  try {
    parse_spec(source, "x.json");
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

// Writes a run's event log with a `done` event whose hold-out metric is `validation_error`.
std::string write_done_log(const std::string& dir, const std::string& id, double validation_error) {
  const auto log = dir + "/" + id + ".jsonl";
  std::ofstream(log) << nlohmann::json{{"event", "done"}, {"time", 1.0}, {"epochs", 3}, {"final_test_error", 10.0},
                                       {"best_test_error", 9.0}, {"last10_test_error", 10.5},
                                       {"last10_validation_error", validation_error}}.dump()
                     << '\n';
  return log;
}

// Marks a run done in the store with `validation_error` as its hold-out metric.
void finish_run(ResultsStore& store, const std::string& dir, const std::string& id, double validation_error) {
  const auto log = write_done_log(dir, id, validation_error);
  start_attempt(store, id, "test");
  ingest_events(store, id, log);
  set_state(store, id, results::RunState::done);
}

TEST(Lambda0Search, SearchRunsAreEachGroupsFirstFinalRunOnTheHoldOutPerCandidateAndSeed) {
  const auto spec = parse_spec(two_stage_spec(), "x.json");
  const auto finals = expand(spec);
  const auto groups = lambda0_groups(spec, finals);
  ASSERT_EQ(groups.size(), 2u);  // one per model (the dataset is the same); ce runs have no lambda0
  for (const auto& group : groups) {
    EXPECT_EQ(group.final_runs.size(), 2u);  // the isda runs, seeds 0 and 1
    ASSERT_EQ(group.search_runs.size(), 6u);
    for (const auto& run : group.search_runs) {
      EXPECT_TRUE(run.config.holdout);
      EXPECT_EQ(run.config.method, "isda");
      EXPECT_EQ(run.config.model, group.key["model"]);
      EXPECT_TRUE(run.config.seed == 7 || run.config.seed == 8);
      EXPECT_EQ(run.config_json, train::to_json(run.config).dump());
    }
    EXPECT_EQ(group.search_runs[0].config.lambda0, 0.1);
    EXPECT_EQ(group.search_runs[5].config.lambda0, 1.0);
  }
}

TEST(Lambda0Search, BadSearchSpecsNameTheKey) {
  auto s = two_stage_spec();
  s["lambda0_search"]["candidates"] = {0.5};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: lambda0_search.candidates: expected an array of at least two"));
  s = two_stage_spec();
  s["lambda0_search"]["candidates"] = {0.5, -1};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: lambda0_search.candidates[1]:"));
  s = two_stage_spec();
  s["lambda0_search"]["per"] = {"model", "colour"};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: lambda0_search.per[1]: expected a run-config key, got \"colour\""));
  s = two_stage_spec();
  s["lambda0_search"]["metric"] = "accuracy";
  EXPECT_THAT(error_of(s), HasSubstr("x.json: lambda0_search.metric: expected one of"));
  s = two_stage_spec();
  s["lambda0_search"]["budget"] = 3;
  EXPECT_THAT(error_of(s), HasSubstr("x.json: lambda0_search.budget: unknown key"));
  s = two_stage_spec();
  s["lambda0_search"].erase("candidates");
  EXPECT_THAT(error_of(s), HasSubstr("x.json: lambda0_search.candidates: missing"));
}

TEST(PlanSweep, FinalRunsWaitForTheSearchThenUseTheRecordedChoice) {
  isda::testing::ScratchDir dir;
  auto store = ResultsStore::open(dir.file("isda.db"));
  const auto spec = parse_spec(two_stage_spec(), "x.json");

  auto plan = plan_sweep(spec, "", &store, dir.file("runs"), false);
  EXPECT_EQ(plan.name, "two_stage");
  EXPECT_EQ(plan.runs.size(), 4u + 12u);  // the ce runs and every search run
  EXPECT_EQ(plan.waiting_runs, 4);
  EXPECT_TRUE(plan.choices.empty());
  EXPECT_EQ(plan.added, 16);

  // The search finishes: lambda0 0.5 has the lowest mean for resnet8, 1.0 for resnet20.
  const auto groups = lambda0_groups(spec, expand(spec));
  const std::vector<std::vector<double>> errors = {{9, 9, 5, 7, 8, 8}, {9, 9, 7, 7, 6, 6}};
  for (size_t g = 0; g < 2; ++g) {
    for (size_t i = 0; i < 6; ++i) finish_run(store, dir.path().string(), groups[g].search_runs[i].id, errors[g][i]);
  }
  plan = plan_sweep(spec, "", &store, dir.file("runs"), false);
  EXPECT_EQ(plan.waiting_runs, 0);
  ASSERT_EQ(plan.choices.size(), 2u);
  EXPECT_EQ(plan.added, 4);
  std::map<std::string, double> chosen;
  for (const auto& c : lambda0_choices(store, plan.sweep_id)) chosen[c.group_key] = c.lambda0;
  EXPECT_EQ(chosen.at(R"({"dataset":"cifar10","model":"resnet8"})"), 0.5);
  EXPECT_EQ(chosen.at(R"({"dataset":"cifar10","model":"resnet20"})"), 1.0);
  const auto evidence = nlohmann::json::parse(lambda0_choices(store, plan.sweep_id)[0].evidence);
  ASSERT_EQ(evidence.size(), 3u);
  EXPECT_EQ(evidence[0]["runs"].size(), 2u);
  int isda_finals = 0;
  for (const auto& run : plan.runs) {
    if (run.config.method != "isda" || run.config.holdout) continue;
    ++isda_finals;
    EXPECT_EQ(run.config.lambda0, chosen.at(nlohmann::json{{"dataset", "cifar10"}, {"model", run.config.model}}.dump()));
    EXPECT_EQ(run.config_json, train::to_json(run.config).dump());
    EXPECT_EQ(run.id, run_id(train::to_json(run.config)));
  }
  EXPECT_EQ(isda_finals, 4);

  // A recorded choice stands, even if the search's numbers were to change.
  ingest_events(store, groups[0].search_runs[0].id, write_done_log(dir.path().string(), groups[0].search_runs[0].id, 1));
  const auto again = plan_sweep(spec, "", &store, dir.file("runs"), false);
  EXPECT_EQ(again.added, 0);
  EXPECT_EQ(again.runs.size(), plan.runs.size());
}

// Table 3's generator rows: classifiers with `gan` wait for the generator run derived from them,
// which runs first, and carry its id (so it is part of theirs).
TEST(PlanSweep, ClassifiersWithGanWaitForTheirGeneratorRunAndCarryItsId) {
  isda::testing::ScratchDir dir;
  auto store = ResultsStore::open(dir.file("isda.db"));
  const auto spec = parse_spec(nlohmann::json::parse(R"({
    "name": "gans",
    "base": {"dataset": "cifar10", "epochs": 3, "method": "ce", "gan_epochs": 2},
    "grid": {"model": ["resnet8", "resnet20"], "gan": ["cgan", "acgan"]},
    "seeds": [0, 1]
  })"), "x.json");
  auto plan = plan_sweep(spec, "", &store, dir.file("runs"), false);
  ASSERT_EQ(plan.runs.size(), 4u);  // one generator per kind and seed, shared by both networks
  EXPECT_EQ(plan.waiting_runs, 8);
  std::map<std::pair<std::string, uint64_t>, std::string> generator_of;  // (kind, seed) -> id
  for (const auto& run : plan.runs) {
    EXPECT_EQ(run.config.epochs, 2);
    EXPECT_EQ(run.config.batch_size, train::kGeneratorBatchSize);
    EXPECT_THAT(run.varying, HasSubstr("\"stage\":\"generator\""));
    generator_of[{run.config.task, run.config.seed}] = run.id;
  }
  ASSERT_EQ(generator_of.size(), 4u);
  ASSERT_EQ(plan.notes.size(), 4u);
  EXPECT_THAT(plan.notes[0], HasSubstr("2 runs wait for their generator run"));

  for (const uint64_t seed : {0u, 1u}) finish_run(store, dir.path().string(), generator_of.at({"cgan", seed}), NAN);
  plan = plan_sweep(spec, "", &store, dir.file("runs"), false);
  EXPECT_EQ(plan.waiting_runs, 4);
  EXPECT_EQ(plan.added, 4);
  std::set<std::string> ids;
  for (const auto& run : plan.runs) {
    if (run.config.task != "classify") continue;
    EXPECT_EQ(run.config.gan, "cgan");
    EXPECT_EQ(run.config.generator_run, generator_of.at({"cgan", run.config.seed})) << "its own seed's generator";
    EXPECT_EQ(run.config_json, train::to_json(run.config).dump());
    EXPECT_EQ(run.id, run_id(train::to_json(run.config)));
    ids.insert(run.id);
  }
  EXPECT_EQ(ids.size(), 4u);
  for (const uint64_t seed : {0u, 1u}) finish_run(store, dir.path().string(), generator_of.at({"acgan", seed}), NAN);
  plan = plan_sweep(spec, "", &store, dir.file("runs"), false);
  EXPECT_EQ(plan.waiting_runs, 0);
  EXPECT_EQ(plan.runs.size(), 12u);

  // A lambda0 search cannot choose for runs with generated images (it would need a hold-out generator).
  auto with_search = spec.source;
  with_search["base"]["method"] = "isda";
  with_search["lambda0_search"] = {{"candidates", {0.1, 0.5}}};
  EXPECT_THROW(
      {
        try {
          plan_sweep(parse_spec(with_search, "y.json"), "", nullptr, dir.file("runs"), true);
        } catch (const SpecError& e) {
          EXPECT_THAT(e.what(), HasSubstr("y.json: lambda0_search: run "));
          throw;
        }
      },
      SpecError);
}

TEST(PlanSweep, AProfileIsItsOwnSweepAndADryRunWritesNothing) {
  isda::testing::ScratchDir dir;
  auto spec_json = two_stage_spec();
  spec_json["profiles"] = {{"smoke", {{"epochs", 1}}}};
  const auto spec = parse_spec(spec_json, "x.json");
  const auto dry = plan_sweep(spec, "smoke", nullptr, dir.file("runs"), true);
  EXPECT_EQ(dry.name, "two_stage:smoke");
  EXPECT_EQ(dry.sweep_id, 0);
  EXPECT_EQ(dry.runs.size(), 16u);
  EXPECT_EQ(dry.notes.size(), 2u);
  EXPECT_THAT(dry.notes[0], HasSubstr("wait for their lambda0 search"));

  auto store = ResultsStore::open(dir.file("isda.db"));
  plan_sweep(spec, "smoke", &store, dir.file("runs"), false);
  plan_sweep(spec, "", &store, dir.file("runs"), false);
  const auto sweeps = list_sweeps(store);
  ASSERT_EQ(sweeps.size(), 2u);
  EXPECT_EQ(sweeps[0].name, "two_stage:smoke");
  EXPECT_EQ(sweeps[1].name, "two_stage");
}

TEST(PlanSweep, ASearchRunWithoutTheMetricIsReportedNotGuessed) {
  isda::testing::ScratchDir dir;
  auto store = ResultsStore::open(dir.file("isda.db"));
  const auto spec = parse_spec(two_stage_spec(), "x.json");
  plan_sweep(spec, "", &store, dir.file("runs"), false);
  const auto groups = lambda0_groups(spec, expand(spec));
  for (const auto& run : groups[0].search_runs) finish_run(store, dir.path().string(), run.id, std::nan(""));
  const auto plan = plan_sweep(spec, "", &store, dir.file("runs"), false);
  EXPECT_EQ(plan.waiting_runs, 4);
  EXPECT_THAT(plan.notes[0], HasSubstr("cannot be chosen: search run"));
  EXPECT_THAT(plan.notes[0], HasSubstr("has no last10_validation_error"));
}

// Final runs that differ only in their lambda0 become the same run once their group's choice sets
// it: one run, registered once.
TEST(PlanSweep, FinalRunsThatTheChoiceMakesEqualAreOneRun) {
  isda::testing::ScratchDir dir;
  auto store = ResultsStore::open(dir.file("isda.db"));
  auto source = two_stage_spec();
  source["grid"] = {{"model", {"resnet8"}}, {"method", {"isda"}}, {"lambda0", {0.25, 0.75}}};
  const auto spec = parse_spec(source, "x.json");
  ASSERT_EQ(expand(spec).size(), 4u);  // 2 lambda0 x 2 seeds
  plan_sweep(spec, "", &store, dir.file("runs"), false);
  const auto groups = lambda0_groups(spec, expand(spec));
  for (const auto& run : groups[0].search_runs) {
    finish_run(store, dir.path().string(), run.id, run.config.lambda0 == 0.5 ? 1.0 : 5.0);
  }
  const auto plan = plan_sweep(spec, "", &store, dir.file("runs"), false);
  std::set<std::string> ids;
  int finals = 0;
  for (const auto& run : plan.runs) {
    EXPECT_TRUE(ids.insert(run.id).second) << run.id << " twice";
    if (run.config.holdout) continue;
    ++finals;
    EXPECT_EQ(run.config.lambda0, 0.5);
  }
  EXPECT_EQ(finals, 2);  // one per seed
  EXPECT_EQ(plan.added, 2);
}

// A changed spec is a new sweep of the same name, and says what it keeps of the last version; a
// spec changed back says that isda-report shows the newest version.
TEST(PlanSweep, AChangedSpecSaysWhatItCarriesOverAddsAndLeavesOut) {
  isda::testing::ScratchDir dir;
  auto store = ResultsStore::open(dir.file("isda.db"));
  auto first = two_stage_spec();
  first.erase("lambda0_search");  // 2 models x 2 methods x seeds 0, 1
  const auto a = plan_sweep(parse_spec(first, "x.json"), "", &store, dir.file("runs"), false);
  EXPECT_TRUE(a.notes.empty());
  EXPECT_TRUE(plan_sweep(parse_spec(first, "x.json"), "", &store, dir.file("runs"), false).notes.empty());

  auto second = first;  // one model fewer, one seed more
  second["grid"]["model"] = {"resnet8"};
  second["seeds"] = {0, 1, 2};
  const auto b = plan_sweep(parse_spec(second, "x.json"), "", &store, dir.file("runs"), false);
  EXPECT_NE(b.sweep_id, a.sweep_id);
  ASSERT_EQ(b.notes.size(), 1u);
  EXPECT_EQ(b.notes[0], fmt::format("the spec of two_stage changed since it last ran (sweep {}): 4 of its runs carried "
                                    "over, 2 new, 4 left out (their results stay in the store, under sweep {})",
                                    a.sweep_id, a.sweep_id));
  EXPECT_TRUE(plan_sweep(parse_spec(second, "x.json"), "", &store, dir.file("runs"), false).notes.empty());

  const auto back = plan_sweep(parse_spec(first, "x.json"), "", &store, dir.file("runs"), false);
  EXPECT_EQ(back.sweep_id, a.sweep_id);
  ASSERT_EQ(back.notes.size(), 1u);
  EXPECT_THAT(back.notes[0], HasSubstr(fmt::format("not its newest version (sweep {}, 6 runs), which isda-report "
                                                   "shows unless told --sweep {}",
                                                   b.sweep_id, a.sweep_id)));
}

// Every table cell the paper fills has runs in its spec, and a cell's runs differ only in seed.
TEST(ShippedSpecs, AreValidAndEveryPaperCellOfTheirTablesHasRuns) {
  int specs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ISDA_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".json") continue;
    ++specs;
    const auto path = entry.path().string();
    const auto spec = load_spec(path);
    std::vector<PlannedRun> runs;
    ASSERT_NO_THROW(runs = expand(spec)) << path;
    EXPECT_NO_THROW(expand(spec, "smoke")) << path;
    if (spec.table.is_null()) continue;
    const auto& table = spec.table;
    const auto matches = [](const nlohmann::json& condition, const nlohmann::json& config) {
      for (const auto& item : condition.items()) {
        if (item.value().is_null()) {  // null: the key is absent (report/README.md)
          if (config.contains(item.key())) return false;
          continue;
        }
        if (!config.contains(item.key()) || config[item.key()] != item.value()) return false;
      }
      return true;
    };
    for (const auto& row : table.at("rows")) {
      ASSERT_EQ(row.at("paper").size(), table.at("columns").size()) << path << " row " << row.at("label");
      for (size_t c = 0; c < table.at("columns").size(); ++c) {
        const auto& column = table.at("columns")[c];
        std::set<std::string> configs_but_seed;
        for (const auto& run : runs) {
          auto config = train::to_json(run.config);
          if (!matches(table.value("match", nlohmann::json::object()), config) || !matches(row.at("match"), config) ||
              !matches(column.at("match"), config)) {
            continue;
          }
          config.erase("seed");
          configs_but_seed.insert(config.dump());
        }
        const auto where = path + " row " + row.at("label").dump() + " column " + column.at("label").dump();
        if (!row.at("paper")[c].is_null()) {
          EXPECT_FALSE(configs_but_seed.empty()) << where << " has no runs";
        }
        EXPECT_LE(configs_but_seed.size(), 1u) << where << " matches runs that differ in more than the seed";
      }
    }
  }
  EXPECT_GE(specs, 7);
}

}  // namespace
}  // namespace isda::runner
