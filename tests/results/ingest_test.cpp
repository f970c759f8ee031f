#include "results/ingest.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

namespace isda::results {
namespace {

using ::testing::HasSubstr;
using testing::EventLog;
using testing::ScratchDir;
using Outcome = IngestResult::Outcome;

class Ingest : public ::testing::Test {
 protected:
  Ingest() : store_(ResultsStore::open(dir_.file("isda.db"))), log_(dir_.file("events.jsonl")) {
    sweep_ = register_sweep(store_, "s", "s.json", "{}");
    register_runs(store_, sweep_, {{"r1", "{}", dir_.file("")}});
  }

  IngestResult ingest() { return ingest_events(store_, "r1", log_.path()); }

  std::vector<int64_t> epoch_numbers() {
    std::vector<int64_t> numbers;
    for (const auto& row : epochs_of(store_, "r1")) numbers.push_back(row.epoch);
    return numbers;
  }

  ScratchDir dir_;
  ResultsStore store_;
  EventLog log_;
  int64_t sweep_ = 0;
};

nlohmann::json environment_on(const std::string& host, bool dirty) {
  return {{"host", host},          {"git_commit", "0123456789abcdef0123456789abcdef01234567"},
          {"git_dirty", dirty},    {"libtorch", "2.11.0"},
          {"cuda", "13.0"},        {"cudnn", "9.10.2"},
          {"gpu_model", "NVIDIA H200"}, {"driver", "570.124.06"}};
}

TEST_F(Ingest, TheLastStartsEnvironmentIsTheWorkersSideOfTheProvenance) {
  Provenance coordinator;
  coordinator.host = "login1";
  coordinator.libtorch = "1.13.0";
  coordinator.command_line = "isda-train --config runs/r1/run.json --run-dir runs/r1";
  coordinator.started = 100;
  coordinator.ended = NAN;
  record_provenance(store_, "r1", coordinator);

  log_.start_on(environment_on("node7", true));
  log_.epoch(1, 30.0);
  log_.start_on(environment_on("node8", false), 1);  // resumed elsewhere, from a clean checkout
  log_.epoch(2, 20.0);
  log_.start(2);  // a start of an older isda-train says nothing of its environment
  ingest();
  auto provenance = provenance_of(store_, "r1");
  ASSERT_TRUE(provenance.has_value());
  EXPECT_EQ(provenance->host, "node8");
  EXPECT_EQ(provenance->git_commit, "0123456789abcdef0123456789abcdef01234567");
  EXPECT_FALSE(provenance->git_dirty);
  EXPECT_EQ(provenance->libtorch, "2.11.0");
  EXPECT_EQ(provenance->cuda, "13.0");
  EXPECT_EQ(provenance->cudnn, "9.10.2");
  EXPECT_EQ(provenance->gpu_model, "NVIDIA H200");
  EXPECT_EQ(provenance->driver, "570.124.06");
  EXPECT_EQ(provenance->command_line, coordinator.command_line);  // the coordinator's side stays
  EXPECT_DOUBLE_EQ(provenance->started, 100);
  EXPECT_TRUE(std::isnan(provenance->ended));

  // A field of another type is stored empty, not guessed; a run without a coordinator's record
  // gets a row of its own.
  auto odd = environment_on("node9", true);
  odd["gpu_model"] = 7;
  odd["git_dirty"] = "yes";
  log_.start_on(odd, 2);
  ingest();
  provenance = provenance_of(store_, "r1");
  EXPECT_EQ(provenance->gpu_model, "");
  EXPECT_FALSE(provenance->git_dirty);
  EXPECT_EQ(provenance->host, "node9");

  register_runs(store_, sweep_, {{"r2", "{}", ""}});
  EventLog other(dir_.file("other.jsonl"));
  other.start_on(environment_on("node3", true));
  ingest_events(store_, "r2", other.path());
  provenance = provenance_of(store_, "r2");
  ASSERT_TRUE(provenance.has_value());
  EXPECT_EQ(provenance->host, "node3");
  EXPECT_TRUE(provenance->git_dirty);
  EXPECT_TRUE(std::isnan(provenance->started));
}

TEST_F(Ingest, StartEpochEpochDoneGivesTwoEpochRowsAndAFinalsRow) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.epoch(2, 20.0);
  log_.done(2, 20.0, 20.0, 25.0);
  const auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::done);
  EXPECT_EQ(result.last_epoch, 2);
  EXPECT_EQ(result.epoch_events, 2);
  EXPECT_FALSE(result.torn_line_ignored);

