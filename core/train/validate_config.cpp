// validate() and check_key_value(): a run config's values (train/train_config.h states the
// contracts). Each key's own range and names are checked apart from how keys combine, so that a
// spec's single value is judged alone (check_key_value) and a whole run by both.
#include "train/train_config.h"

#include "train/config_fields.h"
#include "train/config_names.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

namespace isda::train {
namespace {

using fields::error;
using fields::visit_fields;

// Each key's value on its own: names, ranges, finiteness.
void validate_values(const TrainConfig& c, const std::string& source) {
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
  const auto one_of = [&](const char* key, const std::string& value, const auto& known) {
    if (!names::is_one_of(known, value)) {
      throw error(source, key, "unknown value \"" + value + "\" (known: " + names::joined(known) + ")");
    }
  };
  one_of("dataset", c.dataset, names::kDatasets);
  one_of("augment", c.augment, names::kAugments);
  one_of("task", c.task, names::kTasks);
  if (!c.gan.empty()) one_of("gan", c.gan, names::kGans);
  one_of("method", c.method, names::kMethods);
  one_of("lambda_schedule", c.lambda_schedule, names::kLambdaSchedules);
  one_of("covariance", c.covariance, names::kCovariances);
  one_of("estimator_dtype", c.estimator_dtype, names::kEstimatorDtypes);
  one_of("estimator_sharding", c.estimator_sharding, names::kEstimatorShardings);
  one_of("lr_schedule", c.lr_schedule, names::kLrSchedules);
  one_of("precision", c.precision, names::kPrecisions);
  const auto is_cuda_index = [](const std::string& device) {
    return device.size() > 5 && device.rfind("cuda:", 0) == 0 &&
           std::all_of(device.begin() + 5, device.end(), [](unsigned char ch) { return std::isdigit(ch); });
  };
  if (c.device != "auto" && c.device != "cpu" && c.device != "cuda" && !is_cuda_index(c.device)) {
    throw error(source, "device", "unknown value \"" + c.device + "\" (known: auto, cpu, cuda, cuda:N)");
  }
  // The value as the config holds it: an integer key says "got 0", not "got 0.0".
  const auto positive = [&](const char* key, auto value) {
    if (!(value > 0)) throw error(source, key, "must be positive, got " + nlohmann::json(value).dump());
  };
  const auto non_negative = [&](const char* key, auto value) {
    if (!(value >= 0)) throw error(source, key, "must not be negative, got " + nlohmann::json(value).dump());
  };
  const auto probability = [&](const char* key, double value) {
    if (!(value >= 0 && value < 1)) throw error(source, key, "must be in [0, 1), got " + nlohmann::json(value).dump());
  };
  positive("epochs", c.epochs);
  positive("batch_size", c.batch_size);
  positive("lr", c.lr);
  positive("lr_gamma", c.lr_gamma);
  positive("margin", c.margin);
  positive("lq_q", c.lq_q);
  non_negative("lambda0", c.lambda0);
  non_negative("momentum", c.momentum);
  non_negative("weight_decay", c.weight_decay);
  non_negative("focal_gamma", c.focal_gamma);
  non_negative("center_lambda", c.center_lambda);
  non_negative("train_limit", c.train_limit);
  non_negative("test_limit", c.test_limit);
  non_negative("threads", c.threads);
  positive("gan_epochs", c.gan_epochs);
  positive("gan_width", c.gan_width);
  if (!(c.generated_fraction > 0 && c.generated_fraction < 1)) {
    throw error(source, "generated_fraction", "must be in (0, 1), got " + nlohmann::json(c.generated_fraction).dump());
  }
  probability("dropout", c.dropout);
  probability("disturb_alpha", c.disturb_alpha);
  if (!(c.center_alpha > 0 && c.center_alpha <= 1)) throw error(source, "center_alpha", "must be in (0, 1]");
  if (c.margin != std::floor(c.margin)) throw error(source, "margin", "must be a whole number");
  positive("ranks", c.ranks);
  positive("dist_timeout", c.dist_timeout);
  non_negative("stall_limit", c.stall_limit);
  non_negative("image_size", c.image_size);
  if (c.image_size != 0 && c.image_size < 32) throw error(source, "image_size", "must be at least 32 (the networks stride by 32)");
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

// How the keys combine: what one value means for another.
void validate_combination(const TrainConfig& c, const std::string& source) {
  if (c.dataset == "imagenet" && c.augment != "standard" && c.augment != "none") {
    throw error(source, "augment", "imagenet takes standard (RandomResizedCrop + flip) or none, got \"" + c.augment + "\"");
  }
  if (c.dataset == "imagenet" && c.holdout) throw error(source, "holdout", "imagenet has no hold-out (it is tested on val/)");
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
  if (c.nesterov && c.momentum == 0) throw error(source, "nesterov", "needs momentum > 0");
  if (c.cuda_graph && c.device == "cpu") throw error(source, "cuda_graph", "needs a CUDA device (device is \"cpu\")");
  if (c.cuda_graph && c.method != "ce" && c.method != "isda") {
    throw error(source, "cuda_graph", "captures the ce and isda steps only, not \"" + c.method + "\"");
  }
  if (c.ranks > 1) {
    if (c.batch_size % c.ranks != 0) {
      throw error(source, "batch_size", "the global batch " + std::to_string(c.batch_size) + " does not split into " +
                                            std::to_string(c.ranks) + " equal shares (ranks)");
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
}

}  // namespace

void validate(const TrainConfig& c, const std::string& source) {
  validate_values(c, source);
  validate_combination(c, source);
}

void check_key_value(const std::string& key, const nlohmann::json& value, const std::string& source) {
  const int index = config_key_index(key);
  if (index < 0) throw error(source, key, "unknown key");
  TrainConfig config;
  set_field(config, static_cast<size_t>(index), value, source);
  validate_values(config, source);
}

}  // namespace isda::train
