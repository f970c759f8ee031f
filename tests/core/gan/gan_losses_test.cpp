// Each GAN loss against its paper's formula, written out per sample in plain double arithmetic on
// small hand-made tensors.
#include "gan/gan_losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

namespace isda::gan {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

torch::Tensor t(const std::vector<double>& values) { return torch::tensor(values, kF64); }

// log softmax(row)[k] by hand.
double log_softmax_at(const std::vector<double>& row, size_t k) {
  double sum = 0;
  for (const double v : row) sum += std::exp(v);
  return row[k] - std::log(sum);
}

TEST(GanLosses, DiscriminatorAndGeneratorFollowGoodfellowEtAl) {
  const std::vector<double> real = {2.0, -0.5, 0.3}, fake = {-1.5, 0.7, 30.0};  // 30: saturated, must stay finite
  double d = 0, g = 0;
  for (const double r : real) d -= std::log(sigmoid(r)) / 3;
  for (const double f : fake) {
    d -= std::log(sigmoid(-f)) / 3;  // log(1 - sigmoid(f)), written so that f = 30 keeps its digits
    g -= std::log(sigmoid(f)) / 3;
  }
  EXPECT_NEAR(discriminator_loss(t(real), t(fake)).item<double>(), d, 1e-9);
  EXPECT_NEAR(generator_loss(t(fake)).item<double>(), g, 1e-12);
  // A perfect discriminator: its loss goes to 0, the non-saturating generator's grows linearly.
  EXPECT_LT(discriminator_loss(t({40}), t({-40})).item<double>(), 1e-15);
  EXPECT_NEAR(generator_loss(t({-40})).item<double>(), 40, 1e-9);
}

TEST(GanLosses, WassersteinCriticAndGeneratorFollowArjovskyEtAl) {
  const auto real = t({1.0, 2.0, 4.0, -1.0}), fake = t({0.5, -2.0});
  EXPECT_DOUBLE_EQ(critic_loss(real, fake).item<double>(), (0.5 - 2.0) / 2 - (1.0 + 2.0 + 4.0 - 1.0) / 4);
  EXPECT_DOUBLE_EQ(wasserstein_generator_loss(fake).item<double>(), 0.75);
}

TEST(GanLosses, WeightClippingClampsEveryParameterToTheBox) {
  torch::nn::Linear layer(3, 2);
  {
    torch::NoGradGuard no_grad;
    layer->weight.copy_(torch::tensor({{0.5, -0.004, 0.02}, {-0.3, 0.0, 0.01}}));
    layer->bias.copy_(torch::tensor({-0.02, 0.005}));
  }
  clip_weights(*layer, 0.01);
  EXPECT_TRUE(torch::equal(layer->weight, torch::tensor({{0.01f, -0.004f, 0.01f}, {-0.01f, 0.0f, 0.01f}})));
  EXPECT_TRUE(torch::equal(layer->bias, torch::tensor({-0.01f, 0.005f})));
}

TEST(GanLosses, AuxiliaryClassLossIsMinusOdenaEtAlsLc) {
  const std::vector<std::vector<double>> real = {{1, 2, 0}, {0.5, -1, 3}}, fake = {{0, 0, 0}, {2, 1, -1}, {0, 4, 1}};
  const std::vector<size_t> real_labels = {1, 2}, fake_labels = {0, 0, 1};
  double lc_real = 0, lc_fake = 0;
  for (size_t i = 0; i < real.size(); ++i) lc_real += log_softmax_at(real[i], real_labels[i]) / 2;
  for (size_t i = 0; i < fake.size(); ++i) lc_fake += log_softmax_at(fake[i], fake_labels[i]) / 3;
  const auto loss = auxiliary_class_loss(torch::tensor({1.0, 2.0, 0.0, 0.5, -1.0, 3.0}, kF64).view({2, 3}), torch::tensor({1, 2}, torch::kInt64),
                                         torch::tensor({0.0, 0.0, 0.0, 2.0, 1.0, -1.0, 0.0, 4.0, 1.0}, kF64).view({3, 3}),
                                         torch::tensor({0, 0, 1}, torch::kInt64));
  EXPECT_NEAR(loss.item<double>(), -(lc_real + lc_fake), 1e-12);
}

TEST(GanLosses, MutualInformationLossIsMinusChenEtAlsLowerBound) {
  // Two samples, K = 3 categories, two continuous codes.
  const std::vector<std::vector<double>> q = {{2, 0, -1}, {0.1, 0.2, 0.3}};
  const std::vector<size_t> c = {0, 2};
  const std::vector<std::vector<double>> mu = {{0.5, -0.2}, {0, 0.9}}, codes = {{0.4, 0.1}, {-1, 1}};
  const double lambda_cat = 1, lambda_cont = 0.1;
  double categorical = 0, continuous = 0;
  for (size_t i = 0; i < 2; ++i) {
    categorical += (log_softmax_at(q[i], c[i]) + std::log(3.0)) / 2;  // log Q(c|x) + H(c)
    for (size_t j = 0; j < 2; ++j) {
      const double d = codes[i][j] - mu[i][j];
      continuous += (-0.5 * d * d - 0.5 * std::log(2 * M_PI)) / 2;  // log N(c_j; mu_j, 1)
    }
  }
  const auto loss = mutual_information_loss(torch::tensor({2.0, 0.0, -1.0, 0.1, 0.2, 0.3}, kF64).view({2, 3}), torch::tensor({0, 2}, torch::kInt64),
                                            torch::tensor({0.5, -0.2, 0.0, 0.9}, kF64).view({2, 2}),
                                            torch::tensor({0.4, 0.1, -1.0, 1.0}, kF64).view({2, 2}), lambda_cat, lambda_cont);
  EXPECT_NEAR(loss.item<double>(), -(lambda_cat * categorical + lambda_cont * continuous), 1e-12);
  // The bound is at most H(c) = log 3 (a perfect Q): the categorical part of the loss is >= -log 3.
  const auto perfect = mutual_information_loss(torch::tensor({50.0, 0.0, 0.0}, kF64).view({1, 3}), torch::tensor({0}, torch::kInt64),
                                               torch::zeros({1, 2}, kF64), torch::zeros({1, 2}, kF64), 1, 0);
  EXPECT_NEAR(perfect.item<double>(), -std::log(3.0), 1e-12);
}

TEST(GanLosses, GradientsFlowToTheInputs) {
  const auto fake = t({0.3, -0.2}).requires_grad_();
  generator_loss(fake).backward();
  // d/dl of -mean log sigmoid(l) = -(1 - sigmoid(l)) / N.
  EXPECT_NEAR(fake.grad()[0].item<double>(), -(1 - sigmoid(0.3)) / 2, 1e-12);
  EXPECT_NEAR(fake.grad()[1].item<double>(), -(1 - sigmoid(-0.2)) / 2, 1e-12);
}

}  // namespace
}  // namespace isda::gan
