#include "train/losses.h"

#include "train/config_names.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace isda::train {
namespace {

constexpr double kPi = 3.14159265358979323846;
// Squared norms are floored here before the square root, so that a zero feature vector gives a zero
// L-Softmax logit and finite gradients instead of 0/0.
constexpr double kTinySquaredNorm = 1e-30;

void require(bool condition, const std::string& message) {
  if (!condition) throw std::invalid_argument(message);
}

void check_batch(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias,
                 const torch::Tensor& labels, int64_t num_classes, int64_t feature_dim) {
  const std::string sizes = "(" + std::to_string(num_classes) + ", " + std::to_string(feature_dim) + ")";
  require(features.dim() == 2 && features.size(1) == feature_dim,
          "loss: features must be (N, " + std::to_string(feature_dim) + ")");
  require(weight.dim() == 2 && weight.size(0) == num_classes && weight.size(1) == feature_dim,
          "loss: classifier weight must be " + sizes);
  require(!bias.defined() || (bias.dim() == 1 && bias.size(0) == num_classes),
          "loss: classifier bias must be (" + std::to_string(num_classes) + ")");
  require(labels.dim() == 1 && labels.size(0) == features.size(0),
          "loss: labels must be (N) with N = " + std::to_string(features.size(0)));
  if (labels.is_cpu() && labels.numel() > 0) {
    const auto lo = labels.min().item<int64_t>();
    const auto hi = labels.max().item<int64_t>();
    require(lo >= 0 && hi < num_classes, "loss: label " + std::to_string(lo < 0 ? lo : hi) + " outside [0, " +
                                             std::to_string(num_classes) + ")");
  }
}

void check_options(LossKind kind, const LossOptions& o, int64_t num_classes) {
  switch (kind) {
    case LossKind::kLargeMargin:
      require(o.margin >= 1, "loss: margin must be an integer >= 1, got " + std::to_string(o.margin));
      require(o.large_margin_beta >= 0.0, "loss: large_margin_beta must be >= 0");
      break;
    case LossKind::kDisturbLabel:
      require(o.disturb_alpha >= 0.0 && o.disturb_alpha <= 1.0, "loss: disturb_alpha must be in [0, 1]");
      break;
    case LossKind::kFocal:
      require(o.focal_gamma >= 0.0, "loss: focal_gamma must be >= 0");
      require(o.focal_alpha.empty() || static_cast<int64_t>(o.focal_alpha.size()) == num_classes,
              "loss: focal_alpha must have one weight per class (" + std::to_string(num_classes) + ") or none");
      require(std::all_of(o.focal_alpha.begin(), o.focal_alpha.end(), [](double a) { return a > 0.0; }),
              "loss: focal_alpha weights must be > 0");
      break;
    case LossKind::kCenter:
      require(o.center_lambda >= 0.0, "loss: center_lambda must be >= 0");
      require(o.center_alpha > 0.0 && o.center_alpha <= 1.0, "loss: center_alpha must be in (0, 1]");
      break;
    case LossKind::kLq:
      require(o.lq_q > 0.0 && o.lq_q <= 1.0, "loss: lq_q must be in (0, 1]");
      break;
    case LossKind::kCrossEntropy:
    case LossKind::kIsda: break;
  }
}

// t^e for a small integer e, without pow's backward where it is not needed.
torch::Tensor integer_power(const torch::Tensor& t, int64_t e) {
  if (e == 0) return torch::ones_like(t);
  if (e == 1) return t;
  return t.pow(e);
}

double binomial(int64_t n, int64_t k) {
  double result = 1.0;
  for (int64_t i = 1; i <= k; ++i) result = result * static_cast<double>(n - k + i) / static_cast<double>(i);
  return result;
}

// log p_y of the softmax of `logits` (N).
torch::Tensor target_log_probability(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::log_softmax(logits, 1).gather(1, labels.unsqueeze(1)).squeeze(1);
}

}  // namespace

static_assert(static_cast<size_t>(LossKind::kLq) + 1 == names::kMethods.size(),
              "LossKind lists the names of train/config_names.h in their order");

LossKind parse_loss_kind(const std::string& name) { return names::parse_named<LossKind>(names::kMethods, name, "loss"); }

std::string to_string(LossKind kind) { return names::name_of(names::kMethods, kind); }

double large_margin_beta(const LargeMarginAnnealing& annealing, int64_t iteration) {
  const double decayed =
      annealing.base * std::pow(1.0 + annealing.gamma * static_cast<double>(iteration), -annealing.power);
  return std::max(annealing.beta_min, decayed);
}

