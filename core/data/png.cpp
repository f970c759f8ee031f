#include "data/png.h"

#include "common/durable_file.h"
#include "data/data_error.h"

#include <png.h>

#include <cstring>
#include <vector>

namespace isda::data {
// libpng's simplified API (png_image) handles errors without setjmp in our code. The PNG is made in
// memory and written through common/durable_file (temporary file, fsync, rename, fsync of the
// directory): a generator run rewrites samples.png every epoch, and a crash leaves the old one.
void write_png(const std::string& path, const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0) throw DataError(path + ": cannot write an empty image");
  png_image info;
  std::memset(&info, 0, sizeof(info));
  info.version = PNG_IMAGE_VERSION;
  info.width = static_cast<png_uint_32>(image.width);
  info.height = static_cast<png_uint_32>(image.height);
  info.format = PNG_FORMAT_RGB;
  const auto stride = static_cast<png_int_32>(image.width * 3);
  png_alloc_size_t size = 0;
  bool ok = png_image_write_to_memory(&info, nullptr, &size, 0, image.pixels.data(), stride, nullptr) != 0;
  std::string bytes(ok ? size : 0, '\0');
  if (ok) ok = png_image_write_to_memory(&info, bytes.data(), &size, 0, image.pixels.data(), stride, nullptr) != 0;
  const std::string message = info.message;
  png_image_free(&info);
  if (!ok) throw DataError(path + ": cannot write PNG (" + message + ")");
  bytes.resize(size);
  try {
    common::write_file_atomically(path, bytes);
  } catch (const common::FileError& e) {
    if (common::is_environment_fault(e.error_number)) throw;  // a full disk is the machine's fault
    throw DataError(path + ": cannot write (" + std::strerror(e.error_number) + ")");
  }
}

RgbImage read_png(const std::string& path) {
  png_image info;
  std::memset(&info, 0, sizeof(info));
  info.version = PNG_IMAGE_VERSION;
  if (png_image_begin_read_from_file(&info, path.c_str()) == 0) {
    throw DataError(path + ": not a readable PNG (" + info.message + ")");
  }
  info.format = PNG_FORMAT_RGB;
  RgbImage image(info.width, info.height);
  if (png_image_finish_read(&info, nullptr, image.pixels.data(), static_cast<png_int_32>(image.width * 3), nullptr) ==
      0) {
    const std::string message = info.message;
    png_image_free(&info);
    throw DataError(path + ": not a readable PNG (" + message + ")");
  }
  return image;
}

}  // namespace isda::data
