// validate(): the values of a run config, key by key (train/train_config.h states the contract).
#include "train/train_config.h"

#include "train/config_fields.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

namespace isda::train {

using fields::error;
using fields::visit_fields;

void validate(const TrainConfig& c, const std::string& source) {
  // JSON cannot carry inf or NaN (read_json_file refuses 1e999), but the command line can (--lr inf)
  // and so can code; no floating-point key means anything then, and the range checks let inf through.
  visit_fields(c, [&](const char* key, const auto& value, const char*) {
    if constexpr (std::is_floating_point_v<std::decay_t<decltype(value)>>) {
      if (!std::isfinite(value)) {
        throw error(source, key, std::string("must be a finite number, got ") +
                                     (std::isnan(value) ? "nan" : value > 0 ? "inf" : "-inf"));
      }
    }
  });
  const auto one_of = [&](const char* key, const std::string& value, std::initializer_list<const char*> known) {
    std::string list;
    for (const char* k : known) {
      if (value == k) return;
      list += (list.empty() ? "" : ", ") + std::string(k);
    }
    throw error(source, key, "unknown value \"" + value + "\" (known: " + list + ")");
  };
  one_of("dataset", c.dataset, {"fashion-mnist", "cifar10", "cifar100", "imagenet"});
  one_of("augment", c.augment, {"none", "standard", "cutout", "autoaugment"});
  if (c.dataset == "imagenet" && c.augment != "standard" && c.augment != "none") {
    throw error(source, "augment", "imagenet takes standard (RandomResizedCrop + flip) or none, got \"" + c.augment + "\"");
  }
  if (c.dataset == "imagenet" && c.holdout) throw error(source, "holdout", "imagenet has no hold-out (it is tested on val/)");
  one_of("task", c.task, {"classify", "wgan", "cgan", "acgan", "infogan"});
  if (!c.gan.empty()) one_of("gan", c.gan, {"wgan", "cgan", "acgan", "infogan"});
  if (c.task != "classify" && !c.gan.empty()) {
    throw error(source, "gan", "names the generator a classifier's batches use; a generator run (task \"" + c.task +
                                   "\") takes none, got \"" + c.gan + "\"");
  }
  if (c.task != "classify" && c.dataset == "imagenet") {
    throw error(source, "task", "generators train on the resident data sets (fashion-mnist, cifar10, cifar100), not imagenet");
  }
  if (c.task != "classify") {  // what a generator run does not do: refused rather than ignored
    const auto refuse = [&](const char* key, const std::string& what) {
      throw error(source, key, what + " is for classifier runs; a generator run (task \"" + c.task + "\") trains in fp32, "
                                      "contiguous, step by step");
    };
    if (c.precision != "fp32") refuse("precision", "\"" + c.precision + "\"");
    if (c.channels_last) refuse("channels_last", "true");
    if (c.cuda_graph) refuse("cuda_graph", "true");
  }
  if (!c.gan.empty() && c.dataset == "imagenet") throw error(source, "gan", "generated images need a resident data set, not imagenet");
  if (!c.gan.empty() && c.cuda_graph) throw error(source, "cuda_graph", "captures fixed batches; gan adds generated images to them");
  if (!c.generator_run.empty() && c.gan.empty()) {
    throw error(source, "generator_run", "needs gan (the kind of generator the run " + c.generator_run + " trained)");
  }
  one_of("method", c.method, {"ce", "isda", "large_margin", "disturb_label", "focal", "center", "lq"});
  one_of("lambda_schedule", c.lambda_schedule, {"epoch", "iteration", "constant"});
  one_of("covariance", c.covariance, {"full", "diagonal", "identity", "single"});
  one_of("lr_schedule", c.lr_schedule, {"step", "cosine"});
  one_of("precision", c.precision, {"fp32", "bf16"});
  const auto is_cuda_index = [](const std::string& device) {
    return device.size() > 5 && device.rfind("cuda:", 0) == 0 &&
           std::all_of(device.begin() + 5, device.end(), [](unsigned char ch) { return std::isdigit(ch); });
  };
  if (c.device != "auto" && c.device != "cpu" && c.device != "cuda" && !is_cuda_index(c.device)) {
    throw error(source, "device", "unknown value \"" + c.device + "\" (known: auto, cpu, cuda, cuda:N)");
  }
  const auto positive = [&](const char* key, double value) {
    if (!(value > 0)) throw error(source, key, "must be positive, got " + nlohmann::json(value).dump());
  };
  const auto non_negative = [&](const char* key, double value) {
    if (!(value >= 0)) throw error(source, key, "must not be negative, got " + nlohmann::json(value).dump());
  };
  const auto probability = [&](const char* key, double value) {
    if (!(value >= 0 && value < 1)) throw error(source, key, "must be in [0, 1), got " + nlohmann::json(value).dump());
  };
  positive("epochs", static_cast<double>(c.epochs));
  positive("batch_size", static_cast<double>(c.batch_size));
  positive("lr", c.lr);
  positive("lr_gamma", c.lr_gamma);
  positive("margin", c.margin);
  positive("lq_q", c.lq_q);
  non_negative("lambda0", c.lambda0);
  non_negative("momentum", c.momentum);
  non_negative("weight_decay", c.weight_decay);
  non_negative("focal_gamma", c.focal_gamma);
  non_negative("center_lambda", c.center_lambda);
  non_negative("train_limit", static_cast<double>(c.train_limit));
  non_negative("test_limit", static_cast<double>(c.test_limit));
  non_negative("threads", static_cast<double>(c.threads));
  positive("gan_epochs", static_cast<double>(c.gan_epochs));
  positive("gan_width", static_cast<double>(c.gan_width));
  if (!(c.generated_fraction > 0 && c.generated_fraction < 1)) {
    throw error(source, "generated_fraction", "must be in (0, 1), got " + nlohmann::json(c.generated_fraction).dump());
  }
  probability("dropout", c.dropout);
  probability("disturb_alpha", c.disturb_alpha);
  if (!(c.center_alpha > 0 && c.center_alpha <= 1)) throw error(source, "center_alpha", "must be in (0, 1]");
  if (c.margin != std::floor(c.margin)) throw error(source, "margin", "must be a whole number");
  if (c.nesterov && c.momentum == 0) throw error(source, "nesterov", "needs momentum > 0");
  if (c.cuda_graph && c.device == "cpu") throw error(source, "cuda_graph", "needs a CUDA device (device is \"cpu\")");
  if (c.cuda_graph && c.method != "ce" && c.method != "isda") {
    throw error(source, "cuda_graph", "captures the ce and isda steps only, not \"" + c.method + "\"");
  }
  positive("ranks", static_cast<double>(c.ranks));
  positive("dist_timeout", c.dist_timeout);
  non_negative("stall_limit", c.stall_limit);
  non_negative("image_size", static_cast<double>(c.image_size));
  if (c.image_size != 0 && c.image_size < 32) throw error(source, "image_size", "must be at least 32 (the networks stride by 32)");
  if (c.ranks > 1) {
    if (c.batch_size % c.ranks != 0) {
      throw error(source, "batch_size", "the global batch " + std::to_string(c.batch_size) + " does not split into " + std::to_string(c.ranks) + " equal shares (ranks)");
    }
    if (c.method != "ce" && c.method != "isda") {
      throw error(source, "ranks", "data-parallel training runs the ce and isda methods only, not \"" + c.method + "\"");
    }
    if (c.cuda_graph) throw error(source, "cuda_graph", "is for one rank; with ranks > 1 the step all-reduces between ranks");
    if (c.task != "classify") throw error(source, "ranks", "a generator run (task \"" + c.task + "\") trains on one rank");
    if (!c.gan.empty() || !c.generator_run.empty()) {
      throw error(source, "ranks", "generated images are mixed into one process's batches only (gan, generator_run)");
    }
  }
  if (!c.recipe.empty()) {
    try {
      recipe(c.recipe);
    } catch (const ConfigError& e) {
      throw error(source, "recipe", e.what());
    }
  }
  for (size_t i = 0; i < c.lr_milestones.size(); ++i) {
    if (c.lr_milestones[i] < 0 || (i > 0 && c.lr_milestones[i] <= c.lr_milestones[i - 1])) {
      throw error(source, "lr_milestones", "must be increasing, non-negative epochs");
    }
  }
}

}  // namespace isda::train