ComparisonLoss::ComparisonLoss(LossKind kind, const LossOptions& options, int64_t num_classes, int64_t feature_dim,
                               torch::Device device, uint64_t seed)
    : kind_(kind),
      options_(options),
      num_classes_(num_classes),
      feature_dim_(feature_dim),
      generator_(at::detail::createCPUGenerator(seed)) {
  require(kind != LossKind::kIsda, "loss: ComparisonLoss does not compute ISDA; use isda::isda_loss");
  require(num_classes >= 1 && feature_dim >= 1, "loss: num_classes and feature_dim must be positive");
  check_options(kind, options, num_classes);
  const auto state = torch::TensorOptions().device(device).dtype(torch::kFloat64);
  if (kind == LossKind::kCenter) centers_ = torch::zeros({num_classes, feature_dim}, state);
  if (kind == LossKind::kFocal && !options.focal_alpha.empty()) {
    focal_alpha_ = torch::tensor(options.focal_alpha, torch::kFloat64).to(device);
  }
}

void ComparisonLoss::set_large_margin_beta(double beta) {
  require(beta >= 0.0, "loss: large_margin_beta must be >= 0");
  options_.large_margin_beta = beta;
}

ComparisonLoss::Output ComparisonLoss::operator()(const torch::Tensor& features, const torch::Tensor& weight,
                                                  const torch::Tensor& bias, const torch::Tensor& labels) {
  check_batch(features, weight, bias, labels, num_classes_, feature_dim_);
  const auto y = labels.to(weight.device(), torch::kInt64);
  auto logits = torch::nn::functional::linear(features, weight, bias);
  switch (kind_) {
    case LossKind::kCrossEntropy: return {torch::nn::functional::cross_entropy(logits, y), logits, y};

    case LossKind::kLargeMargin: {
      const auto z = large_margin_logits(features, weight, bias, y);
      return {torch::nn::functional::cross_entropy(z, y), logits, y};
    }

    case LossKind::kDisturbLabel: {
      const auto disturbed = disturb(y);
      return {torch::nn::functional::cross_entropy(logits, disturbed), logits, disturbed};
    }

    case LossKind::kFocal: {
      if (options_.focal_gamma == 0.0 && !focal_alpha_.defined()) {
        return {torch::nn::functional::cross_entropy(logits, y), logits, y};
      }
      // Lin et al. Eq. 5: FL = -alpha_y (1 - p_y)^gamma log p_y; 1 - p_y = -expm1(log p_y) keeps precision near p_y = 1.
      const auto log_p = target_log_probability(logits, y);
      auto per_sample = -log_p;
      if (options_.focal_gamma != 0.0) per_sample = per_sample * (-torch::expm1(log_p)).clamp_min(0.0).pow(options_.focal_gamma);
      if (focal_alpha_.defined()) {
        per_sample = per_sample * focal_alpha_.to(logits.device(), logits.scalar_type()).index_select(0, y);
      }
      return {per_sample.mean(), logits, y};
    }

    case LossKind::kCenter: {
      // Wen et al. Eq. 5: L = L_S + (lambda / 2) ||a_i - c_{y_i}||^2, averaged over the batch as in their
      // Caffe layer; the centres are constants here and move by Eq. 4 afterwards.
      const auto centers = centers_.index_select(0, y.to(centers_.device())).to(features.device(), features.scalar_type());
      const auto distance = (features - centers).pow(2).sum(1).mean();
      const auto loss = torch::nn::functional::cross_entropy(logits, y) + (0.5 * options_.center_lambda) * distance;
      update_centers(features, y);
      return {loss, logits, y};
    }

    case LossKind::kLq: {
      // Zhang & Sabuncu Eq. 6: L_q = (1 - p_y^q) / q, with p_y^q = exp(q log p_y).
      const auto log_p = target_log_probability(logits, y);
      return {(-torch::expm1(options_.lq_q * log_p) / options_.lq_q).mean(), logits, y};
    }

    case LossKind::kIsda: break;
  }
  throw std::logic_error("loss: unhandled kind " + to_string(kind_));
}

