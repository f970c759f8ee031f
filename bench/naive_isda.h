#pragma once
// The ISDA head in the formulation of the authors' public code (written anew from its formulas),
// the peer our head is measured against: it materialises (N, C, A) one-hot expansions of the batch,
// (C, A, A) per-step temporaries and an (N, C, C) product per step.

#include <torch/types.h>

namespace isda::bench {

class NaiveIsdaHead {
 public:
  NaiveIsdaHead(int64_t num_classes, int64_t feature_dim, torch::Device device);

  // Estimator update then the augmented cross-entropy, as in the authors' ISDALoss.forward.
  torch::Tensor loss(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias,
                     const torch::Tensor& labels, double lambda);

 private:
  void update(const torch::Tensor& features, const torch::Tensor& labels);

  int64_t classes_;
  int64_t dim_;
  torch::Tensor covariance_;  // (C, A, A) float32
  torch::Tensor mean_;        // (C, A)
  torch::Tensor amount_;      // (C)
};

}  // namespace isda::bench
