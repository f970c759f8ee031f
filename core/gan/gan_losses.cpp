#include "gan/gan_losses.h"

#include <cmath>

namespace isda::gan {

namespace F = torch::nn::functional;

torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits) {
  // -log sigmoid(l) = softplus(-l); -log(1 - sigmoid(l)) = softplus(l): stable for large |l|.
  return F::softplus(-real_logits).mean() + F::softplus(fake_logits).mean();
}

torch::Tensor generator_loss(const torch::Tensor& fake_logits) { return F::softplus(-fake_logits).mean(); }

torch::Tensor critic_loss(const torch::Tensor& real_scores, const torch::Tensor& fake_scores) {
  return fake_scores.mean() - real_scores.mean();
}

torch::Tensor wasserstein_generator_loss(const torch::Tensor& fake_scores) { return -fake_scores.mean(); }

void clip_weights(torch::nn::Module& critic, double clip) {
  torch::NoGradGuard no_grad;
  for (auto& p : critic.parameters()) p.clamp_(-clip, clip);
}

torch::Tensor auxiliary_class_loss(const torch::Tensor& real_logits, const torch::Tensor& real_labels,
                                   const torch::Tensor& fake_logits, const torch::Tensor& fake_labels) {
  return F::cross_entropy(real_logits, real_labels) + F::cross_entropy(fake_logits, fake_labels);
}

torch::Tensor mutual_information_loss(const torch::Tensor& q_logits, const torch::Tensor& categorical_codes,
                                      const torch::Tensor& code_means, const torch::Tensor& continuous_codes,
                                      double lambda_categorical, double lambda_continuous) {
  const double entropy = std::log(static_cast<double>(q_logits.size(1)));  // H(c) of a uniform code
  const auto categorical = -F::cross_entropy(q_logits, categorical_codes) + entropy;
  const auto squared = (continuous_codes - code_means).pow(2).sum(1);
  const auto continuous = (-0.5 * squared).mean() - 0.5 * static_cast<double>(code_means.size(1)) * std::log(2 * M_PI);
  return -(lambda_categorical * categorical + lambda_continuous * continuous);
}

}  // namespace isda::gan
