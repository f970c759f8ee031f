#include "train/train_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <type_traits>

namespace isda::train {
namespace {

ConfigError error(const std::string& source, const std::string& key, const std::string& problem) {
  return ConfigError(source + ": " + key + ": " + problem);
}

const char* type_name(const nlohmann::json& value) {
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

// Assigns object[key] to `target` if present, with a clear message for a value of the wrong type.
template <typename T>
void read(const nlohmann::json& object, const char* key, T& target, const std::string& source) {
  const auto it = object.find(key);
  if (it == object.end()) return;
  const auto& value = *it;
  bool ok = false;
  if constexpr (std::is_same_v<T, bool>) {
    ok = value.is_boolean();
  } else if constexpr (std::is_same_v<T, std::string>) {
    ok = value.is_string();
  } else if constexpr (std::is_floating_point_v<T>) {
    ok = value.is_number();
  } else if constexpr (std::is_unsigned_v<T>) {
    ok = value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
  } else if constexpr (std::is_integral_v<T>) {
    ok = value.is_number_integer();
  } else {
    ok = value.is_array() && std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_number_integer(); });
  }
  if (!ok) throw error(source, key, std::string("expected ") + type_name(nlohmann::json(T{})) + ", got " + type_name(value));
  target = value.get<T>();
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = {
      {"model", "network name (isda-train --list-models)"},
      {"dataset", "data set: fashion-mnist"},
      {"data_root", "folder holding the data set files (default: the data set's standard location)"},
      {"train_limit", "train on the first N training images only (0: all)"},
      {"test_limit", "test on the first N test images only (0: all)"},
      {"method", "loss: ce (cross-entropy) or isda"},
      {"lambda0", "ISDA's final augmentation strength lambda0"},
      {"lambda_schedule", "how lambda ramps to lambda0: epoch (authors' code), iteration (paper), constant"},
      {"covariance", "ISDA covariance: full, diagonal, identity, single"},
      {"epochs", "number of epochs"},
      {"batch_size", "images per SGD step"},
      {"lr", "initial learning rate"},
      {"momentum", "SGD momentum"},
      {"nesterov", "Nesterov momentum"},
      {"weight_decay", "L2 weight decay on every parameter"},
      {"lr_milestones", "epochs at which the learning rate is multiplied by lr_gamma"},
      {"lr_gamma", "learning-rate decay factor at each milestone"},
      {"seed", "random seed (initialisation, shuffling)"},
      {"device", "auto, cpu, cuda or cuda:N"},
      {"threads", "CPU threads (0: LibTorch's default)"},
  };
  return keys;
}

nlohmann::json to_json(const TrainConfig& c) {
  return {
      {"model", c.model},
      {"dataset", c.dataset},
      {"data_root", c.data_root},
      {"train_limit", c.train_limit},
      {"test_limit", c.test_limit},
      {"method", c.method},
      {"lambda0", c.lambda0},
      {"lambda_schedule", c.lambda_schedule},
      {"covariance", c.covariance},
      {"epochs", c.epochs},
      {"batch_size", c.batch_size},
      {"lr", c.lr},
      {"momentum", c.momentum},
      {"nesterov", c.nesterov},
      {"weight_decay", c.weight_decay},
      {"lr_milestones", c.lr_milestones},
      {"lr_gamma", c.lr_gamma},
      {"seed", c.seed},
      {"device", c.device},
      {"threads", c.threads},
  };
}

TrainConfig config_from_json(const nlohmann::json& object, const std::string& source) {
  if (!object.is_object()) throw ConfigError(source + ": expected a JSON object, got " + type_name(object));
  for (const auto& item : object.items()) {
    const auto& keys = config_keys();
    if (std::none_of(keys.begin(), keys.end(), [&](const ConfigKey& k) { return item.key() == k.key; })) {
      throw error(source, item.key(), "unknown key");
    }
  }
  TrainConfig c;
  read(object, "model", c.model, source);
  read(object, "dataset", c.dataset, source);
  read(object, "data_root", c.data_root, source);
  read(object, "train_limit", c.train_limit, source);
  read(object, "test_limit", c.test_limit, source);
  read(object, "method", c.method, source);
  read(object, "lambda0", c.lambda0, source);
  read(object, "lambda_schedule", c.lambda_schedule, source);
  read(object, "covariance", c.covariance, source);
  read(object, "epochs", c.epochs, source);
  read(object, "batch_size", c.batch_size, source);
  read(object, "lr", c.lr, source);
  read(object, "momentum", c.momentum, source);
  read(object, "nesterov", c.nesterov, source);
  read(object, "weight_decay", c.weight_decay, source);
  read(object, "lr_milestones", c.lr_milestones, source);
  read(object, "lr_gamma", c.lr_gamma, source);
  read(object, "seed", c.seed, source);
  read(object, "device", c.device, source);
  read(object, "threads", c.threads, source);
  validate(c, source);
  return c;
}

void validate(const TrainConfig& c, const std::string& source) {
  const auto one_of = [&](const char* key, const std::string& value, std::initializer_list<const char*> known) {
    std::string list;
    for (const char* k : known) {
      if (value == k) return;
      list += (list.empty() ? "" : ", ") + std::string(k);
    }
    throw error(source, key, "unknown value \"" + value + "\" (known: " + list + ")");
  };
  one_of("dataset", c.dataset, {"fashion-mnist"});
  one_of("method", c.method, {"ce", "isda"});
  one_of("lambda_schedule", c.lambda_schedule, {"epoch", "iteration", "constant"});
  one_of("covariance", c.covariance, {"full", "diagonal", "identity", "single"});
  if (c.device != "auto" && c.device != "cpu" && c.device != "cuda" && c.device.rfind("cuda:", 0) != 0) {
    throw error(source, "device", "unknown value \"" + c.device + "\" (known: auto, cpu, cuda, cuda:N)");
  }
  const auto positive = [&](const char* key, double value) {
    if (!(value > 0)) throw error(source, key, "must be positive, got " + nlohmann::json(value).dump());
  };
  const auto non_negative = [&](const char* key, double value) {
    if (!(value >= 0)) throw error(source, key, "must not be negative, got " + nlohmann::json(value).dump());
  };
  positive("epochs", static_cast<double>(c.epochs));
  positive("batch_size", static_cast<double>(c.batch_size));
  positive("lr", c.lr);
  positive("lr_gamma", c.lr_gamma);
  non_negative("lambda0", c.lambda0);
  non_negative("momentum", c.momentum);
  non_negative("weight_decay", c.weight_decay);
  non_negative("train_limit", static_cast<double>(c.train_limit));
  non_negative("test_limit", static_cast<double>(c.test_limit));
  non_negative("threads", static_cast<double>(c.threads));
  if (c.nesterov && c.momentum == 0) throw error(source, "nesterov", "needs momentum > 0");
  for (size_t i = 0; i < c.lr_milestones.size(); ++i) {
    if (c.lr_milestones[i] < 0 || (i > 0 && c.lr_milestones[i] <= c.lr_milestones[i - 1])) {
      throw error(source, "lr_milestones", "must be increasing, non-negative epochs");
    }
  }
}

}  // namespace isda::train
