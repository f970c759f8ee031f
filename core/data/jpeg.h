#pragma once
// JPEG decoding with libjpeg-turbo into RGB, whatever the file's colour space.

#include "data/rgb_image.h"

#include <cstddef>
#include <cstdint>
#include <string>

namespace isda::data {

// Decodes the JPEG file at `path` to RGB: YCbCr and RGB as stored, grayscale replicated to three
// channels, CMYK and YCCK (Adobe, inverted as Photoshop writes them) converted with Pillow's formula
// R = (255 - K) - round(C (255 - K) / 255) on the un-inverted values. Corrupt-data warnings that libjpeg
// recovers from are ignored (as Pillow does) except a premature end of data. Throws DataError
// "<path>: not a readable JPEG (<libjpeg's message>)" for an unreadable, truncated or non-JPEG
// file, and "<path>: cannot open (...)" when it cannot be read. Thread-safe (no shared state).
RgbImage decode_jpeg_file(const std::string& path);

// The same for a JPEG in memory; `name` is used in error messages.
RgbImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name);

}  // namespace isda::data