  const auto epochs = epochs_of(store_, "r1");
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_EQ(epochs[0].epoch, 1);
  EXPECT_DOUBLE_EQ(epochs[0].train_loss, 2.0);
  EXPECT_DOUBLE_EQ(epochs[0].train_error, 50.0);
  EXPECT_DOUBLE_EQ(epochs[0].test_error, 30.0);
  EXPECT_TRUE(std::isnan(epochs[0].validation_error));  // null in the log: no hold-out
  EXPECT_DOUBLE_EQ(epochs[0].lambda, 0.05);
  EXPECT_DOUBLE_EQ(epochs[0].lr, 0.1);
  EXPECT_DOUBLE_EQ(epochs[0].seconds, 12.5);
  EXPECT_DOUBLE_EQ(epochs[0].images_per_second, 960.0);
  EXPECT_EQ(epochs[1].epoch, 2);
  EXPECT_DOUBLE_EQ(epochs[1].test_error, 20.0);

  const auto finals = finals_of(store_, {"r1", "absent"});
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_EQ(finals[0].run_id, "r1");
  EXPECT_DOUBLE_EQ(finals[0].final_test_error, 20.0);
  EXPECT_DOUBLE_EQ(finals[0].best_test_error, 20.0);
  EXPECT_DOUBLE_EQ(finals[0].last10_test_error, 25.0);
  EXPECT_TRUE(std::isnan(finals[0].last10_validation_error));
  EXPECT_EQ(finals[0].epochs, 2);
  EXPECT_EQ(find_run(store_, "r1")->last_epoch, 2);
  EXPECT_EQ(runs_of_sweep(store_, sweep_)[0].last_epoch, 2);
}

// The top-5 error came later: logs without it ingest as before (NaN), logs with it keep it.
TEST_F(Ingest, TheTop5ErrorIsKeptWhenLoggedAndNaNWhenAnOlderLogLacksIt) {
  log_.epoch(1, 30.0);
  std::ofstream(log_.path(), std::ios::app)
      << R"({"event":"epoch","epoch":2,"train_loss":1.0,"train_error":40.0,"test_error":20.0,"validation_error":null,)"
      << R"("test_top5_error":3.5,"lambda":0.1,"lr":0.1,"seconds":1.0,"images_per_second":10.0,"time":1.0})" << '\n'
      << R"({"event":"done","epochs":2,"final_test_error":20.0,"best_test_error":20.0,"last10_test_error":25.0,)"
      << R"("last10_validation_error":null,"last10_test_top5_error":4.25,"time":2.0})" << '\n';
  ingest();
  const auto epochs = epochs_of(store_, "r1");
  ASSERT_EQ(epochs.size(), 2u);
  EXPECT_TRUE(std::isnan(epochs[0].test_top5_error));
  EXPECT_DOUBLE_EQ(epochs[1].test_top5_error, 3.5);
  EXPECT_DOUBLE_EQ(finals_of(store_, {"r1"}).at(0).last10_test_top5_error, 4.25);
}

