#include "data/datasets.h"

#include "data/cifar.h"
#include "data/holdout.h"

#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace isda::data {
namespace {

[[noreturn]] void unknown(const std::string& name) {
  std::string known;
  for (const auto& k : known_dataset_names()) known += (known.empty() ? "" : ", ") + k;
  throw std::invalid_argument("unknown dataset \"" + name + "\" (known: " + known + ")");
}

Dataset first(const Dataset& dataset, int64_t limit) {
  if (limit <= 0 || !dataset.images.defined() || limit >= dataset.images.size(0)) return dataset;
  return Dataset{dataset.images.slice(0, 0, limit), dataset.labels.slice(0, 0, limit), dataset.num_classes};
}

Dataset load_split(const std::string& name, const std::string& root, bool train, int64_t limit) {
  if (name == "fashion-mnist") return load_fashion_mnist(root, train, limit);
  if (name == "cifar10") return load_cifar10(root, train, limit);
  if (name == "cifar100") return load_cifar100(root, train, limit);
  unknown(name);
}

bool test_present(const std::string& name, const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code error;
  if (name == "fashion-mnist") {
    return fs::exists(fs::path(root) / "t10k-images-idx3-ubyte.gz", error) ||
           fs::exists(fs::path(root) / "t10k-labels-idx1-ubyte.gz", error);
  }
  if (name == "cifar10") return cifar10_test_present(root);
  return cifar100_test_present(root);
}

}  // namespace

const std::vector<std::string>& known_dataset_names() {
  static const std::vector<std::string> names{"fashion-mnist", "cifar10", "cifar100", "imagenet"};
  return names;
}

bool is_image_folder_dataset(const std::string& name) { return name == "imagenet"; }

DataSplits load_dataset(const std::string& name, const std::string& root, bool holdout, uint64_t split_seed,
                        int64_t train_limit, int64_t test_limit) {
  if (is_image_folder_dataset(name)) {
    throw std::invalid_argument(name + " is read from JPEG folders batch by batch (data/imagenet.h), not into memory");
  }
  const int64_t classes = name == "cifar100" ? 100 : 10;
  if (name != "fashion-mnist" && name != "cifar10" && name != "cifar100") unknown(name);
  DataSplits splits;
  splits.test.num_classes = classes;
  splits.validation.num_classes = classes;
  if (!holdout) {
    splits.train = load_split(name, root, true, train_limit);
    splits.test = load_split(name, root, false, test_limit);
    return splits;
  }
  // The split is defined on the whole training set, so a limit never changes which records are held out.
  const Dataset full = load_split(name, root, true, 0);
  const auto [train_index, validation_index] = holdout_indices(full.images.size(0), kHoldoutValidationSize, split_seed);
  splits.train = first(subset(full, train_index), train_limit);
  splits.validation = first(subset(full, validation_index), test_limit);
  if (test_present(name, root)) splits.test = load_split(name, root, false, test_limit);
  return splits;
}

std::string default_data_root(const std::string& name) {
  if (name == "fashion-mnist") return default_fashion_mnist_root();
  if (name != "cifar10" && name != "cifar100" && name != "imagenet") unknown(name);
  const char* from_env = std::getenv("ISDA_DATA_ROOT");
  const std::filesystem::path base = from_env != nullptr && from_env[0] != '\0' ? from_env : "data";
  return (base / name).string();
}

Normalization normalization_for(const std::string& name) {
  if (name == "fashion-mnist") return {{0.2860}, {0.3530}};
  if (name == "cifar10" || name == "cifar100") {
    return {{125.3 / 255, 123.0 / 255, 113.9 / 255}, {63.0 / 255, 62.1 / 255, 66.7 / 255}};
  }
  if (name == "imagenet") return {{0.485, 0.456, 0.406}, {0.229, 0.224, 0.225}};
  unknown(name);
}

}  // namespace isda::data
