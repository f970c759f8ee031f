#include "support/image_files.h"

#include <cstdio>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <random>
#include <stdexcept>

namespace isda::testing {
namespace {

using File = std::unique_ptr<FILE, int (*)(FILE*)>;

// Compresses rows of `components` bytes per pixel in `space`; libjpeg's default error handler exits,
// which is acceptable in a test helper given valid parameters.
void compress(const std::string& path, int64_t width, int64_t height, int components, J_COLOR_SPACE space,
              const uint8_t* pixels, int quality) {
  File file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) throw std::runtime_error("cannot write " + path);
  jpeg_compress_struct info;
  jpeg_error_mgr errors;
  info.err = jpeg_std_error(&errors);
  jpeg_create_compress(&info);
  jpeg_stdio_dest(&info, file.get());
  info.image_width = static_cast<JDIMENSION>(width);
  info.image_height = static_cast<JDIMENSION>(height);
  info.input_components = components;
  info.in_color_space = space;
  jpeg_set_defaults(&info);
  jpeg_set_quality(&info, quality, TRUE);
  for (int c = 0; c < info.num_components; ++c) {  // no chroma subsampling: colours survive exactly
    info.comp_info[c].h_samp_factor = 1;
    info.comp_info[c].v_samp_factor = 1;
  }
  jpeg_start_compress(&info, TRUE);
  while (info.next_scanline < info.image_height) {
    JSAMPROW row = const_cast<uint8_t*>(pixels + static_cast<size_t>(info.next_scanline) * width * components);
    jpeg_write_scanlines(&info, &row, 1);
  }
  jpeg_finish_compress(&info);
  jpeg_destroy_compress(&info);
}

}  // namespace

void write_jpeg(const std::string& path, const data::RgbImage& image, int quality) {
  compress(path, image.width, image.height, 3, JCS_RGB, image.pixels.data(), quality);
}

void write_gray_jpeg(const std::string& path, int64_t width, int64_t height, const std::vector<uint8_t>& gray) {
  compress(path, width, height, 1, JCS_GRAYSCALE, gray.data(), 100);
}

void write_cmyk_jpeg(const std::string& path, int64_t width, int64_t height, const std::vector<uint8_t>& cmyk) {
  compress(path, width, height, 4, JCS_CMYK, cmyk.data(), 100);  // libjpeg writes the Adobe marker for CMYK
}

void write_image_folders(const std::string& root, int classes, int train_per_class, int val_per_class,
                         int64_t width, int64_t height, uint64_t seed) {
  namespace fs = std::filesystem;
  std::mt19937_64 random(seed);
  std::uniform_int_distribution<int> noise(-20, 20);
  std::uniform_int_distribution<int64_t> jitter(0, 8);
  for (const char* split : {"train", "val"}) {
    const int count = std::string(split) == "train" ? train_per_class : val_per_class;
    for (int c = 0; c < classes; ++c) {
      const auto dir = fs::path(root) / split / ("c" + std::to_string(c));
      fs::create_directories(dir);
      for (int i = 0; i < count; ++i) {
        data::RgbImage image(width + jitter(random), height + jitter(random));
        for (int64_t p = 0; p < image.width * image.height; ++p) {
          for (int k = 0; k < 3; ++k) {
            const int base = (k == c % 3) ? 220 : (c >= 3 && k == (c + 1) % 3 ? 160 : 30);
            image.pixels[static_cast<size_t>(3 * p + k)] = static_cast<uint8_t>(std::clamp(base + noise(random), 0, 255));
          }
        }
        write_jpeg((dir / ("img" + std::to_string(i) + ".JPEG")).string(), image, 90);
      }
    }
  }
}

}  // namespace isda::testing
