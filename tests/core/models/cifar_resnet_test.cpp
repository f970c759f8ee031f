#include "models/registry.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

namespace isda::models {
namespace {

int64_t parameter_count(torch::nn::Module& module) {
  int64_t total = 0;
  for (const auto& p : module.parameters()) total += p.numel();
  return total;
}

TEST(CifarResNet, ResNet32HasThePapersParameterCountAndFeatureDimension) {
  auto model = make_model("resnet32", {10, 3});
  EXPECT_EQ(model->feature_dim(), 64);
  EXPECT_EQ(model->num_classes(), 10);
  EXPECT_NEAR(static_cast<double>(parameter_count(*model)) / 1e6, 0.5, 0.05);  // paper: 0.5M
}

TEST(CifarResNet, RunsOnFashionMnistAndCifarShapes) {
  auto gray = make_model("resnet8", {10, 1});
  EXPECT_EQ(gray->features(torch::randn({2, 1, 28, 28})).sizes(), torch::IntArrayRef({2, 64}));
  auto color = make_model("resnet20", {100, 3});
  const auto logits = color->forward(torch::randn({2, 3, 32, 32}));
  EXPECT_EQ(logits.sizes(), torch::IntArrayRef({2, 100}));
  logits.sum().backward();
  EXPECT_TRUE(color->head()->weight.grad().defined());
}

TEST(CifarResNet, BatchNormLayersStartAtOneAndZero) {
  auto model = make_model("resnet8", {10, 1});
  for (const auto& item : model->named_parameters()) {
    if (item.key().find("bn") != std::string::npos && item.key().find("weight") != std::string::npos) {
      EXPECT_TRUE(torch::equal(item.value(), torch::ones_like(item.value()))) << item.key();
    }
  }
}

TEST(ModelRegistry, UnknownNameListsTheKnownOnes) {
  try {
    make_model("resnet33", {});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("unknown model \"resnet33\""));
    EXPECT_THAT(e.what(), ::testing::HasSubstr("resnet32"));
  }
  EXPECT_EQ(model_names().front(), "resnet8");
}

}  // namespace
}  // namespace isda::models
