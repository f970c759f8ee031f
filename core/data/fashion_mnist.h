#pragma once
// Fashion-MNIST (Xiao et al. 2017) and other IDX-format image sets, read from gzip-compressed
// files into CPU tensors. Every problem with a file surfaces as a one-line DataError naming it.

#include "data/data_error.h"

#include <torch/types.h>

#include <cstdint>
#include <string>

namespace isda::data {

// An in-memory labelled image set.
struct Dataset {
  torch::Tensor images;  // (N, channels, H, W) uint8, contiguous, CPU
  torch::Tensor labels;  // (N) int64, CPU, each in [0, num_classes)
  int64_t num_classes = 0;
};

// $ISDA_FASHION_MNIST_DIR if set and non-empty, else /usr/share/datasets/fashion-mnist
// (where Debian's dataset-fashion-mnist package installs the files).
std::string default_fashion_mnist_root();

// The training split (train-{images-idx3,labels-idx1}-ubyte.gz under `root`) or the test split
// (t10k-...). Returns images (N, 1, 28, 28) uint8, labels int64 in [0, 10), num_classes 10.
// `limit` > 0 keeps only the first `limit` records: both headers are still checked against each
// other, but only those records are read. Throws DataError for missing or malformed files.
Dataset load_fashion_mnist(const std::string& root, bool train, int64_t limit = 0);

// An IDX unsigned-byte image file (magic 0x00000803) as (N, 1, rows, cols) uint8. `limit` > 0
// keeps only the first `limit` records. Throws DataError for a missing or malformed file.
torch::Tensor read_idx_images(const std::string& path, int64_t limit = 0);

// An IDX unsigned-byte label file (magic 0x00000801) as (N) int64. Throws DataError for a missing
// or malformed file, including a label outside [0, num_classes); std::invalid_argument when
// num_classes < 1. `limit` as for read_idx_images.
torch::Tensor read_idx_labels(const std::string& path, int64_t num_classes, int64_t limit = 0);

}  // namespace isda::data
