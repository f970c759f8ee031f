// The model zoo: the paper's parameter counts and feature dimensions, the registry, train/eval
// behaviour of dropout, Shake-Shake, ShakeDrop and BN, and save/load. The small networks only; the
// large ones run forward and backward in model_zoo_slow_test.cpp (label slow).
#include "models/batch_norm.h"
#include "models/layers.h"
#include "models/pyramidnet.h"
#include "models/registry.h"
#include "models/shake_shake.h"
#include "models/wide_resnet.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <filesystem>
#include <set>

#include <unistd.h>

namespace isda::models {
namespace {

struct PaperRow {
  const char* name;
  double params_millions;  // as printed in the paper
  int decimals;            // the precision it is printed to
  int64_t feature_dim;
};

// Counted for 10 classes (CIFAR networks) and 1000 classes (ImageNet networks), 3 input channels:
// describe_models() builds every network at its default number of classes.
const PaperRow kPaper[] = {
    {"resnet32", 0.5, 1, 64},
    {"resnet110", 1.7, 1, 64},
    {"se_resnet110", 1.7, 1, 64},
    {"wrn16_8", 11.0, 1, 512},
    {"wrn28_10", 36.5, 1, 640},
    {"resnext29_8x64d", 34.4, 1, 1024},
    {"densenet_bc100_12", 0.8, 1, 342},
    {"densenet_bc190_40", 25.6, 1, 2190},
    {"shake_shake26_2x32d", 2.9, 1, 128},
    {"shake_shake26_2x112d", 36, 0, 448},
    // The PyramidNet paper prints 26.0M; its reference code builds 26,210,842 (as osmr/imgclsmob lists).
    {"pyramidnet272_a200", 26.2, 1, 864},
    {"resnet50", 25.6, 1, 2048},
    {"resnet152", 60.2, 1, 2048},
    {"resnext50_32x4d", 25.0, 1, 2048},
};

const ModelInfo& info_of(const std::string& name) {
  for (const auto& info : describe_models()) {
    if (info.name == name) return info;
  }
  throw std::runtime_error("no ModelInfo for " + name);
}

TEST(ModelZoo, ParameterCountsAndFeatureDimsMatchThePaper) {
  for (const auto& row : kPaper) {
    const auto& info = info_of(row.name);
    const double scale = std::pow(10.0, row.decimals);
    const double millions = static_cast<double>(info.parameter_count) / 1e6;
    EXPECT_DOUBLE_EQ(std::round(millions * scale) / scale, row.params_millions)
        << row.name << ": " << info.parameter_count << " parameters";
    EXPECT_EQ(info.feature_dim, row.feature_dim) << row.name;
  }
}

TEST(ModelZoo, DescribeModelsHasOneEntryPerNameWithItsDefaults) {
  const auto names = model_names();
  const auto& infos = describe_models();
  ASSERT_EQ(infos.size(), names.size());
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(infos[i].name, names[i]);
    EXPECT_GT(infos[i].parameter_count, 0);
    const bool imagenet = infos[i].input_shape[1] == 224;
    EXPECT_EQ(infos[i].default_num_classes, imagenet ? 1000 : 10) << names[i];
    EXPECT_EQ(infos[i].uses_dropout, names[i].rfind("wrn", 0) == 0) << names[i];
    // The LibTorch-free table the runner's memory statements use (models/model_names.h).
    EXPECT_EQ(model_feature_dim(names[i]), infos[i].feature_dim) << names[i];
  }
  EXPECT_EQ(model_feature_dim("vgg16"), 0);
  EXPECT_EQ(std::set<std::string>(names.begin(), names.end()).size(), names.size());
  for (const char* expected : {"resnet8", "resnet110", "se_resnet110", "wrn16_8", "wrn28_10", "resnext29_8x64d",
                               "densenet_bc100_12", "densenet_bc190_40", "shake_shake26_2x32d",
                               "shake_shake26_2x112d", "pyramidnet272_a200", "resnet50", "resnet152",
                               "resnext50_32x4d"}) {
    EXPECT_THAT(names, ::testing::Contains(expected));
  }
}

TEST(ModelZoo, UnknownNameListsEveryKnownOne) {
  try {
    make_model("wrn28_12", {});
    FAIL() << "expected an error";
  } catch (const std::invalid_argument& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("unknown model \"wrn28_12\""));
    for (const auto& name : model_names()) EXPECT_THAT(e.what(), ::testing::HasSubstr(name));
  }
}

