#pragma once
// The losses of the generators of the paper's Table 3, each as its paper states it, on the
// discriminator's outputs (tests/gan/gan_losses_test.cpp checks each against its formula in float64).

#include <torch/torch.h>

namespace isda::gan {

// Goodfellow et al. 2014, as DCGAN / CGAN (Mirza & Osindero 2014) train it, on logits l = D(x):
//   discriminator: -mean log sigmoid(l_real) - mean log(1 - sigmoid(l_fake))
//   generator (non-saturating): -mean log sigmoid(l_fake)
torch::Tensor discriminator_loss(const torch::Tensor& real_logits, const torch::Tensor& fake_logits);
torch::Tensor generator_loss(const torch::Tensor& fake_logits);

// WGAN (Arjovsky et al. 2017, Algorithm 1), on critic scores f:
//   critic: mean f(fake) - mean f(real) (minimised, i.e. the Wasserstein estimate maximised)
//   generator: -mean f(fake)
torch::Tensor critic_loss(const torch::Tensor& real_scores, const torch::Tensor& fake_scores);
torch::Tensor wasserstein_generator_loss(const torch::Tensor& fake_scores);
// Clamps every parameter of `critic` to [-clip, clip] in place (the paper's weight clipping, c = 0.01).
void clip_weights(torch::nn::Module& critic, double clip);

// ACGAN (Odena et al. 2017): the class log-likelihood L_C = E[log P(C = c | X_real)] + E[log P(C = c |
// X_fake)]; both the discriminator and the generator maximise it, so this returns -L_C (as mean
// cross-entropies): CE(real_logits, real_labels) + CE(fake_logits, fake_labels).
torch::Tensor auxiliary_class_loss(const torch::Tensor& real_logits, const torch::Tensor& real_labels,
                                   const torch::Tensor& fake_logits, const torch::Tensor& fake_labels);

// infoGAN (Chen et al. 2016, Eq. 5): the variational lower bound of the mutual information between
// the codes and the generated image, L_I = E[log Q(c | G(z, c))] + H(c), which G and Q maximise with
// weight lambda. With a uniform categorical code over K classes (H = log K) and continuous codes
// modelled by Q as unit-variance Gaussians (log Q = -sum_j (c_j - mu_j)^2 / 2 - d/2 log 2 pi, their
// entropy constant left out as the paper's implementation does), this returns
//   -(lambda_categorical * (mean log softmax(q_logits)[c] + log K)
//     + lambda_continuous * mean sum_j log N(c_j; mu_j, 1)).
torch::Tensor mutual_information_loss(const torch::Tensor& q_logits, const torch::Tensor& categorical_codes,
                                      const torch::Tensor& code_means, const torch::Tensor& continuous_codes,
                                      double lambda_categorical, double lambda_continuous);

}  // namespace isda::gan
