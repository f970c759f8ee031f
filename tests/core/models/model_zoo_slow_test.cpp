// The large networks of the zoo: forward + backward at batch 2 on the CPU, and a Fashion-MNIST
// shaped (1x28x28, batch 1, eval) forward for the large CIFAR ones. Label slow (about a minute on 2 cores).
#include "models/registry.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iterator>
#include <string>
#include <vector>

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

// The CIFAR networks only: the ImageNet ones are not meant for 28x28 inputs.
class LargeCifarModel : public ::testing::TestWithParam<Case> {};

TEST_P(LargeCifarModel, RunsOnFashionMnistShapes) {
  const auto& c = GetParam();
  torch::manual_seed(0);
  auto model = make_model(c.name, {10, 1});
  model->eval();
  torch::NoGradGuard no_grad;
  const auto logits = model->forward(torch::randn({1, 1, 28, 28}));
  EXPECT_EQ(logits.sizes(), torch::IntArrayRef({1, 10}));
  EXPECT_TRUE(torch::isfinite(logits).all().item<bool>());
}

const Case kCifarCases[] = {{"wrn28_10", 32, false},          {"resnext29_8x64d", 16, false},
                            {"densenet_bc190_40", 16, false}, {"shake_shake26_2x112d", 32, false},
                            {"pyramidnet272_a200", 16, false}};
const Case kImagenetCases[] = {{"resnet50", 224, true}, {"resnet152", 64, true}, {"resnext50_32x4d", 64, true}};

std::vector<Case> all_cases() {
  std::vector<Case> cases(std::begin(kCifarCases), std::end(kCifarCases));
  cases.insert(cases.end(), std::begin(kImagenetCases), std::end(kImagenetCases));
  return cases;
}

std::string case_name(const ::testing::TestParamInfo<Case>& param_info) { return param_info.param.name; }

INSTANTIATE_TEST_SUITE_P(Zoo, LargeModel, ::testing::ValuesIn(all_cases()), case_name);
INSTANTIATE_TEST_SUITE_P(Zoo, LargeCifarModel, ::testing::ValuesIn(kCifarCases), case_name);

}  // namespace
}  // namespace isda::models
