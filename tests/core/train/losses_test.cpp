#include "train/losses.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <sstream>
#include <string>
#include <tuple>
#include <vector>

namespace isda::train {
namespace {

constexpr int64_t kClasses = 5;
constexpr int64_t kDim = 4;
constexpr int64_t kBatch = 12;
constexpr double kPi = 3.14159265358979323846;

struct Problem {
  torch::Tensor features;  // (N, A) float64, requires grad
  torch::Tensor weight;    // (C, A)
  torch::Tensor bias;      // (C)
  torch::Tensor labels;    // (N), class 4 absent
};

Problem make_problem(uint64_t seed, int64_t batch = kBatch) {
  torch::manual_seed(seed);
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  return {(2.0 * torch::randn({batch, kDim}, options)).requires_grad_(),
          torch::randn({kClasses, kDim}, options).requires_grad_(),
          torch::randn({kClasses}, options).requires_grad_(),
          torch::randint(0, kClasses - 1, {batch}, torch::kInt64)};
}

std::vector<torch::Tensor> gradients(const torch::Tensor& loss, const Problem& p) {
  return torch::autograd::grad({loss}, {p.features, p.weight, p.bias});
}

void expect_same_gradients(const torch::Tensor& ours, const torch::Tensor& reference, const Problem& p,
                           double rtol = 1e-10, double atol = 1e-12) {
  const auto g_ours = gradients(ours, p);
  const auto g_reference = gradients(reference, p);
  const char* names[] = {"features", "weight", "bias"};
  for (size_t k = 0; k < g_ours.size(); ++k) {
    EXPECT_TRUE(torch::allclose(g_ours[k], g_reference[k], rtol, atol))
        << "gradient w.r.t. " << names[k] << ": max diff " << (g_ours[k] - g_reference[k]).abs().max().item<double>();
  }
}

// log p_y of sample i, written out: z_y - log sum_j exp(z_j) with z_j = w_j^T a_i + b_j.
torch::Tensor log_p_of_sample(const Problem& p, int64_t i) {
  const int64_t y = p.labels[i].item<int64_t>();
  std::vector<torch::Tensor> z;
  for (int64_t j = 0; j < kClasses; ++j) z.push_back(p.weight[j].dot(p.features[i]) + p.bias[j]);
  return z[y] - torch::stack(z).exp().sum().log();
}

torch::Tensor plain_cross_entropy(const Problem& p) {
  return torch::nn::functional::cross_entropy(torch::nn::functional::linear(p.features, p.weight, p.bias), p.labels);
}

ComparisonLoss make_loss(LossKind kind, const LossOptions& options = {}, uint64_t seed = 0) {
  return ComparisonLoss(kind, options, kClasses, kDim, torch::kCPU, seed);
}

TEST(ComparisonLossKind, ParsesEveryNameAndRejectsUnknownOnes) {
  for (const auto* name : {"ce", "isda", "large_margin", "disturb_label", "focal", "center", "lq"}) {
    EXPECT_EQ(to_string(parse_loss_kind(name)), name);
  }
  try {
    parse_loss_kind("hinge");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("\"hinge\""), std::string::npos);
    EXPECT_NE(std::string(e.what()).find("known: ce, isda, large_margin"), std::string::npos);
  }
}

TEST(ComparisonLossKind, RejectsIsdaAndOptionsOutOfRange) {
  EXPECT_THROW(make_loss(LossKind::kIsda), std::invalid_argument);
  LossOptions o;
  o.margin = 0;
  EXPECT_THROW(make_loss(LossKind::kLargeMargin, o), std::invalid_argument);
  o = {};
  o.lq_q = 0.0;
  EXPECT_THROW(make_loss(LossKind::kLq, o), std::invalid_argument);
  o = {};
  o.disturb_alpha = 1.5;
  EXPECT_THROW(make_loss(LossKind::kDisturbLabel, o), std::invalid_argument);
  o = {};
  o.focal_alpha = {1.0, 2.0};
  EXPECT_THROW(make_loss(LossKind::kFocal, o), std::invalid_argument);
  o = {};
  o.center_alpha = 0.0;
  EXPECT_THROW(make_loss(LossKind::kCenter, o), std::invalid_argument);
  auto loss = make_loss(LossKind::kFocal);
  const auto p = make_problem(1);
  EXPECT_THROW(loss(p.features, p.weight.narrow(0, 0, 3), p.bias, p.labels), std::invalid_argument);
  EXPECT_THROW(loss(p.features, p.weight, p.bias, p.labels + 10), std::invalid_argument);
}

TEST(ComparisonLossCrossEntropy, IsPlainCrossEntropyWithCleanLogits) {
  const auto p = make_problem(2);
  auto loss = make_loss(LossKind::kCrossEntropy);
  const auto out = loss(p.features, p.weight, p.bias, p.labels);
  EXPECT_TRUE(torch::equal(out.loss, plain_cross_entropy(p)));
  EXPECT_TRUE(torch::equal(out.logits, torch::nn::functional::linear(p.features, p.weight, p.bias)));
}

// ---- Focal loss: -alpha_y (1 - p_y)^gamma log p_y (Lin et al. Eq. 5) ------------------------------

torch::Tensor focal_reference(const Problem& p, double gamma, const std::vector<double>& alpha) {
  std::vector<torch::Tensor> per_sample;
  for (int64_t i = 0; i < p.labels.size(0); ++i) {
    const auto log_p = log_p_of_sample(p, i);
    const double a = alpha.empty() ? 1.0 : alpha[p.labels[i].item<int64_t>()];
    per_sample.push_back(-a * torch::pow(1.0 - log_p.exp(), gamma) * log_p);
  }
  return torch::stack(per_sample).mean();
}

TEST(ComparisonLossFocal, MatchesFormulaInLossAndGradients) {
  for (const std::vector<double>& alpha : {std::vector<double>{}, std::vector<double>{0.25, 1.0, 2.0, 0.5, 3.0}}) {
    for (const double gamma : {0.5, 2.0, 5.0}) {
      const auto p = make_problem(3);
      LossOptions o;
      o.focal_gamma = gamma;
      o.focal_alpha = alpha;
      auto loss = make_loss(LossKind::kFocal, o);
      const auto ours = loss(p.features, p.weight, p.bias, p.labels).loss;
      const auto reference = focal_reference(p, gamma, alpha);
      EXPECT_NEAR(ours.item<double>(), reference.item<double>(), 1e-12) << "gamma " << gamma;
      expect_same_gradients(ours, reference, p);
    }
  }
}

TEST(ComparisonLossFocal, GammaZeroIsCrossEntropyExactly) {
  const auto p = make_problem(4);
  LossOptions o;
  o.focal_gamma = 0.0;
  auto loss = make_loss(LossKind::kFocal, o);
  const auto ours = loss(p.features, p.weight, p.bias, p.labels).loss;
  const auto ce = plain_cross_entropy(p);
  EXPECT_TRUE(torch::equal(ours, ce));
  const auto g_ours = gradients(ours, p);
  const auto g_ce = gradients(ce, p);
  for (size_t k = 0; k < g_ours.size(); ++k) EXPECT_TRUE(torch::equal(g_ours[k], g_ce[k]));
}

// ---- Lq loss: (1 - p_y^q) / q (Zhang & Sabuncu Eq. 6) ----------------------------------------------

TEST(ComparisonLossLq, MatchesFormulaInLossAndGradients) {
  for (const double q : {0.3, 0.7, 1.0}) {
    const auto p = make_problem(5);
    LossOptions o;
    o.lq_q = q;
    auto loss = make_loss(LossKind::kLq, o);
    const auto ours = loss(p.features, p.weight, p.bias, p.labels).loss;
    std::vector<torch::Tensor> per_sample;
    for (int64_t i = 0; i < kBatch; ++i) per_sample.push_back((1.0 - torch::pow(log_p_of_sample(p, i).exp(), q)) / q);
    const auto reference = torch::stack(per_sample).mean();
    EXPECT_NEAR(ours.item<double>(), reference.item<double>(), 1e-12) << "q " << q;
    expect_same_gradients(ours, reference, p);
  }
}

TEST(ComparisonLossLq, ApproachesCrossEntropyAsQGoesToZero) {
  const auto p = make_problem(6);
  const double ce = plain_cross_entropy(p).item<double>();
  double previous_gap = 1e9;
  for (const double q : {1e-1, 1e-3, 1e-6}) {
    LossOptions o;
    o.lq_q = q;
    auto loss = make_loss(LossKind::kLq, o);
    const double gap = std::abs(loss(p.features, p.weight, p.bias, p.labels).loss.item<double>() - ce);
    EXPECT_LT(gap, previous_gap);
    previous_gap = gap;
  }
  EXPECT_LT(previous_gap, 1e-5 * ce);
}

// ---- L-Softmax (Liu et al. Eq. 6) -----------------------------------------------------------------

// Features whose angle with their class's weight lies inside interval k = i % m of [0, pi], away
// from the boundaries, so that every piece of psi is exercised.
Problem make_angular_problem(uint64_t seed, int64_t m) {
  auto p = make_problem(seed);
  torch::NoGradGuard no_grad;
  const auto x = torch::empty({kBatch, kDim}, torch::kFloat64);
  for (int64_t i = 0; i < kBatch; ++i) {
    const auto w = p.weight[p.labels[i].item<int64_t>()];
    const auto u = w / w.norm();
    auto v = torch::randn({kDim}, torch::kFloat64);
    v = v - v.dot(u) * u;
    v = v / v.norm();
    const double theta = (static_cast<double>(i % m) + 0.15 + 0.7 * torch::rand({1}, torch::kFloat64).item<double>()) * kPi /
                         static_cast<double>(m);
    const double scale = 0.5 + 1.5 * torch::rand({1}, torch::kFloat64).item<double>();
    x[i] = scale * (std::cos(theta) * u + std::sin(theta) * v);
  }
  p.features = x.requires_grad_();
  return p;
}

torch::Tensor large_margin_reference(const Problem& p, int64_t m, double beta, std::vector<int>& intervals_seen) {
  std::vector<torch::Tensor> per_sample;
  for (int64_t i = 0; i < kBatch; ++i) {
    const int64_t y = p.labels[i].item<int64_t>();
    const auto x = p.features[i];
    const auto norms = p.weight[y].norm() * x.norm();
    const auto theta = torch::acos(p.weight[y].dot(x) / norms);
    const auto k = std::min<int64_t>(m - 1, static_cast<int64_t>(std::floor(theta.item<double>() * m / kPi)));
    intervals_seen[k] = 1;
    const auto psi = (k % 2 == 0 ? 1.0 : -1.0) * torch::cos(static_cast<double>(m) * theta) - 2.0 * static_cast<double>(k);
    std::vector<torch::Tensor> z;
    for (int64_t j = 0; j < kClasses; ++j) {
      z.push_back(j == y ? (beta * norms * torch::cos(theta) + norms * psi) / (1.0 + beta) + p.bias[j]
                         : p.weight[j].dot(x) + p.bias[j]);
    }
    per_sample.push_back(torch::stack(z).exp().sum().log() - z[y]);
  }
  return torch::stack(per_sample).mean();
}

class ComparisonLossLargeMargin : public ::testing::TestWithParam<std::tuple<int64_t, double>> {};

TEST_P(ComparisonLossLargeMargin, MatchesPiecewiseFormulaInEveryInterval) {
  const auto [m, beta] = GetParam();
  const auto p = make_angular_problem(7 + m, m);
  LossOptions o;
  o.margin = m;
  o.large_margin_beta = beta;
  auto loss = make_loss(LossKind::kLargeMargin, o);
  const auto out = loss(p.features, p.weight, p.bias, p.labels);
  std::vector<int> intervals_seen(m, 0);
  const auto reference = large_margin_reference(p, m, beta, intervals_seen);
  for (int64_t k = 0; k < m; ++k) EXPECT_EQ(intervals_seen[k], 1) << "no sample in interval " << k;
  EXPECT_NEAR(out.loss.item<double>(), reference.item<double>(), 1e-12);
  expect_same_gradients(out.loss, reference, p, 1e-9, 1e-11);
  EXPECT_TRUE(torch::allclose(out.logits, torch::nn::functional::linear(p.features, p.weight, p.bias)));
  if (m > 1 && beta == 0.0) {
    EXPECT_GT(out.loss.item<double>(), plain_cross_entropy(p).item<double>()) << "the margin must make the loss harder";
  }
}

INSTANTIATE_TEST_SUITE_P(ComparisonLoss, ComparisonLossLargeMargin,
                         ::testing::Combine(::testing::Values<int64_t>(1, 2, 3, 4), ::testing::Values(0.0, 3.5)));

TEST(ComparisonLossLargeMarginSpecial, MarginOneIsPlainSoftmaxCrossEntropy) {
  const auto p = make_problem(9);
  LossOptions o;
  o.margin = 1;
  auto loss = make_loss(LossKind::kLargeMargin, o);
  const auto ours = loss(p.features, p.weight, p.bias, p.labels).loss;
  const auto ce = plain_cross_entropy(p);
  EXPECT_NEAR(ours.item<double>(), ce.item<double>(), 1e-12);
  expect_same_gradients(ours, ce, p, 1e-10, 1e-12);
}

TEST(ComparisonLossLargeMarginSpecial, AnnealedBetaDecaysToItsFloor) {
  LargeMarginAnnealing annealing;
  annealing.beta_min = 5.0;
  EXPECT_DOUBLE_EQ(large_margin_beta(annealing, 0), annealing.base);
  EXPECT_DOUBLE_EQ(large_margin_beta(annealing, 10), 1000.0 / (1.0 + 0.12 * 10));
  EXPECT_DOUBLE_EQ(large_margin_beta(annealing, 1000000), 5.0);
  auto loss = make_loss(LossKind::kLargeMargin);
  loss.set_large_margin_beta(large_margin_beta(annealing, 10));
  EXPECT_DOUBLE_EQ(loss.options().large_margin_beta, 1000.0 / 2.2);
  EXPECT_THROW(loss.set_large_margin_beta(-1.0), std::invalid_argument);
}

// ---- Center loss (Wen et al. Eq. 2, 4, 5) ---------------------------------------------------------

TEST(ComparisonLossCenter, MatchesFormulaAndMovesCentresByTheUpdateRule) {
  LossOptions o;
  o.center_lambda = 0.3;  // large enough that the centre term matters in the comparison
  o.center_alpha = 0.5;
  auto loss = make_loss(LossKind::kCenter, o);
  ASSERT_TRUE(torch::equal(loss.centers(), torch::zeros({kClasses, kDim}, torch::kFloat64)));

  for (uint64_t step = 0; step < 2; ++step) {  // the first step starts from zero centres, the second not
    const auto p = make_problem(10 + step);
    const auto before = loss.centers().clone();
    const auto ours = loss(p.features, p.weight, p.bias, p.labels).loss;

    std::vector<torch::Tensor> per_sample;
    for (int64_t i = 0; i < kBatch; ++i) {
      const auto d = p.features[i] - before[p.labels[i].item<int64_t>()];
      per_sample.push_back(-log_p_of_sample(p, i) + 0.5 * o.center_lambda * d.dot(d));
    }
    const auto reference = torch::stack(per_sample).mean();
    EXPECT_NEAR(ours.item<double>(), reference.item<double>(), 1e-12);
    expect_same_gradients(ours, reference, p);

    for (int64_t j = 0; j < kClasses; ++j) {
      auto delta = torch::zeros({kDim}, torch::kFloat64);
      int64_t n = 0;
      for (int64_t i = 0; i < kBatch; ++i) {
        if (p.labels[i].item<int64_t>() != j) continue;
        delta = delta + (before[j] - p.features[i].detach());
        ++n;
      }
      const auto expected = before[j] - o.center_alpha * delta / (1.0 + static_cast<double>(n));
      if (n == 0) {
        EXPECT_TRUE(torch::equal(loss.centers()[j], before[j])) << "absent class " << j << " moved";
      } else {
        EXPECT_TRUE(torch::allclose(loss.centers()[j], expected, 1e-12, 1e-14)) << "class " << j;
        EXPECT_FALSE(torch::equal(loss.centers()[j], before[j]));
      }
    }
  }
}

TEST(ComparisonLossCenter, SaveLoadRoundTripContinuesIdentically) {
  auto original = make_loss(LossKind::kCenter);
  for (uint64_t step = 0; step < 3; ++step) {
    const auto p = make_problem(20 + step);
    original(p.features, p.weight, p.bias, p.labels);
  }
  std::stringstream stream;
  {
    torch::serialize::OutputArchive archive;
    original.save(archive);
    archive.save_to(stream);
  }
  auto restored = make_loss(LossKind::kCenter);
  {
    torch::serialize::InputArchive archive;
    archive.load_from(stream);
    restored.load(archive);
  }
  EXPECT_TRUE(torch::equal(restored.centers(), original.centers()));
  const auto p = make_problem(30);
  const auto a = original(p.features, p.weight, p.bias, p.labels).loss;
  const auto b = restored(p.features, p.weight, p.bias, p.labels).loss;
  EXPECT_TRUE(torch::equal(a, b));
  EXPECT_TRUE(torch::equal(restored.centers(), original.centers()));

  stream.clear();
  stream.seekg(0);
  auto other = ComparisonLoss(LossKind::kCenter, {}, kClasses + 1, kDim);
  torch::serialize::InputArchive archive;
  archive.load_from(stream);
  EXPECT_THROW(other.load(archive), std::runtime_error);
}

// ---- DisturbLabel (Xie et al. Sec. 3.1) -----------------------------------------------------------

TEST(ComparisonLossDisturbLabel, AlphaZeroIsCrossEntropyExactly) {
  const auto p = make_problem(40);
  LossOptions o;
  o.disturb_alpha = 0.0;
  auto loss = make_loss(LossKind::kDisturbLabel, o);
  const auto out = loss(p.features, p.weight, p.bias, p.labels);
  EXPECT_TRUE(torch::equal(out.targets, p.labels));
  const auto ce = plain_cross_entropy(p);
  EXPECT_TRUE(torch::equal(out.loss, ce));
  const auto g_ours = gradients(out.loss, p);
  const auto g_ce = gradients(ce, p);
  for (size_t k = 0; k < g_ours.size(); ++k) EXPECT_TRUE(torch::equal(g_ours[k], g_ce[k]));
}

// Many draws in one batch: all labels are class 0, so every other class can only come from a disturbance.
torch::Tensor draw_targets(ComparisonLoss& loss, int64_t n) {
  const auto features = torch::randn({n, kDim}, torch::kFloat64);
  const auto weight = torch::randn({kClasses, kDim}, torch::kFloat64);
  return loss(features, weight, torch::Tensor(), torch::zeros({n}, torch::kInt64)).targets;
}

TEST(ComparisonLossDisturbLabel, AlphaOneDrawsUniformLabels) {
  LossOptions o;
  o.disturb_alpha = 1.0;
  auto loss = make_loss(LossKind::kDisturbLabel, o, 3);
  constexpr int64_t kDraws = 20000;
  const auto counts = torch::bincount(draw_targets(loss, kDraws), {}, kClasses);
  // Each count is Binomial(20000, 1/5): sd ~57; 300 is over 5 sd.
  for (int64_t c = 0; c < kClasses; ++c) EXPECT_NEAR(counts[c].item<double>(), kDraws / kClasses, 300.0) << "class " << c;
}

TEST(ComparisonLossDisturbLabel, ReplacesAFractionAlphaAndIsReproducible) {
  LossOptions o;
  o.disturb_alpha = 0.3;
  auto loss = make_loss(LossKind::kDisturbLabel, o, 5);
  constexpr int64_t kDraws = 20000;
  const auto targets = draw_targets(loss, kDraws);
  // A label changes when it is disturbed to another class: alpha (C - 1) / C = 0.24.
  const double changed = targets.ne(0).to(torch::kFloat64).mean().item<double>();
  EXPECT_NEAR(changed, 0.3 * (kClasses - 1) / kClasses, 0.015);
  // The loss is cross-entropy against the disturbed labels.
  const auto p = make_problem(41);
  const auto out = loss(p.features, p.weight, p.bias, p.labels);
  EXPECT_TRUE(torch::equal(out.loss, torch::nn::functional::cross_entropy(out.logits, out.targets)));

  auto same_seed = make_loss(LossKind::kDisturbLabel, o, 5);
  auto other_seed = make_loss(LossKind::kDisturbLabel, o, 6);
  EXPECT_TRUE(torch::equal(draw_targets(same_seed, kDraws), targets));
  EXPECT_FALSE(torch::equal(draw_targets(other_seed, kDraws), targets));
}

TEST(ComparisonLossDisturbLabel, SavedGeneratorContinuesTheSameSequence) {
  auto original = make_loss(LossKind::kDisturbLabel, {}, 8);
  draw_targets(original, 100);
  std::stringstream stream;
  {
    torch::serialize::OutputArchive archive;
    original.save(archive);
    archive.save_to(stream);
  }
  auto restored = make_loss(LossKind::kDisturbLabel, {}, 99);
  {
    torch::serialize::InputArchive archive;
    archive.load_from(stream);
    restored.load(archive);
  }
  EXPECT_TRUE(torch::equal(draw_targets(original, 1000), draw_targets(restored, 1000)));
}

}  // namespace
}  // namespace isda::train