TEST(ModelZoo, NetworksWithoutDropoutOfTheirOwnDropTheirFeaturesInTrainingOnly) {
  EXPECT_THROW(make_model("wrn16_8", {10, 3, 1.0}), std::invalid_argument);
  EXPECT_THROW(make_model("resnet8", {10, 3, -0.1}), std::invalid_argument);
  EXPECT_EQ(make_model("resnet8", {10, 3, 0.0})->feature_dropout(), 0.0);
  EXPECT_EQ(make_model("wrn16_8", {10, 3, 0.3})->feature_dropout(), 0.0) << "wrn drops inside its blocks";

  torch::manual_seed(0);
  const auto model = make_model("resnet8", {10, 3, 0.5});
  EXPECT_EQ(model->feature_dropout(), 0.5);
  const auto x = torch::randn({4, 3, 16, 16});
  model->eval();
  const auto clean = model->compute_features(x);
  EXPECT_TRUE(torch::equal(model->features(x), clean)) << "eval: no dropout";
  model->train();
  const auto dropped = model->features(x);
  const auto undropped = model->compute_features(x);
  // Each feature is either zeroed or scaled by 1 / (1 - p), and about half are zeroed.
  const auto zero = dropped == 0;
  EXPECT_TRUE(torch::allclose(dropped.masked_fill(zero, 0), (undropped * 2).masked_fill(zero, 0)));
  const double zeroed = zero.to(torch::kDouble).mean().item<double>();
  EXPECT_GT(zeroed, 0.3);
  EXPECT_LT(zeroed, 0.7);
}

// The small CIFAR networks: forward + backward at batch 2, on CIFAR and Fashion-MNIST shapes.
class SmallCifarModel : public ::testing::TestWithParam<const char*> {};

TEST_P(SmallCifarModel, TrainsOnCifarAndFashionMnistShapes) {
  torch::manual_seed(0);
  for (const auto& [channels, size] : {std::pair<int64_t, int64_t>{3, 32}, {1, 28}}) {
    auto model = make_model(GetParam(), {100, channels});
    model->train();
    const auto logits = model->forward(torch::randn({2, channels, size, size}));
    ASSERT_EQ(logits.sizes(), torch::IntArrayRef({2, 100}));
    torch::nn::functional::cross_entropy(logits, torch::tensor({3, 7})).backward();
    for (const auto& p : model->parameters()) {
      ASSERT_TRUE(p.grad().defined());
      EXPECT_TRUE(torch::isfinite(p.grad()).all().item<bool>());
    }
    EXPECT_GT(model->head()->weight.grad().abs().sum().item<double>(), 0);
  }
}

TEST_P(SmallCifarModel, SaveLoadRoundTripGivesIdenticalEvalOutputs) {
  torch::manual_seed(1);
  auto model = make_model(GetParam(), {10, 3});
  model->train();
  model->forward(torch::randn({4, 3, 32, 32}));  // moves the BN running statistics off their start
  model->eval();
  const auto path = std::filesystem::temp_directory_path() /
                    ("isda_zoo_" + std::string(GetParam()) + "_" + std::to_string(::getpid()) + ".pt");
  {
    torch::serialize::OutputArchive archive;
    model->save(archive);
    archive.save_to(path.string());
  }
  torch::manual_seed(2);
  auto fresh = make_model(GetParam(), {10, 3});
  {
    torch::serialize::InputArchive archive;
    archive.load_from(path.string());
    fresh->load(archive);
  }
  std::filesystem::remove(path);
  fresh->eval();
  torch::NoGradGuard no_grad;
  const auto x = torch::randn({2, 3, 32, 32});
  EXPECT_TRUE(torch::equal(model->forward(x), fresh->forward(x)));
}

