#include "data/data_error.h"
#include "core/data/data_error_of.h"
#include "data/imagenet.h"
#include "data/jpeg.h"
#include "support/idx_files.h"  // ScratchDir
#include "support/image_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <vector>

namespace isda::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

RgbImage random_image(int64_t width, int64_t height, uint64_t seed) {
  RgbImage image(width, height);
  std::mt19937_64 random(seed);
  for (auto& p : image.pixels) p = static_cast<uint8_t>(random() & 0xff);
  return image;
}

// --- JPEG -------------------------------------------------------------------------------------

TEST(JpegTest, DecodesRgbGrayAndCmyk) {
  testing::ScratchDir dir;
  RgbImage flat(20, 12);
  for (int64_t p = 0; p < 20 * 12; ++p) {
    flat.pixels[3 * p] = 200;
    flat.pixels[3 * p + 1] = 60;
    flat.pixels[3 * p + 2] = 10;
  }
  testing::write_jpeg(dir.file("rgb.jpg"), flat);
  const auto rgb = decode_jpeg_file(dir.file("rgb.jpg"));
  ASSERT_EQ(rgb.width, 20);
  ASSERT_EQ(rgb.height, 12);
  for (int k = 0; k < 3; ++k) EXPECT_NEAR(rgb.at(5, 7)[k], flat.at(5, 7)[k], 2) << k;

  std::vector<uint8_t> gray(9 * 7);
  for (size_t i = 0; i < gray.size(); ++i) gray[i] = static_cast<uint8_t>(i * 4);
  testing::write_gray_jpeg(dir.file("gray.jpg"), 9, 7, gray);
  const auto from_gray = decode_jpeg_file(dir.file("gray.jpg"));
  ASSERT_EQ(from_gray.pixels.size(), 9u * 7 * 3);
  for (int64_t p = 0; p < 9 * 7; ++p) {
    EXPECT_EQ(from_gray.pixels[3 * p], from_gray.pixels[3 * p + 1]);
    EXPECT_EQ(from_gray.pixels[3 * p], from_gray.pixels[3 * p + 2]);
    EXPECT_NEAR(from_gray.pixels[3 * p], gray[p], 3);
  }

  // Adobe CMYK stores 255 - ink: stored (C, M, Y, K) = (255, 155, 55, 205) is ink (0, 100, 200, 50),
  // so R = 205 - 0, G = 205 - round(100 * 205 / 255) = 125, B = 205 - round(200 * 205 / 255) = 44.
  std::vector<uint8_t> cmyk;
  for (int i = 0; i < 8 * 8; ++i) cmyk.insert(cmyk.end(), {255, 155, 55, 205});
  testing::write_cmyk_jpeg(dir.file("cmyk.jpg"), 8, 8, cmyk);
  const auto from_cmyk = decode_jpeg_file(dir.file("cmyk.jpg"));
  EXPECT_NEAR(from_cmyk.at(3, 3)[0], 205, 2);
  EXPECT_NEAR(from_cmyk.at(3, 3)[1], 125, 2);
  EXPECT_NEAR(from_cmyk.at(3, 3)[2], 44, 2);
}

