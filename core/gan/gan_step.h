#pragma once
// One training step of a generator/discriminator pair of any kind (core/gan/README.md): the
// discriminator's (critic's) update on a batch of real images and generated ones, then, when due,
// the generator's. Kept apart from the run (gan_trainer.cpp) so that tests can drive a step with
// inputs of their own.

#include "gan/gan_networks.h"

#include <torch/torch.h>

#include <functional>

namespace isda::gan {

// The optimiser and loss settings of each kind (their papers' standard 32x32 setups).
struct GanRecipe {
  bool adam = true;          // Adam (DCGAN, CGAN, ACGAN, infoGAN); false: RMSprop (WGAN)
  double lr = 2e-4;
  double beta1 = 0.5, beta2 = 0.999;  // Adam
  int64_t n_critic = 1;      // discriminator steps per generator step
  double clip = 0;           // WGAN's weight clipping (0: none)
  bool fresh_generator_noise = false;  // the generator step draws its own noise (WGAN) or reuses the discriminator step's (DCGAN)
  double lambda_categorical = 0, lambda_continuous = 0;  // infoGAN's mutual-information weights
  double lambda_supervised = 0;  // infoGAN: weight of Q's cross-entropy on the real images' labels
};
GanRecipe recipe_of(GanKind kind);

// A generator, its discriminator and their optimisers (the optimisers over
// Generator::parameters() and Discriminator::parameters()).
struct GanPair {
  Generator generator{nullptr};
  Discriminator discriminator{nullptr};
  torch::optim::Optimizer* generator_optimizer = nullptr;
  torch::optim::Optimizer* discriminator_optimizer = nullptr;
};

// Draws a generator's input for `labels` (CPU int64), returning infoGAN's continuous codes in
// `continuous_codes` (generator_input of generated_images.h with the run's noise generator).
using DrawInput = std::function<torch::Tensor(const torch::Tensor& labels, torch::Tensor* continuous_codes)>;

// The images of one step: real ones (on the pair's device, in [-1, 1]) with their labels, and the
// labels (codes) of the images to generate (CPU int64; WGAN: all its pair's class).
struct StepBatch {
  torch::Tensor real, real_labels, fake_labels;
};

// One discriminator step and, with `generator_step`, one generator step; returns the generator's
// loss (NaN without a generator step).
double gan_step(GanPair& pair, const GanShape& shape, const GanRecipe& recipe, const StepBatch& batch,
                bool generator_step, const DrawInput& draw);

}  // namespace isda::gan
