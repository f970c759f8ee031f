#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>

namespace isda::results {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

class Registration : public ::testing::Test {
 protected:
  Registration() : store_(ResultsStore::open(dir_.file("isda.db"))) {}
  ScratchDir dir_;
  ResultsStore store_;
};

TEST_F(Registration, ASweepIsIdempotentByNameAndSpec) {
  const auto a = register_sweep(store_, "table2", "experiments/table2.json", R"({"seeds": [1, 2], "base": {"x": 1}})");
  // The same spec with other whitespace and key order is the same sweep.
  const auto same = register_sweep(store_, "table2", "experiments/table2.json", R"({"base":{"x":1},"seeds":[1,2]})");
  const auto changed = register_sweep(store_, "table2", "experiments/table2.json", R"({"seeds": [1, 2, 3]})");
  const auto other = register_sweep(store_, "table3", "experiments/table3.json", R"({"seeds": [1, 2], "base": {"x": 1}})");
  EXPECT_EQ(a, same);
  EXPECT_NE(a, changed);
  EXPECT_NE(a, other);
  const auto sweeps = list_sweeps(store_);
  ASSERT_EQ(sweeps.size(), 3u);
  EXPECT_EQ(sweeps[0].name, "table2");
  EXPECT_EQ(sweeps[0].spec_path, "experiments/table2.json");
  EXPECT_EQ(sweeps[0].spec_hash.size(), 16u);
}

TEST_F(Registration, ASpecThatIsNotJsonIsAnError) {
  EXPECT_THROW(register_sweep(store_, "bad", "bad.json", "{not json"), StoreError);
}

TEST_F(Registration, RunsArePendingMembersInGridOrder) {
  const auto sweep = register_sweep(store_, "s", "s.json", "{}");
  const auto result = register_runs(store_, sweep, {{"c", R"({"seed":3})", "runs/c"}, {"a", R"({"seed":1})", "runs/a"}});
  EXPECT_EQ(result.added, 2);
  EXPECT_EQ(result.existing, 0);
  const auto runs = runs_of_sweep(store_, sweep);
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].id, "c");
  EXPECT_EQ(runs[0].config_json, R"({"seed":3})");
  EXPECT_EQ(runs[0].run_dir, "runs/c");
  EXPECT_EQ(runs[0].state, RunState::pending);
  EXPECT_EQ(runs[0].attempts, 0);
  EXPECT_EQ(runs[0].last_epoch, 0);
  EXPECT_EQ(runs[1].id, "a");
  EXPECT_EQ(list_sweeps(store_)[0].runs, 2);
}

TEST_F(Registration, ReRegisteringNeitherDuplicatesNorResetsARun) {
  const auto sweep = register_sweep(store_, "s", "s.json", "{}");
  const std::vector<RunRecord> runs = {{"r1", "{\"seed\":1}", ""}, {"r2", "{\"seed\":2}", ""}};
  register_runs(store_, sweep, runs);
  start_attempt(store_, "r1", "c");
  set_state(store_, "r1", RunState::done);
  const auto again = register_runs(store_, sweep, runs);
  EXPECT_EQ(again.added, 0);
  EXPECT_EQ(again.existing, 2);
  const auto listed = runs_of_sweep(store_, sweep);
  ASSERT_EQ(listed.size(), 2u);
  EXPECT_EQ(listed[0].state, RunState::done);
  EXPECT_EQ(listed[0].attempts, 1);
  const auto counts = counts_by_state(store_, sweep);
  EXPECT_EQ(counts.done, 1);
  EXPECT_EQ(counts.pending, 1);
  EXPECT_EQ(counts.total(), 2);
}

TEST_F(Registration, ARunBelongsToSeveralSweeps) {
  const auto first = register_sweep(store_, "stage1", "s.json", R"({"stage":1})");
  const auto second = register_sweep(store_, "stage2", "s.json", R"({"stage":2})");
  register_runs(store_, first, {{"shared", "{}", ""}, {"only1", "{}", ""}});
  const auto result = register_runs(store_, second, {{"shared", "{}", ""}});
  EXPECT_EQ(result.existing, 1);
  EXPECT_EQ(runs_of_sweep(store_, first).size(), 2u);
  EXPECT_EQ(runs_of_sweep(store_, second).size(), 1u);
  EXPECT_EQ(counts_by_state(store_, second).total(), 1);
}

