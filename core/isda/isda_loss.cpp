#include "isda/isda_loss.h"

#include <torch/torch.h>

namespace isda {

torch::Tensor augmented_logits(const CovarianceEstimator& estimator, const torch::Tensor& logits,
                               const torch::Tensor& weight, const torch::Tensor& labels, double lambda) {
  if (lambda == 0.0) return logits;
  const auto terms = estimator.quadratic_terms(weight, labels).to(logits.scalar_type());
  return logits + (0.5 * lambda) * terms;  // Eq. 4
}

IsdaOutput isda_loss(CovarianceEstimator& estimator, const torch::Tensor& features, const torch::Tensor& weight,
                     const torch::Tensor& bias, const torch::Tensor& labels, double lambda) {
  estimator.update(features, labels);
  auto logits = torch::nn::functional::linear(features, weight, bias);
  const auto z = augmented_logits(estimator, logits, weight, labels, lambda);
  return {torch::nn::functional::cross_entropy(z, labels), logits};
}

}  // namespace isda
