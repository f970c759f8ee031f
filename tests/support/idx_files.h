#pragma once
// Test helpers: small data sets written in the real on-disk formats, and a scratch directory.

#include <torch/types.h>

#include <filesystem>
#include <string>

namespace isda::testing {

// A fresh directory under the system temp dir, removed with everything in it on destruction.
class ScratchDir {
 public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// gzip-compressed IDX files: images (N, 1, rows, cols) uint8 (magic 0x803), labels (N) (magic 0x801).
void write_idx_images(const std::string& path, const torch::Tensor& images);
void write_idx_labels(const std::string& path, const torch::Tensor& labels);

// Writes a learnable 10-class, 28x28 data set in Fashion-MNIST's four file names into `dir`:
// each class is a fixed random template plus noise.
void write_synthetic_fashion_mnist(const std::string& dir, int64_t train_count, int64_t test_count, uint64_t seed);

}  // namespace isda::testing
