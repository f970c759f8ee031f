#include "data/cifar.h"
#include "data/data_error.h"
#include "data/png.h"
#include "data/preview.h"
#include "support/idx_files.h"  // ScratchDir

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

namespace isda::data {
namespace {

namespace fs = std::filesystem;
using ::testing::StartsWith;

// CIFAR-10 training batches of `per_batch` random records each.
void write_cifar10(const fs::path& dir, int per_batch) {
  fs::create_directories(dir);
  uint32_t state = 12345;
  for (int b = 1; b <= 5; ++b) {
    std::ofstream out(dir / ("data_batch_" + std::to_string(b) + ".bin"), std::ios::binary);
    for (int r = 0; r < per_batch; ++r) {
      out.put(static_cast<char>(r % 10));
      for (int i = 0; i < 3072; ++i) {
        state = state * 1103515245u + 12345u;
        out.put(static_cast<char>(state >> 24));
      }
    }
  }
}

TEST(PngTest, WritesWhatItReadsBack) {
  testing::ScratchDir dir;
  RgbImage image(7, 5);
  for (size_t i = 0; i < image.pixels.size(); ++i) image.pixels[i] = static_cast<uint8_t>(i * 5);
  write_png(dir.file("a.png"), image);
  const auto back = read_png(dir.file("a.png"));
  EXPECT_EQ(back.width, 7);
  EXPECT_EQ(back.height, 5);
  EXPECT_EQ(back.pixels, image.pixels);
  EXPECT_FALSE(fs::exists(dir.file("a.png.tmp")));
  std::ofstream(dir.file("b.png")) << "not a png";
  try {
    read_png(dir.file("b.png"));
    ADD_FAILURE();
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), StartsWith(dir.file("b.png") + ": not a readable PNG ("));
  }
  try {
    write_png(dir.file("no/such/dir/c.png"), image);
    ADD_FAILURE();
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), StartsWith(dir.file("no/such/dir/c.png") + ": cannot write"));
  }
}

TEST(PreviewTest, OriginalsOnTheFirstRowThenAugmentedCopies) {
  testing::ScratchDir dir;
  write_cifar10(dir.path(), 4);
  PreviewOptions options;
  options.root = dir.path().string();
  options.count = 3;
  options.copies = 2;
  options.scale = 2;
  const auto grid = make_preview_grid(options);
  const int64_t tile = 32 * 2 + kPreviewGap;
  EXPECT_EQ(grid.width, kPreviewGap + 3 * tile);
  EXPECT_EQ(grid.height, kPreviewGap + 3 * tile);
  const auto source = load_cifar10(dir.path().string(), true, 3).images;  // (3, 3, 32, 32)
  const auto pixels = source.accessor<uint8_t, 4>();
  bool copies_differ = false;
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t y = 0; y < 64; ++y) {
      for (int64_t x = 0; x < 64; ++x) {
        const uint8_t* original = grid.at(kPreviewGap + y, kPreviewGap + i * tile + x);
        for (int k = 0; k < 3; ++k) ASSERT_EQ(original[k], pixels[i][k][y / 2][x / 2]) << i << " " << y << " " << x;
        const uint8_t* copy = grid.at(kPreviewGap + tile + y, kPreviewGap + i * tile + x);
        copies_differ = copies_differ || copy[0] != original[0];
      }
    }
  }
  EXPECT_TRUE(copies_differ);
  EXPECT_EQ(grid.at(0, 0)[0], 255);  // the gap is white
  // With no augmentation, a copy equals its original up to the float round trip.
  options.augment = "none";
  const auto plain = make_preview_grid(options);
  EXPECT_EQ(plain.at(kPreviewGap + tile + 9, kPreviewGap + 9)[1], plain.at(kPreviewGap + 9, kPreviewGap + 9)[1]);
  options.dataset = "imagenet";
  EXPECT_THROW(make_preview_grid(options), std::invalid_argument);
}

}  // namespace
}  // namespace isda::data
