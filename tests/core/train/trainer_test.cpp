#include "train/trainer.h"

#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "data/data_error.h"
#include "support/idx_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

namespace isda::train {
namespace {

using ::testing::HasSubstr;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.file("data");
    std::filesystem::create_directories(data_);
    testing::write_synthetic_fashion_mnist(data_, 960, 200, 1);
  }

  TrainConfig tiny(const std::string& method) const {
    TrainConfig c;
    c.model = "resnet8";
    c.data_root = data_;
    c.augment = "none";
    c.method = method;
    c.epochs = 3;
    c.batch_size = 32;
    c.lr = 0.05;
    c.lr_milestones = {2};
    c.lambda0 = 0.5;
    c.seed = 3;
    c.device = "cpu";
    c.threads = 1;
    return c;
  }

  std::vector<nlohmann::json> events_of(const std::string& run, const std::string& kind) const {
    std::vector<nlohmann::json> found;
    for (const auto& e : RunDirectory(run).read_events()) {
      if (e.at("event") == kind) found.push_back(e);
    }
    return found;
  }

  // Trains until the end of the first epoch, then stops as a signal between epochs would.
  TrainOptions interrupted_after_first_epoch(const TrainConfig& config) {
    TrainOptions options;
    options.run_dir = dir_.file("run");
    options.stop_signal = &stop_;
    options.on_epoch = [this](const EpochMetrics&) { stop_ = 15; };
    EXPECT_THROW(train(config, options), Interrupted);
    stop_ = 0;
    options.on_epoch = nullptr;
    return options;
  }

  static void expect_same_metrics(const TrainResult& a, const TrainResult& b) {
    ASSERT_EQ(a.epochs.size(), b.epochs.size());
    for (size_t e = 0; e < a.epochs.size(); ++e) {
      EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss) << "epoch " << e + 1;
      EXPECT_EQ(a.epochs[e].train_error, b.epochs[e].train_error) << "epoch " << e + 1;
      EXPECT_EQ(a.epochs[e].test_error, b.epochs[e].test_error) << "epoch " << e + 1;
    }
  }

  testing::ScratchDir dir_;
  std::string data_;
  std::atomic<int> stop_{0};
};

TEST_F(TrainerTest, LearnsTheSyntheticClassesWithEitherLoss) {
  for (const std::string method : {"ce", "isda"}) {
    const auto result = train(tiny(method));
    ASSERT_EQ(result.epochs.size(), 3u);
    EXPECT_LT(result.final_test_error, 30.0) << method;  // chance is 90%
    EXPECT_DOUBLE_EQ(result.epochs[0].lr, 0.05);
    EXPECT_DOUBLE_EQ(result.epochs[2].lr, 0.005);
    EXPECT_GT(result.epochs[0].images_per_second, 0);
  }
}

TEST_F(TrainerTest, IsdaRampsLambdaPerEpoch) {
  auto config = tiny("isda");
  config.epochs = 2;
  const auto result = train(config);
  EXPECT_EQ(result.epochs[0].lambda, 0.0);
  EXPECT_DOUBLE_EQ(result.epochs[1].lambda, 0.25);
}

TEST_F(TrainerTest, AFixedSeedRepeatsBitForBitOnCpu) {
  auto config = tiny("isda");
  config.augment = "standard";
  expect_same_metrics(train(config), train(config));
}

TEST_F(TrainerTest, LastTenAverageIsThePapersMetric) {
  auto config = tiny("ce");
  config.epochs = 2;
  const auto result = train(config);
  EXPECT_DOUBLE_EQ(result.last10_test_error, (result.epochs[0].test_error + result.epochs[1].test_error) / 2);
}