INSTANTIATE_TEST_SUITE_P(Zoo, SmallCifarModel,
                         ::testing::Values("resnet32", "resnet110", "se_resnet110", "wrn16_8", "densenet_bc100_12",
                                           "shake_shake26_2x32d"),
                         [](const auto& param_info) { return std::string(param_info.param); });

TEST(ModelZoo, InitialisationFollowsTheReferences) {
  auto model = make_model("shake_shake26_2x32d", {10, 3});
  for (const auto& module : model->modules(false)) {
    if (auto* bn = module->as<isda::models::BatchNorm2d>()) {
      EXPECT_TRUE(torch::equal(bn->weight, torch::ones_like(bn->weight)));
      EXPECT_TRUE(torch::equal(bn->bias, torch::zeros_like(bn->bias)));
    }
  }
  EXPECT_TRUE(torch::equal(model->head()->bias, torch::zeros_like(model->head()->bias)));
  // He normal, fan_out: std sqrt(2 / (k * k * out)) for the first stage's 3x3 convolutions (32 out).
  const auto& w = model->named_parameters()["stages.0.branch1.conv1.weight"];
  EXPECT_NEAR(w.std().item<double>(), std::sqrt(2.0 / (9 * 32)), 0.01);
}

TEST(ModelZoo, DropoutActsInTrainingOnly) {
  torch::manual_seed(0);
  WideResNet model(10, 1, 3, 10, /*dropout=*/0.3);
  const auto x = torch::randn({4, 3, 16, 16});
  model.train();
  model.forward(x);  // settle nothing in particular: BN in train mode uses batch stats either way
  const auto a = model.forward(x);
  const auto b = model.forward(x);
  EXPECT_FALSE(torch::allclose(a, b)) << "two training passes should draw different dropout masks";
  WideResNet no_dropout(10, 1, 3, 10, 0.0);
  no_dropout.train();
  EXPECT_TRUE(torch::equal(no_dropout.forward(x), no_dropout.forward(x)));
  model.eval();
  EXPECT_TRUE(torch::equal(model.forward(x), model.forward(x)));
}

TEST(ModelZoo, BatchNormUsesRunningStatisticsInEval) {
  torch::manual_seed(0);
  auto model = make_model("resnet20", {10, 3});
  const auto x = torch::randn({4, 3, 32, 32});
  torch::NoGradGuard no_grad;
  model->train();
  // In training a sample's output depends on the rest of its batch; in eval it does not.
  const auto full = model->forward(x);
  const auto half = model->forward(x.narrow(0, 0, 2));
  EXPECT_FALSE(torch::allclose(full.narrow(0, 0, 2), half, 1e-4, 1e-5));
  model->eval();
  EXPECT_TRUE(torch::allclose(model->forward(x).narrow(0, 0, 2), model->forward(x.narrow(0, 0, 2)), 1e-4, 1e-5));
}