// A generator run's done record carries its class consistency and its judge's accuracy; a
// classifier's has them null, a log of an older version lacks them: both are NaN (NULL) then.
TEST_F(Ingest, AGeneratorRunsClassConsistencyIsKeptNullOrAbsentIsNaN) {
  const auto done_with = [](const nlohmann::json& shares) {
    nlohmann::json done = {{"event", "done"}, {"epochs", 1}, {"final_test_error", nullptr},
                           {"best_test_error", nullptr}, {"last10_test_error", nullptr},
                           {"last10_validation_error", nullptr}, {"last10_test_top5_error", nullptr}};
    done.update(shares);
    return done;
  };
  log_.append(done_with({{"class_consistency", 0.625}, {"judge_test_accuracy", 0.8125}}));
  ingest();
  auto finals = finals_of(store_, {"r1"});
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_DOUBLE_EQ(finals[0].class_consistency, 0.625);
  EXPECT_DOUBLE_EQ(finals[0].judge_test_accuracy, 0.8125);

  register_runs(store_, sweep_, {{"classifier", "{}", ""}, {"older", "{}", ""}});
  EventLog classifier(dir_.file("classifier.jsonl"));
  classifier.append(done_with({{"class_consistency", nullptr}, {"judge_test_accuracy", nullptr}}));
  EXPECT_EQ(ingest_events(store_, "classifier", classifier.path()).outcome, Outcome::done);
  EventLog older(dir_.file("older.jsonl"));
  older.done(2, 20.0, 20.0, 25.0);  // as isda-train wrote it before it recorded them
  EXPECT_EQ(ingest_events(store_, "older", older.path()).outcome, Outcome::done);
  finals = finals_of(store_, {"classifier", "older"});
  ASSERT_EQ(finals.size(), 2u);
  for (const auto& row : finals) {
    EXPECT_TRUE(std::isnan(row.class_consistency)) << row.run_id;
    EXPECT_TRUE(std::isnan(row.judge_test_accuracy)) << row.run_id;
  }
  EXPECT_DOUBLE_EQ(finals[1].last10_test_error, 25.0);

  // Re-ingesting a log that has them no more (rewritten by an older worker) leaves no stale value.
  std::filesystem::remove(log_.path());
  log_.append(done_with(nlohmann::json::object()));
  ingest();
  EXPECT_TRUE(std::isnan(finals_of(store_, {"r1"}).at(0).class_consistency));
}

// A share that is not one (a percentage, a string) makes the log unreadable, naming the file, the
// line and the key, and stores nothing of it.
TEST_F(Ingest, AClassConsistencyThatIsNotAShareIsUnreadableNamingTheKey) {
  log_.start();
  log_.append({{"event", "done"}, {"epochs", 1}, {"final_test_error", nullptr}, {"best_test_error", nullptr},
               {"last10_test_error", nullptr}, {"last10_validation_error", nullptr}, {"class_consistency", 62.5},
               {"judge_test_accuracy", 0.8}});
  auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::unreadable);
  EXPECT_EQ(result.reason, log_.path() + ": line 2: \"class_consistency\" is 62.5, not a share between 0 and 1");
  EXPECT_TRUE(finals_of(store_, {"r1"}).empty());

  std::filesystem::remove(log_.path());
  log_.append({{"event", "done"}, {"epochs", 1}, {"final_test_error", nullptr}, {"best_test_error", nullptr},
               {"last10_test_error", nullptr}, {"last10_validation_error", nullptr}, {"judge_test_accuracy", "high"}});
  result = ingest();
  EXPECT_EQ(result.outcome, Outcome::unreadable);
  EXPECT_THAT(result.reason, HasSubstr("line 1: \"judge_test_accuracy\" is not a number"));
  EXPECT_EQ(result.reason.find('\n'), std::string::npos);
}

TEST_F(Ingest, ReIngestingTheSameLogAndAGrownOneGivesExactlyTheRightRows) {
  log_.start();
  log_.epoch(1, 30.0, 31.0);
  log_.epoch(2, 20.0, 21.0);
  ingest();
  const auto again = ingest();
  EXPECT_EQ(again.outcome, Outcome::running);
  EXPECT_EQ(epoch_numbers(), (std::vector<int64_t>{1, 2}));
  EXPECT_TRUE(finals_of(store_, {"r1"}).empty());

  log_.epoch(3, 15.0, 16.0);
  const auto grown = ingest();
  EXPECT_EQ(grown.last_epoch, 3);
  EXPECT_EQ(epoch_numbers(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_DOUBLE_EQ(epochs_of(store_, "r1")[2].validation_error, 16.0);
  log_.done(3, 15.0, 15.0, 21.67);
  ingest();
  ingest();
  EXPECT_EQ(epoch_numbers(), (std::vector<int64_t>{1, 2, 3}));
  EXPECT_EQ(finals_of(store_, {"r1"}).size(), 1u);
}

TEST_F(Ingest, AResumedRunsLogEndsInTheOutcomeOfItsLastAttempt) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.interrupted(15, 1, 0);
  log_.start(1);
  log_.epoch(2, 20.0);
  const auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::running);
  EXPECT_EQ(result.signal, 0);
  EXPECT_EQ(epoch_numbers(), (std::vector<int64_t>{1, 2}));
}

TEST_F(Ingest, AStartLoggedAfterDoneLeavesTheRunDone) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.done(1, 30.0, 30.0, 30.0);
  log_.start(1);  // isda-train rerun on the finished run directory
  EXPECT_EQ(ingest().outcome, Outcome::done);
}

