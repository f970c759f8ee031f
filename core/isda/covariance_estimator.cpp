#include "isda/covariance_estimator.h"

#include "support/torch_compat.h"
#include "train/config_names.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

namespace isda {
namespace {

// Per chunk of labels, quadratic_terms holds Sigma_u (A, A) and two (C, A) products. Chunking
// keeps that below this many bytes whatever C and A are (C=1000, A=2048 needs ~1 GB unchunked).
constexpr int64_t kChunkBudgetBytes = int64_t{256} << 20;

void check_batch(const torch::Tensor& features, const torch::Tensor& labels, int64_t feature_dim,
                 int64_t num_classes) {
  if (features.dim() != 2 || features.size(1) != feature_dim) {
    throw std::invalid_argument("ISDA: features must be (N, " + std::to_string(feature_dim) + "), got " +
                                std::to_string(features.dim()) + "-d tensor");
  }
  if (labels.dim() != 1 || labels.size(0) != features.size(0)) {
    throw std::invalid_argument("ISDA: labels must be (N) with N = " + std::to_string(features.size(0)));
  }
  if (labels.is_cpu() && labels.numel() > 0) {
    const auto lo = labels.min().item<int64_t>();
    const auto hi = labels.max().item<int64_t>();
    if (lo < 0 || hi >= num_classes) {
      throw std::invalid_argument("ISDA: label " + std::to_string(lo < 0 ? lo : hi) + " outside [0, " +
                                  std::to_string(num_classes) + ")");
    }
  }
}

// What the autograd graph may keep of the state: `sigma` itself when a cast or a selection already
// copied it, else a copy. A view of the state (float64 weights on the state's device: .to() returns
// the same tensor) would be saved for backward and invalidated by the next update's in-place merge,
// so two losses on one estimator before one backward would throw.
torch::Tensor independent_of_state(const torch::Tensor& sigma, const torch::Tensor& state) {
  return sigma.is_alias_of(state) ? sigma.clone() : sigma;
}

}  // namespace

static_assert(static_cast<size_t>(CovarianceKind::kSingle) + 1 == train::names::kCovariances.size(),
              "CovarianceKind lists the names of train/config_names.h in their order");

CovarianceKind parse_covariance_kind(const std::string& name) {
  return train::names::parse_named<CovarianceKind>(train::names::kCovariances, name, "covariance");
}

std::string to_string(CovarianceKind kind) { return train::names::name_of(train::names::kCovariances, kind); }

CovarianceEstimator::CovarianceEstimator(CovarianceKind kind, int64_t num_classes, int64_t feature_dim,
                                         torch::Device device, torch::Dtype state_dtype)
    : kind_(kind), num_classes_(num_classes), feature_dim_(feature_dim) {
  if (num_classes < 1 || feature_dim < 1) {
    throw std::invalid_argument("ISDA: num_classes and feature_dim must be positive");
  }
  const auto options = torch::TensorOptions().device(device).dtype(state_dtype);
  const int64_t s = state_classes();
  counts_ = torch::zeros({s}, torch::TensorOptions().device(device).dtype(torch::kInt64));
  if (kind_ == CovarianceKind::kIdentity) return;
  mean_ = torch::zeros({s, feature_dim}, options);
  covariance_ = kind_ == CovarianceKind::kDiagonal ? torch::zeros({s, feature_dim}, options)
                                                   : torch::zeros({s, feature_dim, feature_dim}, options);
}

torch::Tensor CovarianceEstimator::state_labels(const torch::Tensor& labels) const {
  return kind_ == CovarianceKind::kSingle ? torch::zeros_like(labels) : labels;
}

void CovarianceEstimator::update(const torch::Tensor& features, const torch::Tensor& labels) {
  merge(features, labels, /*all_classes=*/false);
}

void CovarianceEstimator::update_all_classes(const torch::Tensor& features, const torch::Tensor& labels) {
  merge(features, labels, /*all_classes=*/true);
}

void CovarianceEstimator::merge(const torch::Tensor& features, const torch::Tensor& labels, bool all_classes) {
  check_batch(features, labels, feature_dim_, num_classes_);
  if (features.size(0) == 0) return;
  torch::NoGradGuard no_grad;
  const auto device = counts_.device();
  const auto y = state_labels(labels).to(device, torch::kInt64);
  if (kind_ == CovarianceKind::kIdentity) {
    counts_.index_add_(0, y, torch::ones_like(y));
    return;
  }
  const auto x = features.detach().to(device, mean_.scalar_type());
  if (kind_ == CovarianceKind::kDiagonal) {
    update_diagonal(x, y);  // over all classes either way
  } else if (all_classes) {
    update_full_all_classes(x, y);
  } else {
    update_full(x, y);
  }
}

// Facts §1 for every class present in the batch, each with its own weight w = n_c / (n_c + N_c).
void CovarianceEstimator::update_full(const torch::Tensor& x, const torch::Tensor& y) {
  auto [classes, inverse, batch_counts] = compat::unique_with_inverse_and_counts(y);
  const auto k = classes.size(0);
  const auto batch_counts_f = batch_counts.to(x.scalar_type()).unsqueeze(1);
  const auto batch_mean = torch::zeros({k, feature_dim_}, x.options()).index_add_(0, inverse, x) / batch_counts_f;
  const auto centered = x - batch_mean.index_select(0, inverse);
  // Group the rows by class (stable, so the summation order is fixed) and take each class's
  // block: its scatter matrix costs n_c A^2, N A^2 for the batch in all.
  const auto order = std::get<1>(at::sort(inverse, /*stable=*/true, /*dim=*/0, /*descending=*/false));
  const auto grouped = centered.index_select(0, order);

  const auto classes_cpu = classes.cpu();
  const auto batch_counts_cpu = batch_counts.cpu();
  const auto seen_cpu = counts_.cpu();
  const auto* class_ids = classes_cpu.data_ptr<int64_t>();
  const auto* ns = batch_counts_cpu.data_ptr<int64_t>();
  const auto* seen = seen_cpu.data_ptr<int64_t>();
  int64_t offset = 0;
  for (int64_t i = 0; i < k; ++i) {
    const int64_t c = class_ids[i];
    const int64_t n = ns[i];
    const auto block = grouped.narrow(0, offset, n);
    offset += n;
    const double w = static_cast<double>(n) / static_cast<double>(n + seen[c]);
    const auto delta = mean_[c] - batch_mean[i];  // uses the old mu_c
    auto sigma = covariance_[c];
    // Sigma <- (1 - w) Sigma + w (1 - w) delta delta^T + w S, with S = block^T block / n.
    sigma.addr_(delta, delta, /*beta=*/1.0 - w, /*alpha=*/w * (1.0 - w));
    sigma.addmm_(block.t(), block, /*beta=*/1.0, /*alpha=*/w / static_cast<double>(n));
    mean_[c].mul_(1.0 - w).add_(batch_mean[i], w);
  }
  counts_.index_add_(0, classes, batch_counts);
}

void CovarianceEstimator::update_full_all_classes(const torch::Tensor& x, const torch::Tensor& y) {
  // Facts §1 for every class c with n_c samples in the batch and w_c = n_c / (n_c + N_c):
  //   Sigma_c <- (1 - w) Sigma_c + w (1 - w) delta delta^T + (w / n_c) S_c,   S_c = sum of x x^T (centred).
  const int64_t s = state_classes();
  const auto n = torch::zeros({s}, x.options()).index_add_(0, y, torch::ones({y.size(0)}, x.options()));
  const auto n_safe = n.clamp_min(1.0);
  const auto batch_mean = torch::zeros({s, feature_dim_}, x.options()).index_add_(0, y, x) / n_safe.unsqueeze(1);
  const auto centered = x - batch_mean.index_select(0, y);
  const auto scatter = torch::zeros({s, feature_dim_, feature_dim_}, x.options())
                           .index_add_(0, y, centered.unsqueeze(2) * centered.unsqueeze(1));
  const auto w = n / (n + counts_.to(x.scalar_type())).clamp_min(1.0);
  const auto w3 = w.view({s, 1, 1});
  const auto delta = mean_ - batch_mean;  // uses the old mu_c
  covariance_.mul_(1.0 - w3)
      .add_((w3 * (1.0 - w3)) * delta.unsqueeze(2) * delta.unsqueeze(1))
      .add_((w3 / n_safe.view({s, 1, 1})) * scatter);
  mean_.mul_(1.0 - w.unsqueeze(1)).add_(w.unsqueeze(1) * batch_mean);
  counts_.add_(n.to(torch::kInt64));
}

// The same merge restricted to the diagonal, vectorised over all classes at once (classes absent
// from the batch get w = 0 and stay unchanged); needs no host synchronisation.
void CovarianceEstimator::update_diagonal(const torch::Tensor& x, const torch::Tensor& y) {
  const auto s = state_classes();
  const auto n = torch::zeros({s}, x.options()).index_add_(0, y, torch::ones({y.size(0)}, x.options())).unsqueeze(1);
  const auto n_safe = n.clamp_min(1.0);
  const auto batch_mean = torch::zeros({s, feature_dim_}, x.options()).index_add_(0, y, x) / n_safe;
  const auto centered = x - batch_mean.index_select(0, y);
  const auto batch_var = torch::zeros({s, feature_dim_}, x.options()).index_add_(0, y, centered * centered) / n_safe;
  const auto w = n / (n + counts_.to(x.scalar_type()).unsqueeze(1)).clamp_min(1.0);
  const auto delta = mean_ - batch_mean;
  covariance_.mul_(1.0 - w).add_(w * batch_var).add_(w * (1.0 - w) * delta * delta);
  mean_.mul_(1.0 - w).add_(w * batch_mean);
  counts_.add_(n.squeeze(1).to(torch::kInt64));
}

torch::Tensor CovarianceEstimator::quadratic_terms(const torch::Tensor& weight, const torch::Tensor& labels) const {
  if (weight.dim() != 2 || weight.size(0) != num_classes_ || weight.size(1) != feature_dim_) {
    throw std::invalid_argument("ISDA: classifier weight must be (" + std::to_string(num_classes_) + ", " +
                                std::to_string(feature_dim_) + ")");
  }
  const auto y = labels.to(weight.device(), torch::kInt64);
  switch (kind_) {
    case CovarianceKind::kFull: return full_terms(weight, y);
    case CovarianceKind::kSingle: return single_terms(weight, y);
    case CovarianceKind::kDiagonal: return diagonal_terms(weight, y);
    case CovarianceKind::kIdentity: return identity_terms(weight, y);
  }
  throw std::logic_error("ISDA: unhandled covariance kind");
}

// One (C) row of terms per class u that occurs (or per class, when that is cheaper to schedule):
//   Q[u, j] = (w_j - w_u)^T Sigma_u (w_j - w_u) = rowsum((D_u Sigma_u) o D_u),  D_u = W - w_u.
// Each sample then takes its class's row. Cost: K C A^2 for K classes, no (N, C, A) tensor.
torch::Tensor CovarianceEstimator::full_terms(const torch::Tensor& weight, const torch::Tensor& y) const {
  const bool distinct = force_distinct_ == -1 ? num_classes_ > y.size(0) : force_distinct_ == 1;
  torch::Tensor classes;
  torch::Tensor inverse;
  if (distinct) {
    std::tie(classes, inverse, std::ignore) = compat::unique_with_inverse_and_counts(y);
  } else {
    classes = torch::arange(num_classes_, y.options());
    inverse = y;
  }
  // All classes in order: each chunk is a view of the state, cast once, no selected copy (and no
  // host synchronisation, for CUDA graphs).
  return rows_of(weight, classes, 0, /*all_in_order=*/!distinct).index_select(0, inverse);
}

torch::Tensor CovarianceEstimator::class_rows(const torch::Tensor& weight, const torch::Tensor& classes,
                                              int64_t class_offset) const {
  if (kind_ != CovarianceKind::kFull) throw std::logic_error("ISDA: class_rows needs the full covariance");
  return rows_of(weight, classes, class_offset, /*all_in_order=*/false);
}

torch::Tensor CovarianceEstimator::rows_of(const torch::Tensor& weight, const torch::Tensor& classes,
                                           int64_t class_offset, bool all_in_order) const {
  const auto covariance = covariance_.to(weight.device());
  const int64_t classes_in_weight = weight.size(0);
  const int64_t k = classes.size(0);
  // Per class: Sigma_u as selected (state dtype) and cast (weight dtype), D_u and D_u Sigma_u.
  const int64_t per_class_bytes =
      feature_dim_ * feature_dim_ * (covariance.element_size() + weight.element_size()) +
      2 * classes_in_weight * feature_dim_ * static_cast<int64_t>(weight.element_size());
  const int64_t chunk = std::max<int64_t>(1, kChunkBudgetBytes / per_class_bytes);
  std::vector<torch::Tensor> rows;
  for (int64_t start = 0; start < k; start += chunk) {
    const auto count = std::min(chunk, k - start);
    const auto ids = classes.narrow(0, start, count);
    const auto selected = all_in_order ? covariance.narrow(0, start, count) : covariance.index_select(0, ids);
    const auto sigma = independent_of_state(selected.to(weight.scalar_type()), covariance_);  // (k, A, A)
    const auto own = weight.index_select(0, ids + class_offset);
    const auto diff = weight.unsqueeze(0) - own.unsqueeze(1);  // (k, C', A)
    rows.push_back((diff.bmm(sigma) * diff).sum(-1));          // (k, C')
  }
  if (rows.empty()) return torch::zeros({0, classes_in_weight}, weight.options());
  return rows.size() == 1 ? rows.front() : torch::cat(rows, 0);
}

// With one Sigma for all classes, G = W Sigma W^T (C, C) gives every pair at once:
//   Q[u, j] = G_jj - 2 G_uj + G_uu, exactly 0 on the diagonal.
static torch::Tensor shared_covariance_terms(const torch::Tensor& weight, const torch::Tensor& sigma,
                                             const torch::Tensor& y) {
  const auto projected = sigma.defined() ? weight.mm(sigma) : weight;
  const auto gram = projected.mm(weight.t());
  const auto diag = gram.diagonal();
  const auto pairs = (diag.unsqueeze(0) - 2.0 * gram) + diag.unsqueeze(1);
  return pairs.index_select(0, y);
}

torch::Tensor CovarianceEstimator::single_terms(const torch::Tensor& weight, const torch::Tensor& y) const {
  return shared_covariance_terms(
      weight, independent_of_state(covariance_[0].to(weight.device(), weight.scalar_type()), covariance_), y);
}

torch::Tensor CovarianceEstimator::identity_terms(const torch::Tensor& weight, const torch::Tensor& y) const {
  return shared_covariance_terms(weight, torch::Tensor(), y);
}

// sum_a (W_ja - W_ya)^2 s_ya = s_y . W_j^2 - 2 (W_y o s_y) . W_j + s_y . W_y^2: two (N, A) x (A, C)
// products. The own-class entry is set to exactly 0 (rounding would otherwise leave ~1e-7).
torch::Tensor CovarianceEstimator::diagonal_terms(const torch::Tensor& weight, const torch::Tensor& y) const {
  const auto variances = covariance_.to(weight.device(), weight.scalar_type()).index_select(0, y);  // (N, A)
  const auto own = weight.index_select(0, y);                                                        // (N, A)
  const auto terms = variances.mm((weight * weight).t()) - 2.0 * (own * variances).mm(weight.t()) +
                     (own * own * variances).sum(1, /*keepdim=*/true);
  return terms.scatter(1, y.unsqueeze(1), 0.0);
}

torch::Tensor CovarianceEstimator::covariance(int64_t c) const {
  if (c < 0 || c >= num_classes_) throw std::out_of_range("ISDA: class " + std::to_string(c) + " out of range");
  const int64_t s = kind_ == CovarianceKind::kSingle ? 0 : c;
  switch (kind_) {
    case CovarianceKind::kIdentity:
      return torch::eye(feature_dim_, torch::TensorOptions().dtype(torch::kFloat64).device(counts_.device()));
    case CovarianceKind::kDiagonal: return torch::diag(covariance_[s]);
    default: return covariance_[s];
  }
}

torch::Tensor CovarianceEstimator::mean(int64_t c) const {
  if (kind_ == CovarianceKind::kIdentity) throw std::logic_error("ISDA: the identity variant keeps no mean");
  return mean_[kind_ == CovarianceKind::kSingle ? 0 : c];
}

int64_t CovarianceEstimator::count(int64_t c) const {
  return counts_[kind_ == CovarianceKind::kSingle ? 0 : c].item<int64_t>();
}

int64_t CovarianceEstimator::state_bytes() const {
  int64_t bytes = counts_.numel() * counts_.element_size();
  if (mean_.defined()) bytes += mean_.numel() * mean_.element_size();
  if (covariance_.defined()) bytes += covariance_.numel() * covariance_.element_size();
  return bytes;
}

void CovarianceEstimator::save(torch::serialize::OutputArchive& archive) const {
  archive.write("isda.kind", torch::tensor({static_cast<int64_t>(kind_), num_classes_, feature_dim_}));
  archive.write("isda.counts", counts_, /*is_buffer=*/true);
  if (mean_.defined()) {
    archive.write("isda.mean", mean_, /*is_buffer=*/true);
    archive.write("isda.covariance", covariance_, /*is_buffer=*/true);
  }
}

void CovarianceEstimator::load(torch::serialize::InputArchive& archive) {
  torch::Tensor header;
  archive.read("isda.kind", header);
  const auto expected = torch::tensor({static_cast<int64_t>(kind_), num_classes_, feature_dim_});
  if (!header.defined() || header.sizes() != expected.sizes() || !torch::equal(header, expected)) {
    throw std::runtime_error("ISDA estimator in checkpoint does not match: expected " + to_string(kind_) +
                             " covariance with C=" + std::to_string(num_classes_) +
                             ", A=" + std::to_string(feature_dim_));
  }
  const auto read_into = [&archive](const char* key, torch::Tensor& target) {
    torch::Tensor value;
    archive.read(key, value, /*is_buffer=*/true);
    if (value.sizes() != target.sizes()) throw std::runtime_error(std::string("ISDA checkpoint: bad shape for ") + key);
    target.copy_(value);
  };
  read_into("isda.counts", counts_);
  if (mean_.defined()) {
    read_into("isda.mean", mean_);
    read_into("isda.covariance", covariance_);
  }
}

}  // namespace isda
