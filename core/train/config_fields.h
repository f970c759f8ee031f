#pragma once
// The table of a run config's keys (core/train internal): each key's name, field and one line of
// help, in the order of to_json. JSON, --help, parsing, validation and the canonical run-id text all
// walk it, so a key added to TrainConfig without its row here is missed by all of them (and
// config_keys()'s count check fails).

#include "train/train_config.h"

#include <cstddef>
#include <string>

namespace isda::train::fields {

inline ConfigError error(const std::string& source, const std::string& key, const std::string& problem) {
  return ConfigError(source + ": " + key + ": " + problem);
}

// Calls v(key, field, help) for every field: the one list from which JSON, help and parsing derive.
template <typename Config, typename Visitor>
void visit_fields(Config& c, Visitor&& v) {
  v("task", c.task, "what to train: classify (a network), or a generator of Table 3: wgan (one per class), cgan, acgan, infogan (core/gan)");
  v("dataset", c.dataset, "data set: fashion-mnist, cifar10, cifar100, imagenet (JPEG folders train/ and val/)");
  v("data_root", c.data_root, "folder holding the data set files (default: the data set's standard location)");
  v("holdout", c.holdout, "train on 45,000 training images and report the error on the other 5,000 (CIFAR)");
  v("split_seed", c.split_seed, "seed of the 45k/5k hold-out split");
  v("augment", c.augment, "augmentation: none, standard (pad-crop-flip), cutout, autoaugment");
  v("train_limit", c.train_limit, "train on the first N training images only (0: all)");
  v("test_limit", c.test_limit, "test on the first N test images only (0: all)");
  v("image_size", c.image_size, "imagenet: side of the training crops and evaluation centre crops (0: 224, the paper's)");
  v("model", c.model, "network name (isda-train --list-models)");
  v("dropout", c.dropout, "dropout rate: inside the blocks of wrn*, on the deep features of other networks");
  v("method", c.method, "loss: ce, isda, large_margin, disturb_label, focal, center, lq");
  v("lambda0", c.lambda0, "ISDA's final augmentation strength lambda0");
  v("lambda_schedule", c.lambda_schedule, "how lambda ramps to lambda0: epoch (authors' code), iteration (paper), constant");
  v("covariance", c.covariance, "ISDA covariance: full, diagonal, identity, single");
  v("estimator_dtype", c.estimator_dtype, "ISDA: dtype of the covariance estimator's state: float64, or float32 (half the memory; core/README.md gives its error)");
  v("estimator_sharding", c.estimator_sharding, "ISDA with ranks > 1: auto (the full covariance estimator split by class across the ranks, each holding C/ranks classes) or off (every rank holds all)");
  v("margin", c.margin, "large_margin: multiplicative angular margin m");
  v("disturb_alpha", c.disturb_alpha, "disturb_label: probability of replacing a label by a random one");
  v("focal_gamma", c.focal_gamma, "focal: focusing exponent gamma");
  v("center_lambda", c.center_lambda, "center: weight of the centre term");
  v("center_alpha", c.center_alpha, "center: learning rate of the centres");
  v("lq_q", c.lq_q, "lq: exponent q");
  v("gan", c.gan, "classify: mix images of a finished generator run of this kind (wgan, cgan, acgan, infogan) into each batch");
  v("gan_epochs", c.gan_epochs, "gan: epochs of the generator run (its epochs over the training set)");
  v("gan_width", c.gan_width, "gan: base channel count of the generator and discriminator (DCGAN: 64)");
  v("generated_fraction", c.generated_fraction, "gan: share of generated images in each training batch");
  v("generator_run", c.generator_run, "gan: the generator run, as its id (a directory beside --run-dir) or a directory; isda-run fills it");
  v("recipe", c.recipe, "named training recipe of the paper (resnet, se_resnet, wrn, densenet, resnext, shake_shake, pyramidnet); explicit keys override it");
  v("epochs", c.epochs, "number of epochs");
  v("batch_size", c.batch_size, "images per SGD step");
  v("lr", c.lr, "initial learning rate");
  v("momentum", c.momentum, "SGD momentum");
  v("nesterov", c.nesterov, "Nesterov momentum");
  v("weight_decay", c.weight_decay, "L2 weight decay on every parameter");
  v("lr_schedule", c.lr_schedule, "step or cosine (per epoch)");
  v("lr_milestones", c.lr_milestones, "step: epochs at which the learning rate is multiplied by lr_gamma");
  v("lr_gamma", c.lr_gamma, "step: decay factor at each milestone");
  v("lr_decay_early", c.lr_decay_early, "step: decay one epoch before each milestone, as the authors' code does");
  v("seed", c.seed, "random seed (initialisation, shuffling, augmentation)");
  v("device", c.device, "auto, cpu, cuda or cuda:N");
  v("precision", c.precision, "fp32, or bf16 (autocast, CUDA only)");
  v("channels_last", c.channels_last, "channels_last memory format (CUDA)");
  v("threads", c.threads, "CPU threads (0: LibTorch's default)");
  v("deterministic", c.deterministic, "deterministic CUDA kernels: a run repeats and resumes with the same metrics on a GPU (slower)");
  v("cuda_graph", c.cuda_graph, "capture the training step (forward, ISDA, backward, SGD) in a CUDA graph and replay it (CUDA; ce and isda)");
  v("ranks", c.ranks, "data-parallel processes sharing each global batch (one per GPU, or CPU processes); isda-train starts them");
  v("sync_bn", c.sync_bn, "with ranks > 1: BatchNorm statistics over the global batch instead of each rank's share");
  v("dist_timeout", c.dist_timeout, "with ranks > 1: seconds a rank waits for the others before the run fails");
  v("stall_limit", c.stall_limit, "isda-run: seconds without a finished step before a worker counts as stalled and is retried (0: max(600, 20 x its slowest step))");
}

// Calls f(key, field) for the field at `index` (config_keys() order).
template <typename Config, typename F>
void visit_field(Config& c, size_t index, F&& f) {
  size_t i = 0;
  visit_fields(c, [&](const char* key, auto& field, const char*) {
    if (i++ == index) f(key, field);
  });
}

// The bytes of a field's value, to tell whether it changed since a fragment was written for it.
}  // namespace isda::train::fields