TEST_F(Ingest, ATornLastLineIsIgnored) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.append_raw(R"({"epoch":2,"train_loss":1.0,"train_err)");
  const auto result = ingest();
  EXPECT_TRUE(result.torn_line_ignored);
  EXPECT_EQ(result.last_epoch, 1);
  EXPECT_EQ(epoch_numbers(), (std::vector<int64_t>{1}));
}

TEST_F(Ingest, AFailedEventReturnsItsReason) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.failed("loss is NaN at epoch 2 step 50");
  const auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::failed);
  EXPECT_EQ(result.reason, "loss is NaN at epoch 2 step 50");
  EXPECT_EQ(result.last_epoch, 1);
}

TEST_F(Ingest, AnInterruptedEventReturnsItsSignal) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.interrupted(15, 1, 120);
  const auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::interrupted);
  EXPECT_EQ(result.signal, 15);
  EXPECT_EQ(result.last_epoch, 1);
}

TEST_F(Ingest, AMissingOrEmptyLogIsNothingYet) {
  const auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::none);
  EXPECT_EQ(result.last_epoch, 0);
  EXPECT_TRUE(epochs_of(store_, "r1").empty());
}

// A bad log fails its run, not the store: the outcome says which file and line, nothing of the
// log is stored, and the store goes on working.
TEST_F(Ingest, AMalformedLineInTheMiddleIsUnreadableNamingTheFileAndLineAndStoresNothing) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.append_raw("{\"event\": \"epoch\", \"epoch\": 2,,}\n");
  log_.epoch(3, 20.0);
  const auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::unreadable);
  EXPECT_THAT(result.reason, HasSubstr(log_.path() + ": line 3 is not JSON"));
  EXPECT_EQ(result.reason.find('\n'), std::string::npos);
  EXPECT_TRUE(epochs_of(store_, "r1").empty());  // one transaction: all or nothing
  set_state(store_, "r1", RunState::running);
  record_failure(store_, "r1", events::Fault::run, result.reason);
  EXPECT_EQ(find_run(store_, "r1")->state, RunState::failed);
}

TEST_F(Ingest, AnEpochEventWithoutItsMetricsIsUnreadable) {
  log_.start();
  log_.append({{"event", "epoch"}, {"epoch", 1}, {"train_loss", 1.0}});
  const auto result = ingest();
  EXPECT_EQ(result.outcome, Outcome::unreadable);
  EXPECT_THAT(result.reason, HasSubstr("line 2: epoch event lacks \"train_error\""));
}

// The outcome is the attempt's own: records before the byte where it started count for the data
// (epochs, finals) but not for how the attempt ended, so a worker that dies before logging
// anything does not inherit the last attempt's `interrupted` or `failed`.
TEST_F(Ingest, TheOutcomeIsThatOfTheRecordsFromTheAttemptsStart) {
  log_.start();
  log_.epoch(1, 30.0);
  log_.interrupted(15, 1, 3);
  const auto start = static_cast<int64_t>(std::filesystem::file_size(log_.path()));
  auto result = ingest_events(store_, "r1", log_.path(), start);
  EXPECT_EQ(result.outcome, Outcome::none);
  EXPECT_EQ(result.signal, 0);
  EXPECT_EQ(epoch_numbers(), (std::vector<int64_t>{1}));
  log_.append({{"event", "failed"}, {"reason", "disk full"}, {"fault", "environment"}, {"exit_code", 8}});
  result = ingest_events(store_, "r1", log_.path(), start);
  EXPECT_EQ(result.outcome, Outcome::failed);
  EXPECT_EQ(result.fault, events::Fault::environment);
  EXPECT_EQ(result.exit_code, 8);
  EXPECT_EQ(ingest().outcome, Outcome::failed);  // the whole log ends the same way
}

TEST_F(Ingest, NullMetricsAreStoredAsAbsent) {
  log_.start();
  log_.epoch(1, NAN, NAN);
  ingest();
  const auto epochs = epochs_of(store_, "r1");
  ASSERT_EQ(epochs.size(), 1u);
  EXPECT_TRUE(std::isnan(epochs[0].test_error));
  EXPECT_TRUE(std::isnan(epochs[0].validation_error));
}

}  // namespace
}  // namespace isda::results
