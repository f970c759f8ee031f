#include "support/idx_files.h"

#include <torch/torch.h>
#include <zlib.h>

#include <random>
#include <stdexcept>

namespace isda::testing {
namespace {

void write_gz(const std::string& path, const std::vector<int32_t>& header, const uint8_t* data, size_t size) {
  gzFile file = gzopen(path.c_str(), "wb");
  if (file == nullptr) throw std::runtime_error("cannot write " + path);
  for (const int32_t value : header) {
    const unsigned char be[4] = {static_cast<unsigned char>(value >> 24), static_cast<unsigned char>(value >> 16),
                                 static_cast<unsigned char>(value >> 8), static_cast<unsigned char>(value)};
    gzwrite(file, be, 4);
  }
  if (size > 0) gzwrite(file, data, static_cast<unsigned>(size));
  gzclose(file);
}

}  // namespace

ScratchDir::ScratchDir() {
  std::random_device device;
  path_ = std::filesystem::temp_directory_path() / ("isda-test-" + std::to_string(device()) + std::to_string(device()));
  std::filesystem::create_directories(path_);
}

ScratchDir::~ScratchDir() {
  std::error_code ignored;
  std::filesystem::remove_all(path_, ignored);
}

void write_idx_images(const std::string& path, const torch::Tensor& images) {
  const auto bytes = images.to(torch::kUInt8).contiguous();
  write_gz(path, {0x803, static_cast<int32_t>(bytes.size(0)), static_cast<int32_t>(bytes.size(2)), static_cast<int32_t>(bytes.size(3))},
           bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()));
}

void write_idx_labels(const std::string& path, const torch::Tensor& labels) {
  const auto bytes = labels.to(torch::kUInt8).contiguous();
  write_gz(path, {0x801, static_cast<int32_t>(bytes.size(0))}, bytes.data_ptr<uint8_t>(), static_cast<size_t>(bytes.numel()));
}

void write_synthetic_fashion_mnist(const std::string& dir, int64_t train_count, int64_t test_count, uint64_t seed) {
  auto generator = at::detail::createCPUGenerator(seed);
  const auto templates = torch::rand({10, 1, 28, 28}, generator, torch::kFloat32) * 200.0;
  const auto make = [&](int64_t n, const std::string& images_name, const std::string& labels_name) {
    const auto labels = torch::randint(0, 10, {n}, generator, torch::kInt64);
    const auto noise = torch::randn({n, 1, 28, 28}, generator, torch::kFloat32) * 40.0;
    const auto images = (templates.index_select(0, labels) + noise).clamp(0, 255);
    write_idx_images(dir + "/" + images_name, images);
    write_idx_labels(dir + "/" + labels_name, labels);
  };
  make(train_count, "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz");
  make(test_count, "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz");
}

}  // namespace isda::testing
