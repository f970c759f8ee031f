#pragma once
// The shape and size of each built-in data set, without loading it (LibTorch-free, header only):
// what isda-bench calibrate feeds a network and what isda-run's cost estimates count per epoch.
// core/data/datasets.cpp is the loader these numbers describe.

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <string_view>

namespace isda::data {

struct DatasetSize {
  std::string_view name;
  int64_t channels, resolution, classes;  // images are channels x resolution x resolution
  int64_t train, test;                    // records in the official training and test sets
};

inline constexpr int64_t kHoldoutValidationImages = 5000;  // the paper's hold-out (datasets.h)

inline constexpr DatasetSize kDatasetSizes[] = {
    {"fashion-mnist", 1, 28, 10, 60000, 10000},
    {"cifar10", 3, 32, 10, 50000, 10000},
    {"cifar100", 3, 32, 100, 50000, 10000},
    {"imagenet", 3, 224, 1000, 1281167, 50000},
};

// The entry of that name, or nullptr (an image folder has no fixed size).
inline const DatasetSize* find_dataset_size(std::string_view name) {
  const auto* found = std::find_if(std::begin(kDatasetSizes), std::end(kDatasetSizes),
                                   [&](const DatasetSize& d) { return d.name == name; });
  return found == std::end(kDatasetSizes) ? nullptr : found;
}

}  // namespace isda::data
