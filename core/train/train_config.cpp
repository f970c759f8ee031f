#include "train/train_config.h"

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

ConfigError error(const std::string& source, const std::string& key, const std::string& problem) {
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

// Calls f(key, field) for the field at `index` (config_keys() order).
template <typename Config, typename F>
void visit_field(Config& c, size_t index, F&& f) {
  size_t i = 0;
  visit_fields(c, [&](const char* key, auto& field, const char*) {
    if (i++ == index) f(key, field);
  });
}

// The bytes of a field's value, to tell whether it changed since a fragment was written for it.
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
         key == "dist_timeout" || key == "stall_limit";
}

bool is_optional_key(std::string_view key) {
  return key == "task" || key == "gan" || key == "gan_epochs" || key == "gan_width" || key == "generated_fraction" ||
         key == "generator_run" || key == "image_size" || key == "stall_limit" || key == "ranks" || key == "sync_bn";
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
  g.seed = 0;
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
  if (!c.recipe.empty() && recipes().count(c.recipe) == 0) {
    throw error(source, "recipe", unknown_recipe(c.recipe));
  }
  for (size_t i = 0; i < c.lr_milestones.size(); ++i) {
    if (c.lr_milestones[i] < 0 || (i > 0 && c.lr_milestones[i] <= c.lr_milestones[i - 1])) {
      throw error(source, "lr_milestones", "must be increasing, non-negative epochs");
    }
  }
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
