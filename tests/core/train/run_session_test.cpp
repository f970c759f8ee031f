// The run harness on its own, with a task that needs no data: the order of the records, a stop
// inside and between epochs, and resume from (epoch, step) with the task's partial sums.
#include "train/run_session.h"

#include "common/run_files.h"
#include "support/idx_files.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>

namespace isda::train {
namespace {

constexpr int64_t kSteps = 4;

// Each step adds (epoch + 1) * (step + 1) to the epoch's sum; the epoch's "loss" is that sum. A
// stop is raised after step `stop_after.second` of epoch `stop_after.first` (1-based steps).
class CountingTask : public RunTask {
 public:
  CountingTask(RunSession& session, std::atomic<int>* stop, std::pair<int64_t, int64_t> stop_after)
      : session_(session), stop_(stop), stop_after_(stop_after) {}

  EpochMetrics train_epoch(int64_t epoch, int64_t first_step) override {
    first_steps.push_back(first_step);
    for (int64_t step = first_step; step < kSteps; ++step) {
      sum_ += static_cast<double>((epoch + 1) * (step + 1));
      if (stop_ && epoch == stop_after_.first && step + 1 == stop_after_.second) *stop_ = 15;
      const int signal = session_.step_finished(epoch, step + 1);
      if (signal != 0 && step + 1 < kSteps) session_.stop_within_epoch(signal, epoch, step + 1);
    }
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.train_loss = sum_;
    sum_ = 0;
    return m;
  }
  void save(nlohmann::json& meta, torch::serialize::OutputArchive& archive) override {
    meta["sum"] = sum_;
    archive.write("weights", torch::full({2}, sum_, torch::kFloat64));
  }
  void load(const nlohmann::json& meta, torch::serialize::InputArchive& archive) override {
    sum_ = meta.at("sum").get<double>();
    torch::Tensor weights;
    archive.read("weights", weights);
    EXPECT_EQ(weights[0].item<double>(), sum_);
  }
  void finish(TrainResult& result) override { result.final_test_error = result.epochs.back().train_loss; }

  std::vector<int64_t> first_steps;

 private:
  RunSession& session_;
  std::atomic<int>* stop_;
  std::pair<int64_t, int64_t> stop_after_;
  double sum_ = 0;
};

class RunSessionTest : public ::testing::Test {
 protected:
  TrainConfig config() const {
    TrainConfig c;
    c.epochs = 3;
    c.device = "cpu";
    c.method = "ce";
    return c;
  }

  // Runs the counting task, stopping after (epoch, step) when given; returns the task's first steps.
  std::vector<int64_t> run(const std::string& dir, std::optional<std::pair<int64_t, int64_t>> stop_after,
                           TrainResult* result = nullptr) {
    std::atomic<int> stop{0};
    TrainOptions options;
    options.run_dir = dir;
    options.stop_signal = &stop;
    std::vector<int64_t> first_steps;
    const auto go = [&] {
      return run_in_session(config(), options, [&](RunSession& session) {
        CountingTask task(session, stop_after ? &stop : nullptr, stop_after.value_or(std::pair<int64_t, int64_t>{-1, -1}));
        try {
          auto r = session.run(task);
          first_steps = task.first_steps;
          return r;
        } catch (...) {
          first_steps = task.first_steps;
          throw;
        }
      });
    };
    if (stop_after) {
      EXPECT_THROW(go(), Interrupted);
    } else {
      const auto r = go();
      if (result) *result = r;
    }
    return first_steps;
  }

  std::vector<std::string> event_kinds(const std::string& dir) const {
    std::vector<std::string> kinds;
    for (const auto& e : RunDirectory(dir).read_events()) kinds.push_back(e.at("event").get<std::string>());
    return kinds;
  }

  testing::ScratchDir dir_;
};

TEST_F(RunSessionTest, AStopInsideAnEpochResumesAtItsStepWithTheTaskSums) {
  TrainResult straight;
  run(dir_.file("straight"), std::nullopt, &straight);
  ASSERT_EQ(straight.epochs.size(), 3u);
  EXPECT_EQ(straight.epochs[1].train_loss, 2.0 * (1 + 2 + 3 + 4));
  EXPECT_EQ(straight.final_test_error, 3.0 * 10) << "the task's finish() made the final figures";

  const auto dir = dir_.file("stopped");
  run(dir, std::pair<int64_t, int64_t>{1, 2});  // epoch 2 (0-based 1), after step 2
  EXPECT_EQ(event_kinds(dir), (std::vector<std::string>{"start", "epoch", "interrupted"}));
  const auto interrupted = RunDirectory(dir).read_events().back();
  EXPECT_EQ(interrupted.at("epoch"), 1);
  EXPECT_EQ(interrupted.at("step"), 2);
  EXPECT_TRUE(std::filesystem::exists(dir + "/" + run_files::kInterrupted));

  TrainResult resumed;
  const auto first_steps = run(dir, std::nullopt, &resumed);
  EXPECT_EQ(first_steps, (std::vector<int64_t>{2, 0})) << "epoch 2 from step 2, then epoch 3";
  EXPECT_FALSE(std::filesystem::exists(dir + "/" + run_files::kInterrupted)) << "the next attempt clears the marker";
  ASSERT_EQ(resumed.epochs.size(), 3u);
  for (size_t e = 0; e < 3; ++e) EXPECT_EQ(resumed.epochs[e].train_loss, straight.epochs[e].train_loss) << e;
  EXPECT_EQ(event_kinds(dir),
            (std::vector<std::string>{"start", "epoch", "interrupted", "start", "epoch", "epoch", "done"}));
  EXPECT_EQ(RunDirectory(dir).read_events()[3].at("step"), 2) << "the second start says where it went on";
}

TEST_F(RunSessionTest, AStopAtTheEndOfAnEpochCheckpointsBeforeItsEvent) {
  const auto dir = dir_.file("run");
  run(dir, std::pair<int64_t, int64_t>{0, kSteps});  // the signal arrives in the epoch's last step
  EXPECT_EQ(event_kinds(dir), (std::vector<std::string>{"start", "epoch", "interrupted"}));
  EXPECT_EQ(RunDirectory(dir).read_events().back().at("step"), 0) << "stopped between epochs";
  EXPECT_TRUE(RunDirectory(dir).has_checkpoint());
  const auto first_steps = run(dir, std::nullopt);
  EXPECT_EQ(first_steps, (std::vector<int64_t>{0, 0})) << "epochs 2 and 3, whole";
}

TEST_F(RunSessionTest, AFailureSaysWhatTheRunWasDoingAndIsLogged) {
  const auto dir = dir_.file("run");
  TrainOptions options;
  options.run_dir = dir;
  try {
    run_in_session(config(), options, [&](RunSession& session) -> TrainResult {
      session.activity() = Activity{"training", 2, 3, 4};
      throw TrainingError("loss became nan");
    });
    FAIL() << "no failure";
  } catch (const RunFailure& e) {
    EXPECT_EQ(std::string(e.what()), "epoch 2, step 3 of 4: loss became nan");
  }
  const auto events = RunDirectory(dir).read_events();
  ASSERT_EQ(events.size(), 1u);
  EXPECT_EQ(events[0].at("event"), "failed");
  EXPECT_EQ(events[0].at("reason"), "epoch 2, step 3 of 4: loss became nan");
}

}  // namespace
}  // namespace isda::train
