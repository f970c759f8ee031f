#include "data/jpeg.h"

#include "data/data_error.h"

#include <csetjmp>
#include <cstdio>
// jpeglib.h needs size_t and FILE declared before it.
#include <jpeglib.h>
#include <jerror.h>  // JWRN_JPEG_EOF

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

namespace isda::data {
namespace {

// Pixels above this are refused rather than allocated (a corrupt header can claim 65535 x 65535).
constexpr uint64_t kMaxPixels = uint64_t{1} << 28;

struct ErrorManager {
  jpeg_error_mgr base;  // first, so that a j_common_ptr's err can be cast back
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

extern "C" void on_error(j_common_ptr info) {
  auto* manager = reinterpret_cast<ErrorManager*>(info->err);
  manager->base.format_message(info, manager->message);
  std::longjmp(manager->jump, 1);
}

extern "C" void on_message(j_common_ptr info, int level) {
  // level -1: a warning about corrupt data; libjpeg recovers and goes on. A premature end of the
  // data is treated as the error it is (the rest of the image would be grey).
  auto* manager = reinterpret_cast<ErrorManager*>(info->err);
  if (level == -1 && manager->base.msg_code == JWRN_JPEG_EOF) {
    manager->base.format_message(info, manager->message);
    std::longjmp(manager->jump, 1);
  }
}

// The decoding proper, on a created decompressor; libjpeg errors longjmp out of it to decode_into.
// Returns false with manager.message set for an image too large to allocate.
bool decode_body(jpeg_decompress_struct& info, const uint8_t* data, size_t size, RgbImage& image,
                 ErrorManager& manager, std::vector<uint8_t>& row) {
  jpeg_mem_src(&info, data, static_cast<unsigned long>(size));
  jpeg_read_header(&info, TRUE);
  const bool cmyk = info.jpeg_color_space == JCS_CMYK || info.jpeg_color_space == JCS_YCCK;
  info.out_color_space = cmyk ? JCS_CMYK : JCS_RGB;  // libjpeg-turbo expands grayscale to RGB itself
  jpeg_start_decompress(&info);
  const uint64_t pixels = uint64_t{info.output_width} * info.output_height;
  if (pixels == 0 || pixels > kMaxPixels) {
    std::snprintf(manager.message, sizeof(manager.message), "image of %u x %u pixels", info.output_width,
                  info.output_height);
    return false;
  }
  image.width = info.output_width;
  image.height = info.output_height;
  image.pixels.resize(static_cast<size_t>(pixels * 3));
  const bool inverted = cmyk && info.saw_Adobe_marker;  // Adobe CMYK stores 255 - value
  row.resize(static_cast<size_t>(info.output_width) * static_cast<size_t>(info.output_components));
  while (info.output_scanline < info.output_height) {
    const JDIMENSION y = info.output_scanline;
    JSAMPROW rows[1];
    if (cmyk) {
      rows[0] = row.data();
      jpeg_read_scanlines(&info, rows, 1);
      uint8_t* out = image.at(y, 0);
      for (JDIMENSION x = 0; x < info.output_width; ++x) {
        const uint8_t* in = row.data() + 4 * x;
        const int not_k = inverted ? in[3] : 255 - in[3];  // 255 - K
        for (int c = 0; c < 3; ++c) {
          const int ink = inverted ? 255 - in[c] : in[c];
          const int product = ink * not_k + 128;  // Pillow's MULDIV255: ink * not_k / 255, rounded
          out[3 * x + c] = static_cast<uint8_t>(not_k - (((product >> 8) + product) >> 8));
        }
      }
    } else {
      rows[0] = image.at(y, 0);
      jpeg_read_scanlines(&info, rows, 1);
    }
  }
  jpeg_finish_decompress(&info);
  return true;
}

// Returns false with manager.message set on failure. Nothing but the decompressor (whose state
// lives in memory, not registers) is live across setjmp; the work is in decode_body, whose frame a
// longjmp simply discards (it holds no object with a destructor).
bool decode_into(const uint8_t* data, size_t size, RgbImage& image, ErrorManager& manager,
                 std::vector<uint8_t>& row) {
  jpeg_decompress_struct info;
  info.err = jpeg_std_error(&manager.base);
  manager.base.error_exit = on_error;
  manager.base.emit_message = on_message;
  manager.message[0] = '\0';
  if (setjmp(manager.jump) != 0) {
    jpeg_destroy_decompress(&info);
    return false;
  }
  jpeg_create_decompress(&info);
  const bool ok = decode_body(info, data, size, image, manager, row);
  jpeg_destroy_decompress(&info);
  return ok;
}

}  // namespace

RgbImage decode_jpeg(const uint8_t* data, size_t size, const std::string& name) {
  RgbImage image;
  ErrorManager manager;
  std::vector<uint8_t> row;
  if (size == 0) throw DataError(name + ": not a readable JPEG (empty file)");
  if (!decode_into(data, size, image, manager, row)) {
    throw DataError(name + ": not a readable JPEG (" + manager.message + ")");
  }
  return image;
}

RgbImage decode_jpeg_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
  const std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw DataError(path + ": read error");
  return decode_jpeg(bytes.data(), bytes.size(), path);
}

}  // namespace isda::data