TEST_F(Registration, TheSameIdWithAnotherConfigIsRefusedAndNothingIsRegistered) {
  const auto sweep = register_sweep(store_, "s", "s.json", "{}");
  register_runs(store_, sweep, {{"r1", R"({"seed":1})", ""}});
  try {
    register_runs(store_, sweep, {{"new", "{}", ""}, {"r1", R"({"seed":2})", ""}});
    FAIL() << "a conflicting config was registered";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("run r1 is already registered with another config"));
  }
  EXPECT_FALSE(find_run(store_, "new").has_value());
}

// A run's id leaves out where and how it executes: a config that differs only there (a moved data
// root, a key a newer version added) is the same run, and the stored config becomes the new one.
TEST_F(Registration, AConfigThatDiffersOnlyInExecutionKeysIsTheSameRunWithTheNewConfig) {
  const auto sweep = register_sweep(store_, "s", "s.json", "{}");
  register_runs(store_, sweep, {{"r1", R"({"data_root":"a","seed":1})", ""}});
  const auto result =
      register_runs(store_, sweep, {{"r1", R"({"cuda_graph":false,"data_root":"b","seed":1})", ""}}, {"data_root", "cuda_graph"});
  EXPECT_EQ(result.existing, 1);
  EXPECT_EQ(find_run(store_, "r1")->config_json, R"({"cuda_graph":false,"data_root":"b","seed":1})");
  EXPECT_THROW(register_runs(store_, sweep, {{"r1", R"({"data_root":"b","seed":2})", ""}}, {"data_root"}), StoreError);
}

TEST_F(Registration, AnUnknownSweepIsAnError) {
  EXPECT_THROW(register_runs(store_, 99, {{"r", "{}", ""}}), StoreError);
}

TEST_F(Registration, AHundredThousandRunsRegisterInOneFastTransaction) {
  const auto sweep = register_sweep(store_, "big", "big.json", "{}");
  std::vector<RunRecord> runs;
  runs.reserve(100000);
  for (int i = 0; i < 100000; ++i) {
    runs.push_back({"run" + std::to_string(i), "{\"model\":\"resnet32\",\"seed\":" + std::to_string(i) + "}", ""});
  }
  const auto start = std::chrono::steady_clock::now();
  const auto result = register_runs(store_, sweep, runs);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_EQ(result.added, 100000);
  EXPECT_LT(seconds, 3.0);  // about 0.2 s in a release build; the bound leaves room for sanitizers
  EXPECT_EQ(counts_by_state(store_, sweep).pending, 100000);
}

TEST_F(Registration, ProvenanceRoundTrips) {
  const auto sweep = register_sweep(store_, "s", "s.json", "{}");
  register_runs(store_, sweep, {{"r1", "{}", ""}});
  Provenance p;
  p.git_commit = "0123abcd";
  p.git_dirty = true;
  p.host = "node7";
  p.gpu_model = "NVIDIA H100 80GB HBM3";
  p.driver = "550.54";
  p.libtorch = "2.3.0";
  p.cuda = "12.1";
  p.cudnn = "8.9.2";
  p.command_line = "isda-train --config run.json";
  p.started = 1.7e9;
  p.ended = NAN;
  record_provenance(store_, "r1", p);
  const auto read = provenance_of(store_, "r1");
  ASSERT_TRUE(read.has_value());
  EXPECT_EQ(read->git_commit, p.git_commit);
  EXPECT_TRUE(read->git_dirty);
  EXPECT_EQ(read->gpu_model, p.gpu_model);
  EXPECT_EQ(read->command_line, p.command_line);
  EXPECT_DOUBLE_EQ(read->started, 1.7e9);
  EXPECT_TRUE(std::isnan(read->ended));
  p.ended = 1.7e9 + 60;
  record_provenance(store_, "r1", p);
  EXPECT_DOUBLE_EQ(provenance_of(store_, "r1")->ended, 1.7e9 + 60);
  EXPECT_FALSE(provenance_of(store_, "r2").has_value());
  EXPECT_THROW(record_provenance(store_, "r2", p), StoreError);
}

}  // namespace
}  // namespace isda::results
