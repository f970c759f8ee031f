#pragma once
// PNG files (libpng): 8-bit RGB write, and a reader for checks and tests.

#include "data/rgb_image.h"

#include <string>

namespace isda::data {

// Writes `image` as an 8-bit RGB PNG via a temporary file renamed into place, so `path` is complete
// or untouched. Throws DataError naming the path when it cannot be written.
void write_png(const std::string& path, const RgbImage& image);

// Reads a PNG of any colour type and bit depth as 8-bit RGB (grey replicated; alpha composited
// as libpng's simplified API does).
// Throws DataError "<path>: not a readable PNG (...)".
RgbImage read_png(const std::string& path);

}  // namespace isda::data
