// The large networks of the zoo: forward + backward at batch 2 on the CPU, and a Fashion-MNIST
// shaped (1x28x28, batch 1, eval) forward for the large CIFAR ones. Label slow (about a minute on 2 cores).
#include "models/registry.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

namespace isda::models {
namespace {

struct Case {
  const char* name;
  // Input side: 16 for CIFAR networks (32 for the cheap ones), ResNet-50 at the paper's 224, the
  // other ImageNet ones at 64; smaller inputs keep the suite within a couple of minutes on 2 cores
  // (every network pools adaptively, so the graph is the same). 28x28 is covered below.
  int64_t image_size;
  bool imagenet;
};

class LargeModel : public ::testing::TestWithParam<Case> {};

TEST_P(LargeModel, ForwardAndBackwardAtBatchTwo) {
  torch::manual_seed(0);
  const auto& c = GetParam();
  const int64_t classes = c.imagenet ? 1000 : 100;
  auto model = make_model(c.name, {classes, 3});
  model->train();
  const auto logits = model->forward(torch::randn({2, 3, c.image_size, c.image_size}));
  ASSERT_EQ(logits.sizes(), torch::IntArrayRef({2, classes}));
  torch::nn::functional::cross_entropy(logits, torch::tensor({1, 5})).backward();
  for (const auto& item : model->named_parameters()) {
    ASSERT_TRUE(item.value().grad().defined()) << item.key();
    ASSERT_TRUE(torch::isfinite(item.value().grad()).all().item<bool>()) << item.key();
  }
  EXPECT_GT(model->head()->weight.grad().abs().sum().item<double>(), 0);
  EXPECT_EQ(model->features(torch::randn({1, 3, c.image_size, c.image_size})).size(1), model->feature_dim());
}

TEST_P(LargeModel, RunsOnFashionMnistShapes) {
  const auto& c = GetParam();
  if (c.imagenet) GTEST_SKIP() << "ImageNet networks are not run on 28x28";
  torch::manual_seed(0);
  auto model = make_model(c.name, {10, 1});
  model->eval();
  torch::NoGradGuard no_grad;
  const auto logits = model->forward(torch::randn({1, 1, 28, 28}));
  EXPECT_EQ(logits.sizes(), torch::IntArrayRef({1, 10}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

INSTANTIATE_TEST_SUITE_P(Zoo, LargeModel,
                         ::testing::Values(Case{"wrn28_10", 32, false}, Case{"resnext29_8x64d", 16, false},
                                           Case{"densenet_bc190_40", 16, false}, Case{"shake_shake26_2x112d", 32, false},
                                           Case{"pyramidnet272_a200", 16, false}, Case{"resnet50", 224, true},
                                           Case{"resnet152", 64, true}, Case{"resnext50_32x4d", 64, true}),
                         [](const auto& param_info) { return std::string(param_info.param.name); });

}  // namespace
}  // namespace isda::models
