#pragma once
// Online class-conditional covariance estimator of ISDA (paper Sec. 3.2, facts file §1).

#include <torch/types.h>
#include <torch/serialize/archive.h>

#include <string>

namespace isda {

// Which covariance the ISDA loss uses (the paper's Table 5 ablations).
enum class CovarianceKind {
  kFull,      // one full A x A covariance per class
  kDiagonal,  // per-class variances only (the ImageNet setting)
  kIdentity,  // Sigma_c = I for every class; nothing is estimated
  kSingle,    // one full covariance shared by all classes
};

// "full", "diagonal", "identity", "single". Throws std::invalid_argument naming the value.
CovarianceKind parse_covariance_kind(const std::string& name);
std::string to_string(CovarianceKind kind);

// Keeps, per class c, the count N_c, mean mu_c and population covariance Sigma_c of every
// feature of class c seen so far, merged exactly batch by batch (the pooled merge of the facts
// file, not a moving average). Cost per update grows with the distinct labels of the batch; no
// (N, A, A), (N, C, A) or one-hot copy of the batch is made.
//
// The state lives on the device given at construction, in `state_dtype` (float64 by default, so
// that 100k+ merges do not drift). Not thread-safe.
class CovarianceEstimator {
 public:
  CovarianceEstimator(CovarianceKind kind, int64_t num_classes, int64_t feature_dim,
                      torch::Device device = torch::kCPU, torch::Dtype state_dtype = torch::kFloat64);

  // Merges a batch: features (N, A), labels (N) in [0, num_classes). Features are detached.
  // Throws std::invalid_argument on shape mismatch.
  void update(const torch::Tensor& features, const torch::Tensor& labels);

  // The same merge as update(), written over all classes at once (a class absent from the batch gets
  // weight 0 and stays as it was): no host synchronisation and no data-dependent shapes, so that a
  // CUDA graph can capture it (train/training_step.h). Equal to update() up to rounding; the full and
  // single kinds hold the batch's per-sample outer products, N A^2 in the state dtype, for a moment.
  void update_all_classes(const torch::Tensor& features, const torch::Tensor& labels);

  // The quadratic forms of Eq. 4 for every sample and class,
  //   q[i, j] = (w_j - w_{y_i})^T Sigma_{y_i} (w_j - w_{y_i}),      shape (N, C),
  // differentiable with respect to `weight` (C, A) only; Sigma is a constant. Computed in the
  // dtype of `weight`. q[i, y_i] is exactly 0. The graph keeps no view of the state, so later
  // updates may run before the backward (two losses on one estimator, one backward).
  torch::Tensor quadratic_terms(const torch::Tensor& weight, const torch::Tensor& labels) const;

  // The full kind's rows of those terms for state classes `classes` (K, int64, indices into this
  // estimator's classes) against every row of `weight` (C', A), class k's own row being
  // weight[classes[k] + class_offset]:
  //   rows[k, j] = (w_j - w_u)^T Sigma_u (w_j - w_u),   u = classes[k],   shape (K, C').
  // Differentiable with respect to `weight` only. What a shard of a class-sharded estimator
  // (distributed/sharded_estimator.h: its classes are a range of the C) computes for its owner.
  torch::Tensor class_rows(const torch::Tensor& weight, const torch::Tensor& classes, int64_t class_offset = 0) const;

  // The covariance of class c as a dense (A, A) tensor (identity for kIdentity; the shared one
  // for kSingle; diag(variances) for kDiagonal). For tests and inspection.
  torch::Tensor covariance(int64_t c) const;
  torch::Tensor mean(int64_t c) const;
  int64_t count(int64_t c) const;

  CovarianceKind kind() const { return kind_; }
  int64_t num_classes() const { return num_classes_; }
  int64_t feature_dim() const { return feature_dim_; }

  // Memory that the state holds, in bytes.
  int64_t state_bytes() const;

  // Checkpointing. load() throws std::runtime_error if the saved kind or sizes differ.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

  // Forces quadratic_terms to loop over the distinct labels of the batch (true) or over all
  // classes at once (false). By default all classes are used when C <= N, which needs no
  // host synchronisation; the results are the same up to rounding.
  void set_distinct_label_mode(bool distinct) { force_distinct_ = distinct ? 1 : 0; }

 private:
  int64_t state_classes() const { return kind_ == CovarianceKind::kSingle ? 1 : num_classes_; }
  torch::Tensor state_labels(const torch::Tensor& labels) const;
  void merge(const torch::Tensor& features, const torch::Tensor& labels, bool all_classes);
  void update_full(const torch::Tensor& features, const torch::Tensor& labels);
  void update_full_all_classes(const torch::Tensor& features, const torch::Tensor& labels);
  void update_diagonal(const torch::Tensor& features, const torch::Tensor& labels);
  torch::Tensor full_terms(const torch::Tensor& weight, const torch::Tensor& labels) const;
  torch::Tensor rows_of(const torch::Tensor& weight, const torch::Tensor& classes, int64_t class_offset,
                        bool all_in_order) const;
  torch::Tensor single_terms(const torch::Tensor& weight, const torch::Tensor& labels) const;
  torch::Tensor diagonal_terms(const torch::Tensor& weight, const torch::Tensor& labels) const;
  torch::Tensor identity_terms(const torch::Tensor& weight, const torch::Tensor& labels) const;

  CovarianceKind kind_;
  int64_t num_classes_;
  int64_t feature_dim_;
  int force_distinct_ = -1;  // -1: automatic
  torch::Tensor counts_;      // (S) int64 on the CPU: N_c
  torch::Tensor mean_;        // (S, A) mu_c
  torch::Tensor covariance_;  // (S, A, A) for full/single, (S, A) variances for diagonal
};

}  // namespace isda
