#include "data/png.h"

#include "data/data_error.h"

#include <png.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

namespace isda::data {
namespace {

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

}  // namespace

// libpng's simplified API (png_image) handles errors without setjmp in our code.
void write_png(const std::string& path, const RgbImage& image) {
  if (image.width <= 0 || image.height <= 0) throw DataError(path + ": cannot write an empty image");
  const std::string temporary = path + ".tmp";
  png_image info;
  std::memset(&info, 0, sizeof(info));
  info.version = PNG_IMAGE_VERSION;
  info.width = static_cast<png_uint_32>(image.width);
  info.height = static_cast<png_uint_32>(image.height);
  info.format = PNG_FORMAT_RGB;
  File file(std::fopen(temporary.c_str(), "wb"), &std::fclose);
  if (!file) throw DataError(path + ": cannot write (" + std::strerror(errno) + ")");
  const bool ok = png_image_write_to_stdio(&info, file.get(), 0, image.pixels.data(),
                                           static_cast<png_int_32>(image.width * 3), nullptr) != 0;
  const std::string message = info.message;
  png_image_free(&info);
  const bool closed = std::fflush(file.get()) == 0 && std::fclose(file.release()) == 0;
  if (!ok || !closed || std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw DataError(path + ": cannot write PNG (" + (ok ? std::string(std::strerror(errno)) : message) + ")");
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
