// The cost model behind isda-run --dry-run's estimates and the progress ETA.
#include "runner/cost_estimate.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

namespace isda::runner {
namespace {

using ::testing::HasSubstr;

train::TrainConfig config(const std::string& model, const std::string& method, const std::string& dataset = "cifar10") {
  train::TrainConfig c;
  c.model = model;
  c.method = method;
  c.dataset = dataset;
  c.device = "cpu";
  c.epochs = 10;
  return c;
}

results::EpochTiming timing(const train::TrainConfig& c, double seconds_per_epoch, const std::string& gpu = "") {
  return {"r", train::to_json(c).dump(), gpu, seconds_per_epoch, 3};
}

results::Calibration calibration(const std::string& model, const std::string& method, double train, double test,
                                 const std::string& device = "cpu: test (2 threads)") {
  return {device, model, 32, method, "fp32", 128, 2, train, test, 5, 100};
}

TEST(CostEstimate, CountsTheImagesOfAnEpochFromTheDataSetAndItsLimits) {
  auto c = config("resnet32", "ce");
  auto images = epoch_images(c);
  ASSERT_TRUE(images.has_value());
  EXPECT_EQ(images->resolution, 32);
  EXPECT_EQ(images->train, 50000);
  EXPECT_EQ(images->evaluated, 10000);
  c.holdout = true;  // 45,000 trained on; 10,000 tested and 5,000 validated
  images = epoch_images(c);
  EXPECT_EQ(images->train, 45000);
  EXPECT_EQ(images->evaluated, 15000);
  c.train_limit = 1000;
  c.test_limit = 2000;
  images = epoch_images(c);
  EXPECT_EQ(images->train, 1000);
  EXPECT_EQ(images->evaluated, 4000);
  EXPECT_EQ(epoch_images(config("resnet8", "ce", "fashion-mnist"))->resolution, 28);
  EXPECT_FALSE(epoch_images(config("resnet50", "ce", "folder")).has_value());
}

TEST(CostEstimate, ACalibrationGivesTrainingAndTestTime) {
  const CostModel model({calibration("resnet32", "isda", 500, 2500)}, {}, false);
  const auto cost = model.epoch_cost(config("resnet32", "isda"));
  ASSERT_TRUE(cost.has_value());
  EXPECT_DOUBLE_EQ(cost->seconds, 50000.0 / 500 + 10000.0 / 2500);  // 104 s
  EXPECT_THAT(cost->source, HasSubstr("calibrated: cpu: test (2 threads) (isda, fp32, 32 px"));
  // Another method's calibration stands in when there is no other; a GPU one never does for the CPU.
  EXPECT_DOUBLE_EQ(model.epoch_cost(config("resnet32", "ce"))->seconds, 104);
  const CostModel gpu_only({calibration("resnet32", "isda", 5000, 25000, "cuda: NVIDIA H200")}, {}, false);
  EXPECT_FALSE(gpu_only.epoch_cost(config("resnet32", "isda")).has_value());
  auto on_gpu = config("resnet32", "isda");
  on_gpu.device = "auto";
  EXPECT_DOUBLE_EQ(CostModel({calibration("resnet32", "isda", 5000, 25000, "cuda: NVIDIA H200")}, {}, true)
                       .epoch_cost(on_gpu)->seconds,
                   10.4);
  EXPECT_FALSE(model.epoch_cost(config("wrn28_10", "isda")).has_value());  // a model without either: none
}

TEST(CostEstimate, MeasuredEpochsOfTheSameModelComeFirstScaledByTheImages) {
  auto small = config("resnet32", "isda");
  small.train_limit = 5000;
  small.test_limit = 3000;  // 5,000 + 3,000 / 3 = 6,000 units in 12 s: 2 ms per unit
  const CostModel model({calibration("resnet32", "isda", 500, 2500)}, {timing(small, 12.0)}, false);
  const auto cost = model.epoch_cost(config("resnet32", "isda"));  // 50,000 + 10,000 / 3 units
  ASSERT_TRUE(cost.has_value());
  EXPECT_NEAR(cost->seconds, 0.002 * (50000 + 10000 / 3.0), 1e-9);
  EXPECT_EQ(cost->source, "measured: 1 run of resnet32 (isda)");
  // ISDA's covariance is part of the method: diagonal runs do not price a full-covariance run.
  auto diagonal = small;
  diagonal.covariance = "diagonal";
  const CostModel diagonal_runs({}, {timing(diagonal, 1.0)}, false);
  EXPECT_EQ(diagonal_runs.epoch_cost(config("resnet32", "isda"))->source, "measured: 1 run of resnet32 (another method)");
  auto wanted = config("resnet32", "isda");
  wanted.covariance = "diagonal";
  EXPECT_EQ(diagonal_runs.epoch_cost(wanted)->source, "measured: 1 run of resnet32 (isda/diagonal)");
  // A run on a GPU is no evidence for one on the CPU.
  const CostModel gpu_runs({}, {timing(small, 1.0, "NVIDIA H200")}, false);
  EXPECT_FALSE(gpu_runs.epoch_cost(config("resnet32", "isda")).has_value());
}

TEST(CostEstimate, AStageSpreadsItsRunsOverTheSlotsAndNamesModelsWithoutACost) {
  const CostModel model({calibration("resnet32", "isda", 500, 2500)}, {}, false);
  const auto a = config("resnet32", "isda");
  const auto b = config("wrn28_10", "isda");
  const auto stage = estimate_stage("final runs", {{&a, 10}, {&a, 10}, {&a, 5}, {&b, 10}}, model, 2);
  EXPECT_EQ(stage.runs, 4);
  EXPECT_EQ(stage.epochs, 35);
  EXPECT_DOUBLE_EQ(stage.device_seconds, 104.0 * 25);
  EXPECT_DOUBLE_EQ(stage.wall_seconds, 104.0 * 15);  // 10 + 5 epochs on one slot, 10 on the other
  EXPECT_EQ(stage.runs_without_cost, 1);
  EXPECT_THAT(stage.models_without_cost, ::testing::ElementsAre("wrn28_10 at 32 px (isda)"));
  std::ostringstream out;
  print_estimates({stage}, "2 CPU slots", out);
  EXPECT_THAT(out.str(), HasSubstr("estimate (2 CPU slots):\n  final runs: 4 runs, 35 epochs, device time 43m20s, wall time "
                                   "26m00s (without 1 runs of unknown cost)"));
  EXPECT_THAT(out.str(), HasSubstr("no calibration or measured epochs for wrn28_10 at 32 px (isda): run isda-bench "
                                   "calibrate --models wrn28_10"));
}

TEST(CostEstimate, ListScheduleStartsEachRunOnTheSlotThatFreesFirst) {
  EXPECT_DOUBLE_EQ(list_schedule({0, 0}, std::vector<double>{}), 0);
  EXPECT_DOUBLE_EQ(list_schedule({30, 0}, std::vector<double>{20, 20}), 40);  // 0 -> 20 -> 40 on slot 2; slot 1 ends at 30
  EXPECT_DOUBLE_EQ(list_schedule({}, std::vector<double>{5, 5}), 10);
  // A run of two ranks waits for two free slots and holds both.
  EXPECT_DOUBLE_EQ(list_schedule({30, 0, 0}, std::vector<WideRun>{{10, 2}, {10, 2}}), 30);  // 0-10, 10-20 on slots 2 and 3
  EXPECT_DOUBLE_EQ(list_schedule({30, 0}, std::vector<WideRun>{{10, 2}}), 40);  // waits for slot 1 to free at 30
  EXPECT_DOUBLE_EQ(list_schedule({0}, std::vector<WideRun>{{10, 8}}), 10);  // wider than the slots: all of them
}

// A generator run is priced by generator runs of its task (never by a classifier's epochs), and has
// no test images; a run without any is named by its task.
TEST(CostEstimate, AGeneratorRunIsPricedByGeneratorRunsOfItsTask) {
  auto classifier = config("resnet20", "isda", "fashion-mnist");
  auto generator = config("resnet20", "isda", "fashion-mnist");
  generator.task = "cgan";
  EXPECT_EQ(epoch_images(generator)->evaluated, 0);
  EXPECT_EQ(cost_key(generator), "cgan");
  const CostModel classifiers_only({}, {timing(classifier, 6.0)}, false);
  EXPECT_FALSE(classifiers_only.epoch_cost(generator).has_value());
  const auto stage = estimate_stage("generators", {{&generator, 5}}, classifiers_only, 1);
  EXPECT_THAT(stage.models_without_cost, ::testing::ElementsAre("cgan at 28 px (isda)"));
  const CostModel both({}, {timing(classifier, 6.0), timing(generator, 40.0)}, false);
  EXPECT_DOUBLE_EQ(both.epoch_cost(generator)->seconds, 40.0);
  EXPECT_EQ(both.epoch_cost(generator)->source, "measured: 1 run of cgan (isda)");
  EXPECT_NEAR(both.epoch_cost(classifier)->seconds, 6.0, 1e-12);
}

// A run of R ranks shares each epoch among R devices: 1/R of one device's epoch on the wall, R
// devices' worth of device time, R slots held at once.
TEST(CostEstimate, ADataParallelRunHoldsOneSlotPerRank) {
  const CostModel model({calibration("resnet32", "isda", 500, 2500)}, {}, false);
  auto two = config("resnet32", "isda");
  two.ranks = 2;
  EXPECT_DOUBLE_EQ(model.epoch_cost(two)->seconds, 104.0 / 2);
  const auto single = config("resnet32", "isda");
  const auto stage = estimate_stage("final runs", {{&two, 10}, {&single, 10}}, model, 2);
  EXPECT_DOUBLE_EQ(stage.device_seconds, 52.0 * 10 * 2 + 104.0 * 10);
  EXPECT_DOUBLE_EQ(stage.wall_seconds, 1040.0 + 520.0);  // the single run first, then the 2-rank run on both slots
  // A measured 2-rank run is one device's epoch of twice its time.
  const CostModel measured({}, {timing(two, 52.0)}, false);
  EXPECT_NEAR(measured.epoch_cost(single)->seconds, 104.0, 1e-9);
  EXPECT_NEAR(measured.epoch_cost(two)->seconds, 52.0, 1e-9);
}

}  // namespace
}  // namespace isda::runner
