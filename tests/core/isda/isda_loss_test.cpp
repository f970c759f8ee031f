#include "isda/isda_loss.h"

#include <gtest/gtest.h>
#include <torch/torch.h>

#include <vector>

namespace isda {
namespace {

constexpr int64_t kClasses = 5;
constexpr int64_t kDim = 4;
constexpr int64_t kBatch = 12;

struct Problem {
  torch::Tensor features;  // (N, A) float64, requires grad
  torch::Tensor weight;    // (C, A)
  torch::Tensor bias;      // (C)
  torch::Tensor labels;    // (N), class 4 absent
};

Problem make_problem(uint64_t seed) {
  torch::manual_seed(seed);
  const auto options = torch::TensorOptions().dtype(torch::kFloat64);
  return {torch::randn({kBatch, kDim}, options).requires_grad_(),
          torch::randn({kClasses, kDim}, options).requires_grad_(),
          torch::randn({kClasses}, options).requires_grad_(),
          torch::randint(0, kClasses - 1, {kBatch}, torch::kInt64)};
}

// An estimator that has seen a few batches, so every Sigma is a real, distinct covariance.
CovarianceEstimator trained_estimator(CovarianceKind kind) {
  CovarianceEstimator estimator(kind, kClasses, kDim);
  torch::manual_seed(11);
  for (int b = 0; b < 4; ++b) {
    const auto labels = torch::randint(0, kClasses, {16}, torch::kInt64);
    const auto x = torch::randn({16, kDim}, torch::kFloat64) * (1.0 + labels.unsqueeze(1).to(torch::kFloat64));
    estimator.update(x.mm(torch::randn({kDim, kDim}, torch::kFloat64)), labels);
  }
  return estimator;
}

// Every class's covariance as the estimator holds it now, copied.
std::vector<torch::Tensor> covariances_of(const CovarianceEstimator& estimator) {
  std::vector<torch::Tensor> sigmas;
  for (int64_t c = 0; c < kClasses; ++c) sigmas.push_back(estimator.covariance(c).clone());
  return sigmas;
}

// Eq. 4 written out sample by sample and class by class, in float64, with Sigma_c = sigmas[c].
torch::Tensor brute_force_loss(const Problem& p, const std::vector<torch::Tensor>& sigmas, double lambda) {
  std::vector<torch::Tensor> rows;
  for (int64_t i = 0; i < kBatch; ++i) {
    const int64_t y = p.labels[i].item<int64_t>();
    const auto& sigma = sigmas[static_cast<size_t>(y)];
    std::vector<torch::Tensor> z;
    for (int64_t j = 0; j < kClasses; ++j) {
      const auto d = p.weight[j] - p.weight[y];
      z.push_back(p.weight[j].dot(p.features[i]) + p.bias[j] + 0.5 * lambda * d.dot(sigma.mv(d)));
    }
    rows.push_back(torch::stack(z));
  }
  return torch::nn::functional::cross_entropy(torch::stack(rows), p.labels);
}

torch::Tensor brute_force_loss(const Problem& p, const CovarianceEstimator& estimator, double lambda) {
  return brute_force_loss(p, covariances_of(estimator), lambda);
}

std::vector<torch::Tensor> gradients(const torch::Tensor& loss, const Problem& p) {
  return torch::autograd::grad({loss}, {p.features, p.weight, p.bias});
}

class IsdaLossForEveryVariant : public ::testing::TestWithParam<std::tuple<CovarianceKind, bool>> {};

TEST_P(IsdaLossForEveryVariant, MatchesBruteForceInLossAndGradients) {
  const auto [kind, distinct] = GetParam();
  auto estimator = trained_estimator(kind);
  estimator.set_distinct_label_mode(distinct);
  const auto p = make_problem(5);
  const double lambda = 0.75;
  const auto logits = torch::nn::functional::linear(p.features, p.weight, p.bias);
  const auto ours = torch::nn::functional::cross_entropy(augmented_logits(estimator, logits, p.weight, p.labels, lambda), p.labels);
  const auto reference = brute_force_loss(p, estimator, lambda);
  EXPECT_NEAR(ours.item<double>(), reference.item<double>(), 1e-12);
  EXPECT_GT(ours.item<double>(), torch::nn::functional::cross_entropy(logits, p.labels).item<double>() + 1e-3)
      << "the augmentation must change the loss";
  const auto g_ours = gradients(ours, p);
  const auto g_reference = gradients(reference, p);
  for (size_t k = 0; k < g_ours.size(); ++k) {
    EXPECT_TRUE(torch::allclose(g_ours[k], g_reference[k], 1e-10, 1e-12)) << "gradient " << k;
  }
}

TEST_P(IsdaLossForEveryVariant, OwnClassGetsNoCorrection) {
  const auto [kind, distinct] = GetParam();
  auto estimator = trained_estimator(kind);
  estimator.set_distinct_label_mode(distinct);
  const auto p = make_problem(6);
  const auto terms = estimator.quadratic_terms(p.weight, p.labels);
  EXPECT_TRUE(torch::equal(terms.gather(1, p.labels.unsqueeze(1)), torch::zeros({kBatch, 1}, torch::kFloat64)));
}

// Two losses on one estimator before one backward (float64 weights, so that casting the state to
// the weights' dtype copies nothing): each keeps the Sigma it was computed with, however the second
// update changes the state.
TEST_P(IsdaLossForEveryVariant, TwoLossesBeforeOneBackwardKeepTheirOwnCovariances) {
  const auto [kind, distinct] = GetParam();
  auto estimator = trained_estimator(kind);
  estimator.set_distinct_label_mode(distinct);
  const auto first = make_problem(20);
  auto second = make_problem(21);
  second.weight = first.weight;  // one final layer, two batches
  second.bias = first.bias;
  const double lambda = 0.75;
  const auto loss_first = isda_loss(estimator, first.features, first.weight, first.bias, first.labels, lambda).loss;
  const auto sigmas_first = covariances_of(estimator);
  const auto loss_second = isda_loss(estimator, second.features, second.weight, second.bias, second.labels, lambda).loss;
  const auto sigmas_second = covariances_of(estimator);
  if (kind != CovarianceKind::kIdentity) {
    ASSERT_FALSE(torch::equal(sigmas_first[0], sigmas_second[0])) << "the second update must change the state";
  }
  const std::vector<torch::Tensor> inputs = {first.features, second.features, first.weight, first.bias};
  std::vector<torch::Tensor> ours;
  ASSERT_NO_THROW(ours = torch::autograd::grad({loss_first + loss_second}, inputs));
  const auto reference = torch::autograd::grad(
      {brute_force_loss(first, sigmas_first, lambda) + brute_force_loss(second, sigmas_second, lambda)}, inputs);
  for (size_t k = 0; k < ours.size(); ++k) {
    EXPECT_TRUE(torch::allclose(ours[k], reference[k], 1e-10, 1e-12)) << "gradient " << k;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Variants, IsdaLossForEveryVariant,
    ::testing::Combine(::testing::Values(CovarianceKind::kFull, CovarianceKind::kDiagonal, CovarianceKind::kIdentity,
                                         CovarianceKind::kSingle),
                       ::testing::Bool()),
    [](const ::testing::TestParamInfo<std::tuple<CovarianceKind, bool>>& param_info) {
      return to_string(std::get<0>(param_info.param)) + (std::get<1>(param_info.param) ? "_distinct" : "_dense");
    });

TEST(IsdaLoss, LambdaZeroIsCrossEntropyExactly) {
  const auto p = make_problem(8);
  auto estimator = trained_estimator(CovarianceKind::kFull);
  const auto isda = isda_loss(estimator, p.features, p.weight, p.bias, p.labels, 0.0);
  const auto ce = torch::nn::functional::cross_entropy(torch::nn::functional::linear(p.features, p.weight, p.bias), p.labels);
  EXPECT_TRUE(torch::equal(isda.loss, ce));
  const auto g_isda = gradients(isda.loss, p);
  const auto g_ce = gradients(ce, p);
  for (size_t k = 0; k < g_isda.size(); ++k) EXPECT_TRUE(torch::equal(g_isda[k], g_ce[k]));
}

TEST(IsdaLoss, ShrinkingLambdaApproachesCrossEntropy) {
  const auto p = make_problem(9);
  const auto estimator = trained_estimator(CovarianceKind::kFull);
  const auto logits = torch::nn::functional::linear(p.features, p.weight, p.bias);
  const double ce = torch::nn::functional::cross_entropy(logits, p.labels).item<double>();
  std::vector<double> gaps;
  for (const double lambda : {1.0, 0.1, 1e-2, 1e-4, 1e-8}) {
    const double gap =
        torch::nn::functional::cross_entropy(augmented_logits(estimator, logits, p.weight, p.labels, lambda), p.labels)
            .item<double>() - ce;
    EXPECT_GT(gap, 0.0);
    if (!gaps.empty()) {
      EXPECT_LT(gap, gaps.back());
    }
    gaps.push_back(gap);
  }
  // Linear in lambda near 0: four decades less lambda, four decades less gap.
  EXPECT_NEAR(gaps[4] / gaps[3], 1e-4, 1e-5);
}

TEST(IsdaLoss, UpdatesTheEstimatorBeforeTheLoss) {
  const auto p = make_problem(10);
  CovarianceEstimator estimator(CovarianceKind::kFull, kClasses, kDim);
  const auto out = isda_loss(estimator, p.features, p.weight, p.bias, p.labels, 0.5);
  EXPECT_EQ(estimator.count(p.labels[0].item<int64_t>()), p.labels.eq(p.labels[0]).sum().item<int64_t>());
  EXPECT_NEAR(out.loss.item<double>(), brute_force_loss(p, estimator, 0.5).item<double>(), 1e-12);
  EXPECT_TRUE(torch::equal(out.logits, torch::nn::functional::linear(p.features, p.weight, p.bias)));
}

// Eq. 4 bounds the expected cross-entropy over features drawn from N(a_i, lambda Sigma_{y_i})
// (Jensen), and the bound tightens as lambda shrinks. Checked against explicit sampling.
TEST(IsdaLoss, BoundsTheMonteCarloExpectedLossAndTightensAsLambdaShrinks) {
  const auto p = make_problem(12);
  // Moderate covariances, so that lambda in [0.05, 1] spans a strong and a weak augmentation.
  CovarianceEstimator estimator(CovarianceKind::kFull, kClasses, kDim);
  const auto labels = torch::arange(kClasses).repeat({20});
  estimator.update(0.4 * torch::randn({labels.size(0), kDim}, torch::kFloat64), labels);
  torch::NoGradGuard no_grad;
  const auto logits = torch::nn::functional::linear(p.features, p.weight, p.bias);
  constexpr int64_t kSamples = 40000;
  double previous_gap = 1e300;
  auto generator = at::detail::createCPUGenerator(99);
  for (const double lambda : {1.0, 0.3, 0.05}) {
    const double bound =
        torch::nn::functional::cross_entropy(augmented_logits(estimator, logits, p.weight, p.labels, lambda), p.labels)
            .item<double>();
    std::vector<torch::Tensor> losses;
    for (int64_t i = 0; i < kBatch; ++i) {
      const int64_t y = p.labels[i].item<int64_t>();
      const auto sigma = estimator.covariance(y) + 1e-12 * torch::eye(kDim, torch::kFloat64);
      const auto root = torch::linalg_cholesky(lambda * sigma);  // a~ = a + L e,  e ~ N(0, I)
      const auto noise = torch::randn({kSamples, kDim}, generator, torch::kFloat64);
      const auto augmented = p.features[i].unsqueeze(0) + noise.mm(root.t());
      const auto sample_logits = torch::nn::functional::linear(augmented, p.weight, p.bias);
      losses.push_back(torch::nn::functional::cross_entropy(
          sample_logits, torch::full({kSamples}, y, torch::kInt64),
          torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kNone)));
    }
    const auto all = torch::stack(losses);                 // (N, samples)
    const auto per_draw = all.mean(0);                      // batch loss of each draw
    const double expected = per_draw.mean().item<double>();
    const double standard_error = per_draw.std().item<double>() / std::sqrt(static_cast<double>(kSamples));
    const double gap = bound - expected;
    EXPECT_GT(gap, -4.0 * standard_error) << "lambda " << lambda << ": the bound lies below the expected loss";
    EXPECT_LT(gap, previous_gap) << "lambda " << lambda;
    previous_gap = gap;
  }
  EXPECT_LT(previous_gap, 0.02);
}

TEST(IsdaLoss, IsDeterministicOnCpu) {
  const auto run = [] {
    const auto p = make_problem(13);
    CovarianceEstimator estimator(CovarianceKind::kFull, kClasses, kDim);
    const auto out = isda_loss(estimator, p.features.to(torch::kFloat32).detach().requires_grad_(),
                               p.weight.to(torch::kFloat32).detach().requires_grad_(),
                               p.bias.to(torch::kFloat32).detach(), p.labels, 0.5);
    return out.loss;
  };
  EXPECT_TRUE(torch::equal(run(), run()));
}

}  // namespace
}  // namespace isda