// Liu et al. Eq. 6: the target logit |w_y||x| psi(theta), psi(theta) = (-1)^k cos(m theta) - 2k for
// theta in [k pi / m, (k + 1) pi / m], mixed as (beta w_y^T x + |w_y||x| psi) / (1 + beta) (their
// annealing). cos(m theta) is their Eq. 7 expansion in cos(theta), so gradients need no acos.
// The other logits stay w_j^T x; the bias, if any, is added to every logit after the margin.
torch::Tensor ComparisonLoss::large_margin_logits(const torch::Tensor& features, const torch::Tensor& weight,
                                                  const torch::Tensor& bias, const torch::Tensor& labels) const {
  const int64_t m = options_.margin;
  const double beta = options_.large_margin_beta;
  const auto own = weight.index_select(0, labels);  // (N, A)
  const auto dot = (features * own).sum(1);        // w_y^T x
  const auto norms = (features.pow(2).sum(1).clamp_min(kTinySquaredNorm) * own.pow(2).sum(1).clamp_min(kTinySquaredNorm)).sqrt();
  const auto cos_theta = (dot / norms).clamp(-1.0, 1.0);
  const auto sin2 = 1.0 - cos_theta * cos_theta;
  auto cos_m = torch::zeros_like(cos_theta);
  for (int64_t n = 0; 2 * n <= m; ++n) {
    const double coefficient = (n % 2 == 0 ? 1.0 : -1.0) * binomial(m, 2 * n);
    cos_m = cos_m + coefficient * integer_power(cos_theta, m - 2 * n) * integer_power(sin2, n);
  }
  // k counts the interval boundaries cos(j pi / m) that theta has passed; it carries no gradient.
  auto k = torch::zeros_like(cos_theta);
  {
    torch::NoGradGuard no_grad;
    const auto c = cos_theta.detach();
    for (int64_t j = 1; j < m; ++j) k.add_(c.le(std::cos(static_cast<double>(j) * kPi / static_cast<double>(m))).to(k.scalar_type()));
  }
  const auto sign = 1.0 - 2.0 * torch::remainder(k, 2.0);
  const auto psi = sign * cos_m - 2.0 * k;
  auto target = (beta * dot + norms * psi) / (1.0 + beta);
  auto z = features.mm(weight.t()).scatter(1, labels.unsqueeze(1), target.unsqueeze(1));
  if (bias.defined()) z = z + bias;
  return z;
}

// Xie et al. Sec. 3.1: each label is, with probability alpha, replaced by a class drawn uniformly
// from all C (the true one included). Drawn on the CPU from the loss's own generator.
torch::Tensor ComparisonLoss::disturb(const torch::Tensor& labels) {
  const int64_t n = labels.size(0);
  const auto draw = torch::rand({n}, generator_, torch::TensorOptions().dtype(torch::kFloat64));
  const auto random = torch::randint(0, num_classes_, {n}, generator_, torch::TensorOptions().dtype(torch::kInt64));
  const auto disturbed = torch::where(draw.lt(options_.disturb_alpha), random, labels.to(torch::kCPU));
  return disturbed.to(labels.device());
}

// Wen et al. Eq. 4 and Algorithm 1: for every class j,
//   delta_j = sum_{i: y_i = j} (c_j - a_i) / (1 + n_j),   c_j <- c_j - alpha delta_j;
// classes absent from the batch have delta_j = 0 and keep their centre exactly.
void ComparisonLoss::update_centers(const torch::Tensor& features, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const auto x = features.detach().to(centers_.device(), centers_.scalar_type());
  const auto y = labels.to(centers_.device());
  const auto counts = torch::zeros({num_classes_}, x.options()).index_add_(0, y, torch::ones({y.size(0)}, x.options()));
  const auto sums = torch::zeros_like(centers_).index_add_(0, y, x);
  const auto delta = (counts.unsqueeze(1) * centers_ - sums) / (1.0 + counts).unsqueeze(1);
  centers_.sub_(options_.center_alpha * delta);
}

void ComparisonLoss::save(torch::serialize::OutputArchive& archive) const {
  archive.write("loss.kind", torch::tensor({static_cast<int64_t>(kind_), num_classes_, feature_dim_}));
  archive.write("loss.generator", generator_.get_state(), /*is_buffer=*/true);
  if (centers_.defined()) archive.write("loss.centers", centers_, /*is_buffer=*/true);
}

void ComparisonLoss::load(torch::serialize::InputArchive& archive) {
  torch::Tensor header;
  archive.read("loss.kind", header);
  const auto expected = torch::tensor({static_cast<int64_t>(kind_), num_classes_, feature_dim_});
  if (!header.defined() || header.sizes() != expected.sizes() || !torch::equal(header, expected)) {
    throw std::runtime_error("loss state in checkpoint does not match: expected " + to_string(kind_) +
                             " with C=" + std::to_string(num_classes_) + ", A=" + std::to_string(feature_dim_));
  }
  torch::Tensor state;
  archive.read("loss.generator", state, /*is_buffer=*/true);
  generator_.set_state(state);
  if (centers_.defined()) {
    torch::Tensor centers;
    archive.read("loss.centers", centers, /*is_buffer=*/true);
    if (centers.sizes() != centers_.sizes()) throw std::runtime_error("loss checkpoint: bad shape for loss.centers");
    centers_.copy_(centers);
  }
}

}  // namespace isda::train
