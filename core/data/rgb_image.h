#pragma once
// An 8-bit RGB image in memory, free of LibTorch: what the JPEG decoder returns, what the ImageNet
// transforms work on and what the PNG writer takes.

#include <cstddef>
#include <cstdint>
#include <vector>

namespace isda::data {

struct RgbImage {
  int64_t width = 0;
  int64_t height = 0;
  std::vector<uint8_t> pixels;  // height x width x 3 (R, G, B), row-major, interleaved

  RgbImage() = default;
  RgbImage(int64_t w, int64_t h) : width(w), height(h), pixels(static_cast<size_t>(w * h * 3)) {}
  uint8_t* at(int64_t y, int64_t x) { return pixels.data() + (y * width + x) * 3; }
  const uint8_t* at(int64_t y, int64_t x) const { return pixels.data() + (y * width + x) * 3; }
};

}  // namespace isda::data
