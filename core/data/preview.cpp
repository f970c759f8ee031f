#include "data/preview.h"

#include "data/augment.h"
#include "data/cifar.h"
#include "data/datasets.h"

#include <torch/torch.h>

#include <stdexcept>

namespace isda::data {
namespace {

// Tile (row, col) of `grid`: image `pixels` (C, H, W) uint8 with C of 1 or 3.
void draw_tile(RgbImage& grid, const uint8_t* pixels, int64_t c, int64_t h, int64_t w, int64_t row, int64_t col,
               int64_t scale) {
  const int64_t x0 = kPreviewGap + col * (w * scale + kPreviewGap);
  const int64_t y0 = kPreviewGap + row * (h * scale + kPreviewGap);
  for (int64_t y = 0; y < h * scale; ++y) {
    for (int64_t x = 0; x < w * scale; ++x) {
      uint8_t* out = grid.at(y0 + y, x0 + x);
      for (int64_t k = 0; k < 3; ++k) out[k] = pixels[((c == 1 ? 0 : k) * h + y / scale) * w + x / scale];
    }
  }
}

// (N, C, H, W) uint8 with C of 1 or 3.
void draw_row(RgbImage& grid, const torch::Tensor& images, int64_t row, int64_t scale) {
  const auto cpu = images.to(torch::kCPU).contiguous();
  const int64_t n = cpu.size(0), c = cpu.size(1), h = cpu.size(2), w = cpu.size(3);
  for (int64_t i = 0; i < n; ++i) draw_tile(grid, cpu.data_ptr<uint8_t>() + i * c * h * w, c, h, w, row, i, scale);
}

}  // namespace

RgbImage make_preview_grid(const PreviewOptions& options) {
  if (options.count < 1 || options.count > 1024) throw std::invalid_argument("count must be in [1, 1024]");
  if (options.copies < 0 || options.copies > 64) throw std::invalid_argument("copies must be in [0, 64]");
  if (options.scale < 1 || options.scale > 16) throw std::invalid_argument("scale must be in [1, 16]");
  const auto kind = parse_augment_kind(options.augment);
  const auto norm = normalization_for(options.dataset);  // rejects unknown names
  if (is_image_folder_dataset(options.dataset)) {
    throw std::invalid_argument("preview shows the batched CIFAR / Fashion-MNIST augmentations; not " + options.dataset);
  }
  const auto root = options.root.empty() ? default_data_root(options.dataset) : options.root;
  Dataset data;
  if (options.dataset == "fashion-mnist") data = load_fashion_mnist(root, true, options.count);
  if (options.dataset == "cifar10") data = load_cifar10(root, true, options.count);
  if (options.dataset == "cifar100") data = load_cifar100(root, true, options.count);
  const auto& images = data.images;
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  RgbImage grid(kPreviewGap + n * (w * options.scale + kPreviewGap),
                kPreviewGap + (1 + options.copies) * (h * options.scale + kPreviewGap));
  std::fill(grid.pixels.begin(), grid.pixels.end(), uint8_t{255});
  draw_row(grid, images, 0, options.scale);
  BatchAugmenter augmenter(kind, norm, options.seed);
  const auto shape = std::vector<int64_t>{1, static_cast<int64_t>(norm.mean.size()), 1, 1};
  const auto mean = torch::tensor(norm.mean, torch::kFloat32).view(shape);
  const auto std = torch::tensor(norm.std, torch::kFloat32).view(shape);
  for (int64_t copy = 1; copy <= options.copies; ++copy) {
    const auto augmented = augmenter.train_batch(images);
    const auto back = ((augmented * std + mean) * 255.0).round().clamp(0, 255).to(torch::kUInt8);
    draw_row(grid, back, copy, options.scale);
  }
  return grid;
}

RgbImage tile_grid(const uint8_t* pixels, int64_t rows, int64_t cols, int64_t channels, int64_t height, int64_t width,
                   int64_t scale) {
  if (scale < 1 || scale > 16) throw std::invalid_argument("scale must be in [1, 16]");
  if (channels != 1 && channels != 3) throw std::invalid_argument("images must have 1 or 3 channels");
  RgbImage grid(kPreviewGap + cols * (width * scale + kPreviewGap), kPreviewGap + rows * (height * scale + kPreviewGap));
  std::fill(grid.pixels.begin(), grid.pixels.end(), uint8_t{255});
  const int64_t size = channels * height * width;
  for (int64_t i = 0; i < rows * cols; ++i) {
    draw_tile(grid, pixels + i * size, channels, height, width, i / cols, i % cols, scale);
  }
  return grid;
}

}  // namespace isda::data
