#include "train/train_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>

namespace isda::train {
namespace {

using ::testing::HasSubstr;

std::string error_of(const nlohmann::json& object) {
  try {
    config_from_json(object, "run.json");
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "";
}

TEST(TrainConfig, RoundTripsThroughJson) {
  TrainConfig config;
  config.model = "resnet8";
  config.lambda0 = 0.25;
  config.lr_milestones = {3, 5};
  config.seed = 42;
  const auto back = config_from_json(to_json(config), "test");
  EXPECT_EQ(to_json(back), to_json(config));
}

TEST(TrainConfig, EveryKeyHasHelp) {
  const auto json = to_json(TrainConfig{});
  EXPECT_EQ(config_keys().size(), json.size());
  for (const auto& key : config_keys()) EXPECT_TRUE(json.contains(key.key)) << key.key;
}

TEST(TrainConfig, ErrorsNameTheSourceAndTheKey) {
  EXPECT_THAT(error_of({{"epohcs", 3}}), HasSubstr("run.json: epohcs: unknown key"));
  EXPECT_THAT(error_of({{"epochs", "ten"}}), HasSubstr("run.json: epochs: expected an integer, got a string"));
  EXPECT_THAT(error_of({{"epochs", 0}}), HasSubstr("run.json: epochs: must be positive"));
  EXPECT_THAT(error_of({{"method", "mixup"}}), HasSubstr("run.json: method: unknown value \"mixup\" (known: ce, isda, large_margin, disturb_label, focal, center, lq)"));
  EXPECT_THAT(error_of({{"covariance", "low-rank"}}), HasSubstr("covariance: unknown value"));
  EXPECT_THAT(error_of({{"lambda0", -1}}), HasSubstr("lambda0: must not be negative"));
  EXPECT_THAT(error_of({{"lr_milestones", {5, 3}}}), HasSubstr("lr_milestones: must be increasing"));
  EXPECT_THAT(error_of({{"seed", -1}}), HasSubstr("seed: expected"));
  EXPECT_THAT(error_of({{"nesterov", 1}}), HasSubstr("nesterov: expected a boolean"));
  EXPECT_THAT(error_of({{"device", "tpu"}}), HasSubstr("device: unknown value \"tpu\""));
  EXPECT_THAT(error_of(nlohmann::json::array()), HasSubstr("run.json: expected a JSON object"));
}

TEST(TrainConfig, RecipesFillKeysThatExplicitKeysOverride) {
  const auto wrn = config_from_json({{"recipe", "wrn"}}, "run.json");
  EXPECT_EQ(wrn.epochs, 240);
  EXPECT_EQ(wrn.lr_milestones, (std::vector<int64_t>{60, 120, 160, 200}));
  EXPECT_DOUBLE_EQ(wrn.lr_gamma, 0.2);
  EXPECT_DOUBLE_EQ(wrn.weight_decay, 5e-4);
  EXPECT_DOUBLE_EQ(wrn.dropout, 0.3);
  const auto shorter = config_from_json({{"recipe", "wrn"}, {"epochs", 3}}, "run.json");
  EXPECT_EQ(shorter.epochs, 3);
  EXPECT_EQ(config_from_json({{"recipe", "shake_shake"}}, "x").lr_schedule, "cosine");
  EXPECT_THAT(error_of({{"recipe", "vgg"}}), HasSubstr("run.json: recipe: unknown recipe \"vgg\" (known: densenet"));
}

TEST(TrainConfig, LearningRateSchedules) {
  TrainConfig c;
  c.lr = 0.1;
  c.lr_milestones = {80, 120};
  c.lr_gamma = 0.1;
  EXPECT_DOUBLE_EQ(learning_rate(c, 79), 0.1);
  EXPECT_NEAR(learning_rate(c, 80), 0.01, 1e-15);
  EXPECT_NEAR(learning_rate(c, 120), 0.001, 1e-15);
  c.lr_decay_early = true;  // the authors' code: one epoch early
  EXPECT_NEAR(learning_rate(c, 79), 0.01, 1e-15);
  c.lr_schedule = "cosine";
  c.epochs = 100;
  EXPECT_DOUBLE_EQ(learning_rate(c, 0), 0.1);
  EXPECT_NEAR(learning_rate(c, 50), 0.05, 1e-15);
  EXPECT_NEAR(learning_rate(c, 99), 0.1 * 0.5 * (1 + std::cos(M_PI * 0.99)), 1e-15);
}

}  // namespace
}  // namespace isda::train
