#include "train/train_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

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
  EXPECT_THAT(error_of({{"method", "mixup"}}), HasSubstr("run.json: method: unknown value \"mixup\" (known: ce, isda)"));
  EXPECT_THAT(error_of({{"covariance", "low-rank"}}), HasSubstr("covariance: unknown value"));
  EXPECT_THAT(error_of({{"lambda0", -1}}), HasSubstr("lambda0: must not be negative"));
  EXPECT_THAT(error_of({{"lr_milestones", {5, 3}}}), HasSubstr("lr_milestones: must be increasing"));
  EXPECT_THAT(error_of({{"seed", -1}}), HasSubstr("seed: expected"));
  EXPECT_THAT(error_of({{"nesterov", 1}}), HasSubstr("nesterov: expected a boolean"));
  EXPECT_THAT(error_of({{"device", "tpu"}}), HasSubstr("device: unknown value \"tpu\""));
  EXPECT_THAT(error_of(nlohmann::json::array()), HasSubstr("run.json: expected a JSON object"));
}

}  // namespace
}  // namespace isda::train
