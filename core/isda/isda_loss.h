#pragma once
// The ISDA loss of paper Eq. 4 (facts file §2), on top of any feature extractor and final linear
// layer: the upper bound of the expected cross-entropy over infinitely many augmented features.

#include "isda/covariance_estimator.h"

#include <torch/types.h>

namespace isda {

struct IsdaOutput {
  torch::Tensor loss;    // scalar, mean over the batch
  torch::Tensor logits;  // clean logits W a + b (N, C): use these for accuracy, never the augmented ones
};

// Updates `estimator` with the detached features first (so Sigma includes the current batch), then
//   z_j = w_j^T a + b_j + (lambda / 2) (w_j - w_y)^T Sigma_y (w_j - w_y),   loss = CE(z, y).
// features (N, A) carry the graph of the network; weight (C, A) and bias (C, or undefined) are the
// final linear layer's. Gradients flow into the features, W and b; Sigma is a constant.
// With lambda == 0 the result is plain cross-entropy exactly (the quadratic terms are skipped).
IsdaOutput isda_loss(CovarianceEstimator& estimator, const torch::Tensor& features, const torch::Tensor& weight,
                     const torch::Tensor& bias, const torch::Tensor& labels, double lambda);

// Eq. 4's z = logits + (lambda / 2) terms, for quadratic terms (N, C) from any estimator (cast to the
// logits' dtype); the logits themselves when `terms` is undefined (lambda == 0 skips them).
torch::Tensor add_quadratic_terms(const torch::Tensor& logits, const torch::Tensor& terms, double lambda);

// The augmented logits z of Eq. 4 for given clean logits, without touching the estimator.
torch::Tensor augmented_logits(const CovarianceEstimator& estimator, const torch::Tensor& logits,
                               const torch::Tensor& weight, const torch::Tensor& labels, double lambda);

}  // namespace isda
