#pragma once
// isda-data preview: a PNG grid of training images and augmented copies of them, to see what an
// augmentation regime does. Free of LibTorch.

#include "data/rgb_image.h"

#include <cstdint>
#include <string>

namespace isda::data {

inline constexpr int64_t kPreviewGap = 2;  // white pixels between and around the tiles

struct PreviewOptions {
  std::string dataset = "cifar10";   // fashion-mnist, cifar10, cifar100
  std::string root;                  // empty: default_data_root(dataset)
  std::string augment = "autoaugment";
  int64_t count = 8;                 // training images, one column each (the first `count`)
  int64_t copies = 4;                // augmented rows below the row of originals
  int64_t scale = 2;                 // each pixel drawn as scale x scale
  uint64_t seed = 0;                 // the augmenter's seed
};

// The grid: row 0 holds the first `count` training images as stored, rows 1..copies each a
// BatchAugmenter(augment, normalization_for(dataset), seed).train_batch of them, un-normalised and
// rounded back to 0..255 (grey images replicated to RGB). Tile (row, col) starts at
// x = gap + col * (side * scale + gap), y = gap + row * (side * scale + gap). Throws DataError for
// missing or malformed data, std::invalid_argument for an unknown data set or augmentation or a
// count, copies or scale out of range.
RgbImage make_preview_grid(const PreviewOptions& options);

// A grid of `rows` x `cols` tiles laid out as make_preview_grid's, from `pixels`: rows * cols images
// of `channels` (1: grey, replicated to RGB; 3) x `height` x `width` uint8, row-major (N, C, H, W),
// tile i at (i / cols, i % cols). Throws std::invalid_argument for a scale out of [1, 16] or
// channels other than 1 and 3.
RgbImage tile_grid(const uint8_t* pixels, int64_t rows, int64_t cols, int64_t channels, int64_t height, int64_t width,
                   int64_t scale);

}  // namespace isda::data