TEST_F(TrainerTest, ADivergingRunStopsWithTheReasonInTheEventLog) {
  auto config = tiny("ce");
  config.lr = 1e30;
  config.nesterov = false;
  TrainOptions options;
  options.run_dir = dir_.file("run");
  try {
    train(config, options);
    FAIL() << "expected the run to stop";
  } catch (const RunFailure& e) {
    EXPECT_THAT(e.what(), HasSubstr("training loss"));
    EXPECT_THAT(e.what(), HasSubstr("epoch 1, "));  // where it stopped
  }
  const auto failed = events_of(*options.run_dir, "failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0].at("reason").get<std::string>(), HasSubstr("training loss"));
}

TEST_F(TrainerTest, MissingDataIsADataError) {
  auto config = tiny("ce");
  config.data_root = dir_.file("nowhere");
  try {
    train(config);
    FAIL() << "no error";
  } catch (const RunFailure& e) {
    EXPECT_EQ(e.failure().exit_code, kExitData);
    EXPECT_EQ(failure_of(e).exit_code, kExitData);
  }
}

// A run that fails before its start event still says why in its run directory, for the
// coordinator: the reason, whose fault it is and isda-train's exit code.
TEST_F(TrainerTest, AFailureBeforeTheStartIsLoggedWithItsExitCodeAndFault) {
  auto config = tiny("ce");
  config.data_root = dir_.file("nowhere");
  TrainOptions options;
  options.run_dir = dir_.file("run");
  EXPECT_THROW(train(config, options), RunFailure);
  const auto failed = events_of(*options.run_dir, "failed");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_THAT(failed[0].at("reason").get<std::string>(), HasSubstr("nowhere"));
  EXPECT_EQ(failed[0].at("fault"), "run");
  EXPECT_EQ(failed[0].at("exit_code"), 3);
  EXPECT_TRUE(events_of(*options.run_dir, "start").empty());
}

TEST(FailureOf, FullDisksAreTheMachinesFaultAndEverythingElseTheRuns) {
  const auto full = failure_of(common::FileError("run/checkpoint.pt.tmp.7: write failed (No space left on device)", ENOSPC));
  EXPECT_EQ(full.fault, events::Fault::environment);
  EXPECT_EQ(full.exit_code, 8);
  EXPECT_EQ(failure_of(common::FileError("x: cannot open file (No such file or directory)", ENOENT)).fault,
            events::Fault::run);
  EXPECT_EQ(failure_of(CheckpointError("checkpoint.pt: corrupt")).exit_code, 4);
  EXPECT_EQ(failure_of(ConfigError("config: lr: must be positive")).exit_code, 2);
  EXPECT_EQ(failure_of(TrainingError("training loss became nan")).exit_code, 1);
  const auto lost = failure_of(std::runtime_error("CUDA error: unspecified launch failure\nbacktrace..."));
  EXPECT_EQ(lost.fault, events::Fault::environment);
  EXPECT_EQ(lost.reason, "CUDA error: unspecified launch failure");  // one line
}

// Stopped after epoch 1 (as a signal between epochs would), then rerun: the same metrics as
// never stopping, and every epoch in the event log exactly once.
TEST_F(TrainerTest, ResumingAfterAnEpochGivesTheSameMetricsAsNeverStopping) {
  auto config = tiny("isda");
  config.augment = "standard";
  const auto straight = train(config);

  const auto options = interrupted_after_first_epoch(config);
  const auto resumed = train(config, options);
  expect_same_metrics(straight, resumed);

  const auto epochs = events_of(*options.run_dir, "epoch");
  ASSERT_EQ(epochs.size(), 3u);
  for (int e = 0; e < 3; ++e) EXPECT_EQ(epochs[e].at("epoch"), e + 1);
  EXPECT_EQ(events_of(*options.run_dir, "interrupted").size(), 1u);
  EXPECT_EQ(events_of(*options.run_dir, "done").size(), 1u);
  EXPECT_TRUE(std::filesystem::exists(*options.run_dir + "/result.json"));
}

// A signal mid-epoch: finish the step, checkpoint inside the epoch, resume at the next step.
TEST_F(TrainerTest, ResumingInsideAnEpochGivesTheSameMetricsAsNeverStopping) {
  auto config = tiny("isda");
  config.epochs = 2;
  config.augment = "standard";
  const auto straight = train(config);

  std::atomic<int> stop{10};  // already raised: stops after the first step
  TrainOptions options;
  options.run_dir = dir_.file("run");
  options.stop_signal = &stop;
  try {
    train(config, options);
    FAIL() << "expected an interruption";
  } catch (const Interrupted& e) {
    EXPECT_EQ(e.signal, 10);
  }
  const auto interrupted = events_of(*options.run_dir, "interrupted");
  ASSERT_EQ(interrupted.size(), 1u);
  EXPECT_EQ(interrupted[0].at("step"), 1);
  stop = 0;
  expect_same_metrics(straight, train(config, options));
}

TEST_F(TrainerTest, ARerunOfAFinishedRunChangesNothing) {
  auto config = tiny("ce");
  config.epochs = 1;
  TrainOptions options;
  options.run_dir = dir_.file("run");
  const auto first = train(config, options);
  const auto again = train(config, options);
  expect_same_metrics(first, again);
  EXPECT_EQ(events_of(*options.run_dir, "epoch").size(), 1u);
  EXPECT_EQ(events_of(*options.run_dir, "done").size(), 1u);
}

TEST_F(TrainerTest, ACorruptOrTruncatedCheckpointIsReportedNotLoaded) {
  auto config = tiny("ce");
  config.epochs = 2;
  const auto options = interrupted_after_first_epoch(config);
  const auto checkpoint = *options.run_dir + "/checkpoint.pt";
  const auto size = std::filesystem::file_size(checkpoint);
  {
    std::fstream file(checkpoint, std::ios::in | std::ios::out | std::ios::binary);
    file.seekp(static_cast<std::streamoff>(size / 2));
    file.put('\x5a');
  }
  try {
    train(config, options);
    FAIL() << "a corrupt checkpoint was loaded";
  } catch (const RunFailure& e) {
    EXPECT_THAT(e.what(), HasSubstr("checkpoint.pt: corrupt"));
  }
  const auto failed = events_of(*options.run_dir, "failed");
  ASSERT_EQ(failed.size(), 1u);  // the run says why itself, naming the file
  EXPECT_THAT(failed[0].at("reason").get<std::string>(), HasSubstr("checkpoint.pt: corrupt"));
  EXPECT_EQ(failed[0].at("exit_code"), 4);
  std::filesystem::resize_file(checkpoint, size - 100);
  try {
    train(config, options);
    FAIL() << "a truncated checkpoint was loaded";
  } catch (const RunFailure& e) {
    EXPECT_THAT(e.what(), HasSubstr("checkpoint.pt: truncated"));
  }
}

TEST_F(TrainerTest, ACheckpointOfAnotherConfigIsRefused) {
  auto config = tiny("ce");
  config.epochs = 2;
  const auto options = interrupted_after_first_epoch(config);
  config.lr = 0.2;
  try {
    train(config, options);
    FAIL() << "a checkpoint of another config was loaded";
  } catch (const RunFailure& e) {
    EXPECT_THAT(e.what(), HasSubstr("written by another config (lr is 0.05 there, 0.2 here)"));
  }
}

// A stop on a signal leaves the marker the Slurm job script tests for; the next start clears it.
TEST_F(TrainerTest, AStopOnASignalLeavesTheInterruptedMarkUntilTheNextStart) {
  auto config = tiny("ce");
  config.epochs = 2;
  const auto options = interrupted_after_first_epoch(config);
  EXPECT_TRUE(std::filesystem::exists(*options.run_dir + "/interrupted"));
  train(config, options);
  EXPECT_FALSE(std::filesystem::exists(*options.run_dir + "/interrupted"));
}

// A crash mid-append before the first checkpoint: the torn record is dropped, not glued onto the
// next one.
TEST_F(TrainerTest, ATornEventLineWithoutACheckpointIsDroppedToo) {
  auto config = tiny("ce");
  config.epochs = 1;
  TrainOptions options;
  options.run_dir = dir_.file("run");
  std::filesystem::create_directories(*options.run_dir);
  std::ofstream(*options.run_dir + "/events.jsonl") << R"({"event":"start","epo)";
  train(config, options);
  EXPECT_EQ(events_of(*options.run_dir, "start").size(), 1u);
  EXPECT_EQ(events_of(*options.run_dir, "done").size(), 1u);
}

TEST_F(TrainerTest, ATornEventLineFromACrashIsDroppedOnResume) {
  auto config = tiny("ce");
  config.epochs = 2;
  const auto options = interrupted_after_first_epoch(config);
  std::ofstream(*options.run_dir + "/events.jsonl", std::ios::app) << R"({"event": "epo)";
  train(config, options);
  EXPECT_EQ(events_of(*options.run_dir, "epoch").size(), 2u);
}

}  // namespace
}  // namespace isda::train
