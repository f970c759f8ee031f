#pragma once
// One entry point for the trainer: a data set by name, split by the paper's protocol, and its
// normalisation statistics.

#include "data/fashion_mnist.h"  // Dataset

#include <cstdint>
#include <string>
#include <vector>

namespace isda::data {

// Records held out of the training set for validation when DataSplits are loaded with holdout.
inline constexpr int64_t kHoldoutValidationSize = 5000;

struct DataSplits {
  Dataset train;
  Dataset test;        // empty (undefined tensors, num_classes set) when not loaded
  Dataset validation;  // empty unless holdout
};

// The known names: "fashion-mnist", "cifar10", "cifar100", "imagenet".
const std::vector<std::string>& known_dataset_names();

// Whether `name` is read from JPEG folders batch by batch (data/imagenet.h: "imagenet") rather than
// loaded into memory by load_dataset.
bool is_image_folder_dataset(const std::string& name);

// Loads data set `name` from `root` (see default_data_root).
// holdout=false: train = the full training set, test = the test set (required).
// holdout=true: the training set is split by holdout_indices(n, kHoldoutValidationSize, split_seed)
// (CIFAR: 45,000 / 5,000); train = the rest, validation = the 5,000; the test set is loaded only
// when its file is present (then test is empty otherwise), so the hold-out needs no test file.
// train_limit > 0 keeps the first train_limit records of train (after the split); test_limit > 0
// keeps the first test_limit records of test and of validation. Throws std::invalid_argument for an
// unknown name (listing the known ones) or an image-folder data set, DataError for missing or
// malformed files.
DataSplits load_dataset(const std::string& name, const std::string& root, bool holdout, uint64_t split_seed,
                        int64_t train_limit, int64_t test_limit);

// fashion-mnist: default_fashion_mnist_root(). cifar10 / cifar100 / imagenet: $ISDA_DATA_ROOT/<name>
// when ISDA_DATA_ROOT is set and non-empty, else data/<name> (relative to the working directory).
std::string default_data_root(const std::string& name);

// Per-channel mean and std of pixel values scaled to [0, 1].
struct Normalization {
  std::vector<double> mean;
  std::vector<double> std;
};

// CIFAR-10/100: mean (125.3, 123.0, 113.9)/255, std (63.0, 62.1, 66.7)/255 (the authors' values);
// fashion-mnist: mean 0.2860, std 0.3530; imagenet: torchvision's mean (0.485, 0.456, 0.406), std
// (0.229, 0.224, 0.225). Throws std::invalid_argument for an unknown name.
Normalization normalization_for(const std::string& name);

}  // namespace isda::data
