#pragma once
// A generator run: trains the generator(s) of the paper's Table 3 that `config.task` names (wgan,
// cgan, acgan, infogan) on the config's training data, under the run directory contract of
// train::train (config.json, events.jsonl, an atomic checkpoint after every epoch and on a stop
// signal, result.json; resume bit for bit on the CPU). At its end it measures its class consistency
// (gan/class_consistency.h) into the result. Settings: core/gan/README.md.

#include "train/trainer.h"

#include <string>

namespace isda::gan {

// Runs `config` (validated again; task must not be "classify") in the run harness of every task
// (train/run_session.h). Throws as train::train does: Interrupted on a stop signal, RunFailure for
// anything else; with a run directory every failure is logged as a `failed` event first. Each epoch's metrics: train_loss is
// the mean generator loss; errors are NaN (a generator has none).
train::TrainResult train_generator(const train::TrainConfig& config, const train::TrainOptions& options = {});

}  // namespace isda::gan
