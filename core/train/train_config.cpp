#include "train/train_config.h"

#include "train/config_fields.h"

#include <nlohmann/json.hpp>
#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string_view>
#include <type_traits>

namespace isda::train {
namespace {

using fields::error;
using fields::visit_field;
using fields::visit_fields;

const char* type_name(const nlohmann::json& value) {
  if (value.is_boolean()) return "a boolean";
  if (value.is_number_integer()) return "an integer";
  if (value.is_number()) return "a number";
  if (value.is_string()) return "a string";
  if (value.is_array()) return "an array";
  if (value.is_object()) return "an object";
  return "null";
}

template <typename T>
bool has_type(const nlohmann::json& value) {
  if constexpr (std::is_same_v<T, bool>) {
    return value.is_boolean();
  } else if constexpr (std::is_same_v<T, std::string>) {
    return value.is_string();
  } else if constexpr (std::is_floating_point_v<T>) {
    return value.is_number();
  } else if constexpr (std::is_unsigned_v<T>) {
    return value.is_number_unsigned() || (value.is_number_integer() && value.template get<int64_t>() >= 0);
  } else if constexpr (std::is_integral_v<T>) {
    return value.is_number_integer();
  } else {
    return value.is_array() &&
           std::all_of(value.begin(), value.end(), [](const auto& v) { return v.is_number_integer(); });
  }
}

// Values from the facts file, §3 (CIFAR recipes of the authors' code).
const std::map<std::string, nlohmann::json>& recipes() {
  static const std::map<std::string, nlohmann::json> table = {
      {"resnet", {{"epochs", 160}, {"batch_size", 128}, {"lr", 0.1}, {"lr_schedule", "step"}, {"lr_milestones", {80, 120}}, {"lr_gamma", 0.1}, {"weight_decay", 1e-4}}},
      {"se_resnet", {{"epochs", 200}, {"batch_size", 128}, {"lr", 0.1}, {"lr_schedule", "step"}, {"lr_milestones", {80, 120, 160}}, {"lr_gamma", 0.1}, {"weight_decay", 1e-4}}},
      {"wrn", {{"epochs", 240}, {"batch_size", 128}, {"lr", 0.1}, {"lr_schedule", "step"}, {"lr_milestones", {60, 120, 160, 200}}, {"lr_gamma", 0.2}, {"weight_decay", 5e-4}, {"dropout", 0.3}}},
      {"densenet", {{"epochs", 300}, {"batch_size", 64}, {"lr", 0.1}, {"lr_schedule", "step"}, {"lr_milestones", {150, 200, 250}}, {"lr_gamma", 0.1}, {"weight_decay", 1e-4}}},
      {"resnext", {{"epochs", 350}, {"batch_size", 128}, {"lr", 0.05}, {"lr_schedule", "step"}, {"lr_milestones", {150, 225, 300}}, {"lr_gamma", 0.1}, {"weight_decay", 5e-4}}},
      {"shake_shake", {{"epochs", 1800}, {"batch_size", 64}, {"lr", 0.1}, {"lr_schedule", "cosine"}, {"weight_decay", 1e-4}}},
      {"pyramidnet", {{"epochs", 1800}, {"batch_size", 128}, {"lr", 0.1}, {"lr_schedule", "cosine"}, {"weight_decay", 1e-4}}},
  };
  return table;
}

template <typename T>
std::string_view value_bytes(const T& value) {
  if constexpr (std::is_same_v<T, std::string>) {
    return value;
  } else if constexpr (std::is_arithmetic_v<T>) {
    return {reinterpret_cast<const char*>(&value), sizeof value};
  } else {
    return {reinterpret_cast<const char*>(value.data()), value.size() * sizeof(value[0])};
  }
}

// The field indices in the order of a JSON object's keys (sorted), as dump() writes them.
const std::vector<size_t>& sorted_field_indices() {
  static const std::vector<size_t> order = [] {
    std::vector<size_t> o(config_keys().size());
    for (size_t i = 0; i < o.size(); ++i) o[i] = i;
    std::sort(o.begin(), o.end(), [](size_t a, size_t b) { return config_keys()[a].key < config_keys()[b].key; });
    return o;
  }();
  return order;
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = [] {
    std::vector<ConfigKey> k;
    TrainConfig c;
    visit_fields(c, [&k](const char* key, auto&, const char* help) { k.push_back({key, help}); });
    if (k.size() != kConfigKeyCount) throw std::logic_error("train_config.h: kConfigKeyCount is not the number of fields");
    return k;
  }();
  return keys;
}

int config_key_index(std::string_view key) {
  const auto& keys = config_keys();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (keys[i].key == key) return static_cast<int>(i);
  }
  return -1;
}

void set_field(TrainConfig& config, size_t index, const nlohmann::json& value, const std::string& source) {
  visit_field(config, index, [&](const char* key, auto& field) {
    using T = std::decay_t<decltype(field)>;
    if (!has_type<T>(value)) {
      throw error(source, key, std::string("expected ") + type_name(nlohmann::json(T{})) + ", got " + type_name(value));
    }
    field = value.template get<T>();
  });
}

nlohmann::json field_json(const TrainConfig& config, size_t index) {
  nlohmann::json value;
  visit_field(config, index, [&](const char*, const auto& field) { value = field; });
  return value;
}

bool is_execution_key(std::string_view key) {
  return key == "device" || key == "threads" || key == "data_root" || key == "deterministic" || key == "cuda_graph" ||
         key == "dist_timeout" || key == "stall_limit" || key == "estimator_sharding";
}

bool is_optional_key(std::string_view key) {
  return key == "task" || key == "gan" || key == "gan_epochs" || key == "gan_width" || key == "generated_fraction" ||
         key == "generator_run" || key == "image_size" || key == "stall_limit" || key == "ranks" || key == "sync_bn" ||
         key == "estimator_dtype" || key == "estimator_sharding";
}

nlohmann::json key_defaults() {
  nlohmann::json object = nlohmann::json::object();
  const TrainConfig defaults;
  visit_fields(defaults, [&object](const char* key, const auto& field, const char*) { object[key] = field; });
  return object;
}

nlohmann::json to_json(const TrainConfig& config) {
  static const TrainConfig defaults;
  nlohmann::json object = nlohmann::json::object();
  size_t index = 0;
  visit_fields(config, [&](const char* key, const auto& field, const char*) {
    const size_t i = index++;
    if (is_optional_key(key)) {
      bool same = false;
      visit_field(defaults, i, [&](const char*, const auto& value) {
        if constexpr (std::is_same_v<std::decay_t<decltype(value)>, std::decay_t<decltype(field)>>) same = value == field;
      });
      if (same) return;
    }
    object[key] = field;
  });
  return object;
}

TrainConfig generator_config(const TrainConfig& classifier) {
  TrainConfig g;
  g.task = classifier.gan;
  g.dataset = classifier.dataset;
  g.data_root = classifier.data_root;
  g.holdout = classifier.holdout;
  g.split_seed = classifier.split_seed;
  g.train_limit = classifier.train_limit;
  g.epochs = classifier.gan_epochs;
  g.gan_width = classifier.gan_width;
  g.batch_size = kGeneratorBatchSize;
  g.seed = classifier.seed;  // one generator per classifier seed: a cell's ± includes the generator's variance
  g.device = classifier.device;
  g.threads = classifier.threads;
  g.deterministic = classifier.deterministic;
  g.stall_limit = classifier.stall_limit;
  return g;
}

CanonicalJsonWriter::CanonicalJsonWriter() : fields_(config_keys().size()), order_(sorted_field_indices()) {
  for (size_t i = 0; i < fields_.size(); ++i) fields_[i].execution = is_execution_key(config_keys()[i].key);
  static const TrainConfig defaults;
  size_t index = 0;
  visit_fields(defaults, [&](const char* key, const auto& value, const char*) {
    auto& field = fields_[index++];
    field.optional = is_optional_key(key);
    const auto bytes = value_bytes(value);
    field.default_bytes.assign(bytes.data(), bytes.size());
  });
  // Cutting an execution key's ",key:value" out of the text leaves the identity's text; the first
  // key has no comma before it, so it must not be one of them.
  if (fields_[order_.front()].execution) {
    throw std::logic_error("CanonicalJsonWriter: the first key in sorted order is an execution key");
  }
}

const std::string& CanonicalJsonWriter::write(const TrainConfig& config, std::string& text) {
  size_t index = 0;
  visit_fields(config, [&](const char* key, const auto& value, const char*) {
    auto& field = fields_[index];
    const bool first = index++ == order_.front();
    const auto bytes = value_bytes(value);
    if (field.written && bytes.size() == field.value_bytes.size() &&
        std::memcmp(bytes.data(), field.value_bytes.data(), bytes.size()) == 0) {
      return;
    }
    // Each fragment is nlohmann's own text of the key and the value: the same bytes as dump().
    const bool omitted = field.optional && bytes.size() == field.default_bytes.size() &&
                         std::memcmp(bytes.data(), field.default_bytes.data(), bytes.size()) == 0;
    field.fragment = omitted ? std::string()
                             : (first ? "" : ",") + nlohmann::json(key).dump() + ':' + nlohmann::json(value).dump();
    field.value_bytes.assign(bytes.data(), bytes.size());
    field.written = true;
  });
  size_t length = 2;
  for (const auto& field : fields_) length += field.fragment.size();
  text.clear();
  text.reserve(length);
  text += '{';
  cuts_.clear();
  for (const size_t i : order_) {
    const auto& fragment = fields_[i].fragment;
    if (fields_[i].execution) cuts_.emplace_back(text.size(), fragment.size());
    text += fragment;
  }
  text += '}';
  identity_.clear();
  size_t from = 0;
  for (const auto& [at, size] : cuts_) {
    identity_.append(text, from, at - from);
    from = at + size;
  }
  identity_.append(text, from, std::string::npos);
  return identity_;
}

std::vector<std::string> recipe_names() {
  std::vector<std::string> names;
  for (const auto& entry : recipes()) names.push_back(entry.first);
  return names;
}

namespace {

std::string unknown_recipe(const std::string& name) {
  std::string known;
  for (const auto& n : recipe_names()) known += (known.empty() ? "" : ", ") + n;
  return "unknown recipe \"" + name + "\" (known: " + known + ")";
}

}  // namespace

nlohmann::json recipe(const std::string& name) {
  const auto it = recipes().find(name);
  if (it == recipes().end()) throw ConfigError(unknown_recipe(name));
  return it->second;
}

TrainConfig recipe_defaults(const std::string& name) {
  TrainConfig c;
  if (name.empty()) return c;
  const auto it = recipes().find(name);
  if (it == recipes().end()) throw ConfigError(unknown_recipe(name));
  for (const auto& item : it->second.items()) {
    set_field(c, static_cast<size_t>(config_key_index(item.key())), item.value(), "recipe " + name);
  }
  return c;
}

TrainConfig config_from_json(const nlohmann::json& object, const std::string& source) {
  if (!object.is_object()) throw ConfigError(source + ": expected a JSON object, got " + type_name(object));
  std::vector<std::pair<size_t, const nlohmann::json*>> fields;
  for (const auto& item : object.items()) {
    const int index = config_key_index(item.key());
    if (index < 0) throw error(source, item.key(), "unknown key");
    fields.emplace_back(static_cast<size_t>(index), &item.value());
  }
  TrainConfig c;
  if (object.contains("recipe") && object["recipe"].is_string() && !object["recipe"].get<std::string>().empty()) {
    try {
      c = recipe_defaults(object["recipe"].get<std::string>());
    } catch (const ConfigError& e) {
      throw error(source, "recipe", e.what());
    }
  }
  // In field order, so that of several bad values the first field's is reported.
  std::sort(fields.begin(), fields.end());
  for (const auto& [index, value] : fields) set_field(c, index, *value, source);
  validate(c, source);
  return c;
}

nlohmann::json read_json_file(const std::string& path) {
  // A directory opens as a stream that fails on its first read: say what it is instead.
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) throw ConfigError(path + ": cannot open file (" + std::strerror(errno) + ")");
  if (S_ISDIR(info.st_mode)) throw ConfigError(path + ": is a directory, not a JSON file");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ConfigError(path + ": cannot open file (" + std::strerror(errno) + ")");
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw ConfigError(path + ": cannot read file (" + std::strerror(errno) + ")");
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {  // a parse error, or a number that overflows (1e999)
    const std::string message = e.what();         // "[json.exception.parse_error.101] parse error at ..."
    throw ConfigError(path + ": invalid JSON: " + message.substr(message.find(' ') + 1));
  }
}

nlohmann::json load_config_file(const std::string& path) {
  auto object = read_json_file(path);
  if (!object.is_object()) throw ConfigError(path + ": expected a JSON object, got " + type_name(object));
  return object;
}

double learning_rate(const TrainConfig& config, int64_t epoch) {
  if (config.lr_schedule == "cosine") {
    const double progress = static_cast<double>(epoch) / static_cast<double>(config.epochs);
    return 0.5 * config.lr * (1.0 + std::cos(M_PI * progress));
  }
  const int64_t shifted = config.lr_decay_early ? epoch + 1 : epoch;
  const auto passed = std::count_if(config.lr_milestones.begin(), config.lr_milestones.end(),
                                    [shifted](int64_t m) { return m <= shifted; });
  return config.lr * std::pow(config.lr_gamma, static_cast<double>(passed));
}

}  // namespace isda::train
