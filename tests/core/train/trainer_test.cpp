#include "train/trainer.h"

#include "data/data_error.h"
#include "support/idx_files.h"

#include <gtest/gtest.h>

namespace isda::train {
namespace {

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_synthetic_fashion_mnist(dir_.path().string(), 960, 200, 1); }

  TrainConfig tiny(const std::string& method) const {
    TrainConfig c;
    c.model = "resnet8";
    c.data_root = dir_.path().string();
    c.method = method;
    c.epochs = 3;
    c.batch_size = 32;
    c.lr = 0.05;
    c.lr_milestones = {2};
    c.lambda0 = 0.5;
    c.seed = 3;
    c.device = "cpu";
    return c;
  }

  testing::ScratchDir dir_;
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
  const auto result = train(tiny("isda"));
  EXPECT_EQ(result.epochs[0].lambda, 0.0);
  EXPECT_DOUBLE_EQ(result.epochs[1].lambda, 0.5 / 3);
  EXPECT_DOUBLE_EQ(result.epochs[2].lambda, 1.0 / 3);
}

TEST_F(TrainerTest, AFixedSeedRepeatsBitForBitOnCpu) {
  const auto a = train(tiny("isda"));
  const auto b = train(tiny("isda"));
  for (size_t e = 0; e < a.epochs.size(); ++e) {
    EXPECT_EQ(a.epochs[e].train_loss, b.epochs[e].train_loss);
    EXPECT_EQ(a.epochs[e].test_error, b.epochs[e].test_error);
  }
}

TEST_F(TrainerTest, LastTenAverageIsThePapersMetric) {
  auto config = tiny("ce");
  config.epochs = 2;
  const auto result = train(config);
  EXPECT_DOUBLE_EQ(result.last10_test_error, (result.epochs[0].test_error + result.epochs[1].test_error) / 2);
}

TEST_F(TrainerTest, ADivergingRunStopsWithTheReason) {
  auto config = tiny("ce");
  config.lr = 1e30;
  config.nesterov = false;
  try {
    train(config);
    FAIL() << "expected the run to stop";
  } catch (const TrainingError& e) {
    EXPECT_NE(std::string(e.what()).find("training loss became"), std::string::npos) << e.what();
  }
}

TEST_F(TrainerTest, MissingDataIsADataError) {
  auto config = tiny("ce");
  config.data_root = dir_.file("nowhere");
  EXPECT_THROW(train(config), data::DataError);
}

}  // namespace
}  // namespace isda::train
