#pragma once
// Test helpers: JPEG files written with libjpeg (RGB, grayscale, Adobe CMYK) and tiny ImageNet-style
// folders of them. Free of LibTorch.

#include "data/rgb_image.h"

#include <cstdint>
#include <string>
#include <vector>

namespace isda::testing {

// Baseline JPEG of `image` (4:4:4 sampling at quality 100 unless told otherwise).
void write_jpeg(const std::string& path, const data::RgbImage& image, int quality = 100);

// Grayscale JPEG of `gray` (width x height bytes).
void write_gray_jpeg(const std::string& path, int64_t width, int64_t height, const std::vector<uint8_t>& gray);

// CMYK JPEG with an Adobe marker, storing the given bytes (C, M, Y, K interleaved) as they are, which
// readers take to be inverted (255 = no ink), as Photoshop writes them.
void write_cmyk_jpeg(const std::string& path, int64_t width, int64_t height, const std::vector<uint8_t>& cmyk);

// root/train/<class>/img<i>.JPEG and root/val/<class>/img<i>.JPEG for classes "c0", "c1", ...:
// each image is its class's colour (a saturated primary per class) with noise, of a size that
// varies per image around width x height. Learnable in a few steps.
void write_image_folders(const std::string& root, int classes, int train_per_class, int val_per_class,
                         int64_t width, int64_t height, uint64_t seed);

}  // namespace isda::testing