TEST(ShakeShake, ForwardCoefficientIsRandomPerSampleAndBackwardUsesAnIndependentOne) {
  torch::manual_seed(0);
  const int64_t n = 64;
  const auto x1 = torch::randn({n, 3, 4, 4}).requires_grad_();
  const auto x2 = torch::randn({n, 3, 4, 4}).requires_grad_();
  const auto out = shake_shake_combine(x1, x2, /*training=*/true);
  // out = alpha x1 + (1 - alpha) x2 with one alpha per sample: recover it by least squares.
  const auto d = (x1 - x2).detach().flatten(1);
  const auto r = (out - x2).detach().flatten(1);
  const auto per_sample = (r * d).sum(1) / (d * d).sum(1);
  EXPECT_TRUE(torch::allclose(r, per_sample.unsqueeze(1) * d, 1e-4, 1e-5));
  EXPECT_GE(per_sample.min().item<double>(), -1e-5);
  EXPECT_LE(per_sample.max().item<double>(), 1 + 1e-5);
  EXPECT_GT(per_sample.std().item<double>(), 0.1) << "alpha should differ between samples";
  out.sum().backward();
  const auto beta = x1.grad().flatten(1);
  EXPECT_TRUE(torch::allclose(x1.grad() + x2.grad(), torch::ones_like(x1)));  // beta and 1 - beta
  EXPECT_TRUE(torch::equal(beta, beta.select(1, 0).unsqueeze(1).expand_as(beta)));
  EXPECT_GT((beta.select(1, 0) - per_sample).abs().mean().item<double>(), 0.1)
      << "the backward coefficient must not be the forward one";
  EXPECT_GE(beta.min().item<double>(), 0);
  EXPECT_LE(beta.max().item<double>(), 1);
}

TEST(ShakeShake, EvalUsesExactlyOneHalf) {
  const auto x1 = torch::randn({5, 2, 3, 3}).requires_grad_();
  const auto x2 = torch::randn({5, 2, 3, 3}).requires_grad_();
  const auto out = shake_shake_combine(x1, x2, /*training=*/false);
  EXPECT_TRUE(torch::equal(out, 0.5 * (x1 + x2)));
  out.sum().backward();
  EXPECT_TRUE(torch::equal(x1.grad(), torch::full_like(x1, 0.5)));
}

TEST(ShakeShake, NetworkIsRandomInTrainingAndDeterministicInEval) {
  torch::manual_seed(0);
  auto model = make_model("shake_shake26_2x32d", {10, 3});
  const auto x = torch::randn({2, 3, 32, 32});
  torch::NoGradGuard no_grad;
  model->train();
  EXPECT_FALSE(torch::allclose(model->forward(x), model->forward(x)));
  model->eval();
  EXPECT_TRUE(torch::equal(model->forward(x), model->forward(x)));
}

TEST(ShakeDrop, ForwardAndBackwardScalesAreIndependentPerSample) {
  torch::manual_seed(0);
  const int64_t n = 256;
  const double p_drop = 0.5;
  const auto x = torch::ones({n, 2, 3, 3}).requires_grad_();
  const auto out = shake_drop(x, p_drop, /*training=*/true);
  const auto forward_scale = out.detach().flatten(1).select(1, 0);  // b + alpha - b alpha, per sample
  out.sum().backward();
  const auto backward_scale = x.grad().flatten(1).select(1, 0);     // b + beta - b beta
  // Kept samples (b = 1) have scale 1 both ways; dropped ones alpha in [-1, 1], beta in [0, 1].
  const auto kept = forward_scale == 1;
  EXPECT_TRUE(torch::equal(kept, backward_scale == 1));
  const double kept_fraction = kept.to(torch::kDouble).mean().item<double>();
  EXPECT_NEAR(kept_fraction, 1 - p_drop, 0.1);
  const auto dropped = kept.logical_not();
  const auto alpha = forward_scale.masked_select(dropped);
  const auto beta = backward_scale.masked_select(dropped);
  EXPECT_LT(alpha.min().item<double>(), 0) << "alpha ranges over [-1, 1]";
  EXPECT_GE(beta.min().item<double>(), 0);
  EXPECT_GT((alpha - beta).abs().mean().item<double>(), 0.1) << "backward must not reuse alpha";
}

TEST(ShakeDrop, EvalScalesByTheKeepProbability) {
  const auto x = torch::randn({3, 4, 2, 2});
  EXPECT_TRUE(torch::allclose(shake_drop(x, 0.25, /*training=*/false), 0.75 * x));
  EXPECT_THROW(shake_drop(x, 1.5, false), std::invalid_argument);
}

}  // namespace
}  // namespace isda::models