TEST(JpegTest, AnUnreadableFileIsOneLineNamingIt) {
  testing::ScratchDir dir;
  std::ofstream(dir.file("text.JPEG")) << "not a jpeg";
  EXPECT_THAT(data_error_of([&] { decode_jpeg_file(dir.file("text.JPEG")); }),
              StartsWith(dir.file("text.JPEG") + ": not a readable JPEG ("));
  testing::write_jpeg(dir.file("whole.jpg"), random_image(40, 30, 1));
  std::ifstream in(dir.file("whole.jpg"), std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::ofstream(dir.file("cut.jpg"), std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  EXPECT_THAT(data_error_of([&] { decode_jpeg_file(dir.file("cut.jpg")); }),
              StartsWith(dir.file("cut.jpg") + ": not a readable JPEG ("));
  std::ofstream(dir.file("empty.jpg")).close();
  EXPECT_EQ(data_error_of([&] { decode_jpeg_file(dir.file("empty.jpg")); }),
            dir.file("empty.jpg") + ": not a readable JPEG (empty file)");
  EXPECT_THAT(data_error_of([&] { decode_jpeg_file(dir.file("absent.jpg")); }),
              StartsWith(dir.file("absent.jpg") + ": cannot open"));
}

// --- folders ----------------------------------------------------------------------------------

TEST(ImageFolderTest, ClassesSortedLabelsAndErrorsNamingTheFolder) {
  testing::ScratchDir dir;
  testing::write_image_folders(dir.path().string(), 3, 2, 1, 16, 12, 1);
  fs::create_directories(dir.path() / "train" / "c1" / "nested");
  testing::write_jpeg((dir.path() / "train" / "c1" / "nested" / "x.jpg").string(), random_image(8, 8, 2));
  std::ofstream(dir.path() / "train" / "c0" / "notes.txt") << "ignored";
  const auto splits = scan_imagenet(dir.path().string());
  EXPECT_EQ(splits.train.classes, (std::vector<std::string>{"c0", "c1", "c2"}));
  EXPECT_EQ(splits.train.labels, (std::vector<int64_t>{0, 0, 1, 1, 1, 2, 2}));
  EXPECT_EQ(splits.val.labels, (std::vector<int64_t>{0, 1, 2}));

  // A data root holding imagenet/train is accepted as well.
  testing::ScratchDir outer;
  testing::write_image_folders((outer.path() / "imagenet").string(), 2, 1, 1, 8, 8, 3);
  EXPECT_EQ(scan_imagenet(outer.path().string()).train.size(), 2);

  fs::create_directories(dir.path() / "train" / "c3");
  EXPECT_EQ(data_error_of([&] { scan_imagenet(dir.path().string()); }),
            (dir.path() / "train" / "c3").string() + ": no JPEG files (*.jpg, *.jpeg)");
  fs::remove(dir.path() / "train" / "c3");
  fs::create_directories(dir.path() / "val" / "c9");
  EXPECT_EQ(data_error_of([&] { scan_imagenet(dir.path().string()); }),
            (dir.path() / "val" / "c9").string() + ": class folder not among the training classes");
  EXPECT_EQ(data_error_of([&] { scan_imagenet(dir.file("nowhere")); }),
            dir.file("nowhere") + "/train: image folder does not exist");
}

TEST(ImageFolderTest, SampleSpansClassesAndKeepsFolderOrder) {
  ImageFolder folder;
  for (int i = 0; i < 100; ++i) {
    folder.paths.push_back("p" + std::to_string(1000 + i));
    folder.labels.push_back(i / 10);
  }
  const auto sample = sample_image_folder(folder, 20, 7);
  ASSERT_EQ(sample.size(), 20);
  EXPECT_TRUE(std::is_sorted(sample.paths.begin(), sample.paths.end()));
  EXPECT_GT(std::set<int64_t>(sample.labels.begin(), sample.labels.end()).size(), 4u);
  EXPECT_EQ(sample_image_folder(folder, 0, 7).size(), 100);
}

// --- transforms -------------------------------------------------------------------------------

TEST(ImageTransformTest, RandomResizedCropStaysInsideAndFollowsTorchvision) {
  for (int64_t index = 0; index < 200; ++index) {
    ImageRng rng(5, 1, index);
    const auto box = random_resized_crop_box(300, 400, rng);
    EXPECT_GE(box.top, 0);
    EXPECT_GE(box.left, 0);
    EXPECT_LE(box.top + box.height, 300);
    EXPECT_LE(box.left + box.width, 400);
    const double area = static_cast<double>(box.height * box.width) / (300.0 * 400.0);
    EXPECT_GE(area, 0.07);
    const double ratio = static_cast<double>(box.width) / static_cast<double>(box.height);
    EXPECT_GT(ratio, 0.7);
    EXPECT_LT(ratio, 1.4);
  }
  // No try fits a 10 x 1000 strip: torchvision's fallback, width clamped to 4/3 of the height.
  ImageRng rng(0, 0, 0);
  const auto box = random_resized_crop_box(10, 1000, rng);
  EXPECT_EQ(box.height, 10);
  EXPECT_EQ(box.width, 13);
  EXPECT_EQ(box.top, 0);
  EXPECT_EQ(box.left, 493);
  // The same (seed, epoch, index) gives the same stream; another index another one.
  ImageRng a(3, 2, 1), b(3, 2, 1), c(3, 2, 2);
  EXPECT_EQ(a.next(), b.next());
  EXPECT_NE(a.next(), c.next());
}

TEST(ImageTransformTest, BilinearResizeIsPillowsAntialiasedFilter) {
  const auto image = random_image(24, 16, 4);
  // Same size: identity.
  EXPECT_EQ(resize_bilinear(image, {0, 0, 16, 24}, 24, 16).pixels, image.pixels);
  // Halving: taps (1, 3, 3, 1) / 8 per axis inside the image.
  const auto half = resize_bilinear(image, {0, 0, 16, 24}, 12, 8);
  const double taps[4] = {1, 3, 3, 1};
  for (int64_t y = 1; y < 7; ++y) {
    for (int64_t x = 1; x < 11; ++x) {
      for (int k = 0; k < 3; ++k) {
        double sum = 0;
        for (int i = 0; i < 4; ++i) {
          double row = 0;
          for (int j = 0; j < 4; ++j) row += taps[j] * image.at(2 * y - 1 + i, 2 * x - 1 + j)[k];
          sum += taps[i] * std::round(row / 8);  // the horizontal pass is rounded to 8 bits
        }
        EXPECT_NEAR(half.at(y, x)[k], sum / 8, 0.5 + 1e-9) << y << "," << x;
      }
    }
  }
  // A crop is resized as its own image: pixels outside the box never leak in.
  RgbImage framed(10, 10);
  for (int64_t y = 0; y < 10; ++y) {
    for (int64_t x = 0; x < 10; ++x) {
      const uint8_t v = (y >= 2 && y < 8 && x >= 2 && x < 8) ? 100 : 250;
      std::fill_n(framed.at(y, x), 3, v);
    }
  }
  const auto inner = resize_bilinear(framed, {2, 2, 6, 6}, 4, 5);
  for (const auto v : inner.pixels) EXPECT_EQ(v, 100);
}

TEST(ImageTransformTest, ResizeThenCentreCropMatchesTheFullResize) {
  const auto image = random_image(400, 300, 5);  // resized to 341 x 256; crop at (16, 58)
  const auto out = resize_center_crop(image, 256, 224);
  ASSERT_EQ(out.width, 224);
  ASSERT_EQ(out.height, 224);
  const auto full = resize_bilinear(image, {0, 0, 300, 400}, 341, 256);
  for (int64_t y = 0; y < 224; y += 37) {
    for (int64_t x = 0; x < 224; x += 29) {
      for (int k = 0; k < 3; ++k) EXPECT_EQ(out.at(y, x)[k], full.at(16 + y, 58 + x)[k]);
    }
  }
  const auto flipped = flip_horizontal(out);
  EXPECT_EQ(flipped.at(3, 0)[1], out.at(3, 223)[1]);
}

// --- loader -----------------------------------------------------------------------------------

std::vector<ImageBatch> all_batches(const ImageFolder& folder, const std::vector<int64_t>& order,
                                    ImageLoaderOptions options, int threads, int64_t first = 0) {
  options.threads = threads;
  ImageBatchLoader loader(folder, order, options, first);
  std::vector<ImageBatch> batches;
  ImageBatch batch;
  while (loader.next(batch)) batches.push_back(batch);
  return batches;
}

TEST(ImageBatchLoaderTest, TheSameBatchesForAnyThreadCountAndOnResume) {
  testing::ScratchDir dir;
  testing::write_image_folders(dir.path().string(), 3, 4, 1, 40, 30, 9);
  const auto folder = scan_image_folder(dir.file("train"));
  std::vector<int64_t> order(static_cast<size_t>(folder.size()));
  std::iota(order.begin(), order.end(), int64_t{0});
  std::reverse(order.begin(), order.end());
  ImageLoaderOptions options;
  options.batch_size = 5;
  options.crop_size = 16;
  options.seed = 11;
  options.epoch = 2;
  const auto one = all_batches(folder, order, options, 1);
  ASSERT_EQ(one.size(), 3u);  // 12 images in batches of 5
  EXPECT_EQ(one[2].count, 2);
  EXPECT_EQ(one[0].pixels.size(), 5u * 3 * 16 * 16);
  EXPECT_EQ(one[0].labels, (std::vector<int64_t>{2, 2, 2, 2, 1}));
  const auto three = all_batches(folder, order, options, 3);
  const auto resumed = all_batches(folder, order, options, 2, 1);
  ASSERT_EQ(three.size(), 3u);
  ASSERT_EQ(resumed.size(), 2u);
  for (size_t b = 0; b < 3; ++b) {
    EXPECT_EQ(three[b].pixels, one[b].pixels) << b;
    EXPECT_EQ(three[b].labels, one[b].labels) << b;
  }
  EXPECT_EQ(resumed[0].pixels, one[1].pixels);
  EXPECT_EQ(resumed[0].index, 1);
  // Another epoch draws other crops; evaluation is deterministic and needs no seed.
  options.epoch = 3;
  EXPECT_NE(all_batches(folder, order, options, 2)[0].pixels, one[0].pixels);
  options.train = false;
  const auto eval = all_batches(folder, order, options, 2);
  options.seed = 99;
  EXPECT_EQ(all_batches(folder, order, options, 1)[0].pixels, eval[0].pixels);
  // The batch's first image is the centre crop of image order[0].
  const auto expected = resize_center_crop(decode_jpeg_file(folder.paths[static_cast<size_t>(order[0])]), 18, 16);
  EXPECT_EQ(eval[0].pixels[0], expected.pixels[0]);
  EXPECT_EQ(eval[0].pixels[16 * 16 + 5], expected.pixels[3 * 5 + 1]);
}

TEST(ImageBatchLoaderTest, AnUnreadableJpegIsOneLineNamingIt) {
  testing::ScratchDir dir;
  testing::write_image_folders(dir.path().string(), 2, 3, 1, 20, 20, 2);
  const auto broken = (dir.path() / "train" / "c1" / "img1.JPEG").string();
  std::ofstream(broken, std::ios::binary) << "\xff\xd8\xff garbage";
  const auto folder = scan_image_folder(dir.file("train"));
  std::vector<int64_t> order{0, 1, 2, 3, 4, 5};
  ImageLoaderOptions options;
  options.batch_size = 2;
  options.crop_size = 8;
  options.threads = 2;
  ImageBatchLoader loader(folder, order, options);
  ImageBatch batch;
  EXPECT_TRUE(loader.next(batch));  // images 0, 1 (class c0)
  EXPECT_TRUE(loader.next(batch));  // images 2 (c0), 3 (c1/img0)
  EXPECT_THAT(data_error_of([&] { loader.next(batch); }), StartsWith(broken + ": not a readable JPEG ("));
}

}  // namespace
}  // namespace isda::data
