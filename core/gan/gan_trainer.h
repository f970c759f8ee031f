#pragma once
// A generator run: trains the generator(s) of the paper's Table 3 that `config.task` names (wgan,
// cgan, acgan, infogan) on the config's training data, under the run directory contract of
// train::train (config.json, events.jsonl, an atomic checkpoint after every epoch and on a stop
// signal, result.json; resume bit for bit on the CPU). Settings: core/gan/README.md.

#include "gan/gan_networks.h"
#include "train/trainer.h"

#include <string>

namespace isda::gan {

// The optimiser and loss settings of each kind (their papers' standard 32x32 setups).
struct GanRecipe {
  bool adam = true;          // Adam (DCGAN, CGAN, ACGAN, infoGAN); false: RMSprop (WGAN)
  double lr = 2e-4;
  double beta1 = 0.5, beta2 = 0.999;  // Adam
  int64_t n_critic = 1;      // discriminator steps per generator step
  double clip = 0;           // WGAN's weight clipping (0: none)
  double lambda_categorical = 0, lambda_continuous = 0;  // infoGAN's mutual-information weights
};
GanRecipe recipe_of(GanKind kind);

// Runs `config` (validated again; task must not be "classify") in the run harness of every task
// (train/run_session.h). Throws as train::train does: Interrupted on a stop signal, RunFailure for
// anything else; with a run directory every failure is logged as a `failed` event first. Each epoch's metrics: train_loss is
// the mean generator loss; errors are NaN (a generator has none).
train::TrainResult train_generator(const train::TrainConfig& config, const train::TrainOptions& options = {});

}  // namespace isda::gan
