#include "isda/isda_loss.h"

#include <torch/torch.h>

namespace isda {

torch::Tensor add_quadratic_terms(const torch::Tensor& logits, const torch::Tensor& terms, double lambda) {
  if (!terms.defined()) return logits;
  return logits + (0.5 * lambda) * terms.to(logits.scalar_type());  // Eq. 4
}

torch::Tensor augmented_logits(const CovarianceEstimator& estimator, const torch::Tensor& logits,
                               const torch::Tensor& weight, const torch::Tensor& labels, double lambda) {
  if (lambda == 0.0) return logits;
  return add_quadratic_terms(logits, estimator.quadratic_terms(weight, labels), lambda);
}

IsdaOutput isda_loss(CovarianceEstimator& estimator, const torch::Tensor& features, const torch::Tensor& weight,
                     const torch::Tensor& bias, const torch::Tensor& labels, double lambda) {
  estimator.update(features, labels);
  auto logits = torch::nn::functional::linear(features, weight, bias);
  const auto z = augmented_logits(estimator, logits, weight, labels, lambda);
  return {torch::nn::functional::cross_entropy(z, labels), logits};
}

}  // namespace isda
