#include "data/augment.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <sstream>
#include <stdexcept>

namespace isda::data {
namespace {

torch::Tensor random_images(int64_t n, int64_t c, int64_t h, int64_t w, uint64_t seed) {
  at::Generator generator = at::detail::createCPUGenerator(seed);
  return torch::randint(0, 256, {n, c, h, w}, generator, torch::kUInt8);
}

int64_t reflect(int64_t i, int64_t size) {
  if (i < 0) return -i;
  if (i >= size) return 2 * (size - 1) - i;
  return i;
}

// Per-pixel reference of reflect-pad + crop + flip.
torch::Tensor reference_crop_flip(const torch::Tensor& images, const CropFlipParams& p, int64_t padding) {
  torch::Tensor out = torch::empty_like(images);
  const auto in = images.accessor<float, 4>();
  auto o = out.accessor<float, 4>();
  for (int64_t n = 0; n < images.size(0); ++n) {
    const int64_t oy = p.offset_y[n].item<int64_t>(), ox = p.offset_x[n].item<int64_t>();
    const bool flip = p.flip[n].item<bool>();
    for (int64_t c = 0; c < images.size(1); ++c) {
      for (int64_t y = 0; y < images.size(2); ++y) {
        for (int64_t x = 0; x < images.size(3); ++x) {
          const int64_t sx = flip ? images.size(3) - 1 - x : x;
          o[n][c][y][x] = in[n][c][reflect(y + oy - padding, images.size(2))][reflect(sx + ox - padding, images.size(3))];
        }
      }
    }
  }
  return out;
}

TEST(AugmentTest, ParsesKindsAndListsTheKnownOnes) {
  EXPECT_EQ(parse_augment_kind("none"), AugmentKind::kNone);
  EXPECT_EQ(parse_augment_kind("standard"), AugmentKind::kStandard);
  EXPECT_EQ(parse_augment_kind("cutout"), AugmentKind::kCutout);
  EXPECT_EQ(parse_augment_kind("autoaugment"), AugmentKind::kAutoAugment);
  try {
    parse_augment_kind("mixup");
    ADD_FAILURE();
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), ::testing::HasSubstr("known: none, standard, cutout, autoaugment"));
  }
}

TEST(AugmentTest, CropFlipMatchesPerPixelReference) {
  at::Generator generator = at::detail::createCPUGenerator(3);
  for (const auto& shape : {std::vector<int64_t>{16, 3, 32, 32}, std::vector<int64_t>{16, 1, 28, 28}}) {
    const torch::Tensor images = random_images(shape[0], shape[1], shape[2], shape[3], 1).to(torch::kFloat32);
    const CropFlipParams params = draw_crop_flip(shape[0], 4, generator);
    EXPECT_GE(params.offset_x.min().item<int64_t>(), 0);
    EXPECT_LE(params.offset_x.max().item<int64_t>(), 8);
    EXPECT_TRUE(torch::equal(apply_crop_flip(images, params, 4), reference_crop_flip(images, params, 4)));
  }
  // Fixed extremes: corners of the padded image, with and without flip.
  const torch::Tensor images = random_images(4, 3, 32, 32, 2).to(torch::kFloat32);
  const CropFlipParams corners{torch::tensor({0, 8, 0, 8}), torch::tensor({0, 8, 8, 0}),
                               torch::tensor({false, true, true, false})};
  EXPECT_TRUE(torch::equal(apply_crop_flip(images, corners, 4), reference_crop_flip(images, corners, 4)));
  const CropFlipParams centre{torch::tensor({4}), torch::tensor({4}), torch::tensor({true})};
  EXPECT_TRUE(torch::equal(apply_crop_flip(images.slice(0, 0, 1), centre, 4), images.slice(0, 0, 1).flip(3)));
}

TEST(AugmentTest, CutoutMatchesPerPixelReference) {
  const torch::Tensor images = random_images(6, 3, 32, 32, 4).to(torch::kFloat32) / 255.0;
  const CutoutParams params{torch::tensor({0, 31, 16, 5, 8, 20}), torch::tensor({0, 31, 16, 30, 7, 2})};
  const torch::Tensor out = apply_cutout(images, params, 16);
  torch::Tensor expected = images.clone();
  for (int64_t n = 0; n < 6; ++n) {
    const int64_t cy = params.center_y[n].item<int64_t>(), cx = params.center_x[n].item<int64_t>();
    for (int64_t y = std::max<int64_t>(0, cy - 8); y < std::min<int64_t>(32, cy + 8); ++y) {
      for (int64_t x = std::max<int64_t>(0, cx - 8); x < std::min<int64_t>(32, cx + 8); ++x) {
        for (int64_t c = 0; c < 3; ++c) expected[n][c][y][x] = 0;
      }
    }
  }
  EXPECT_TRUE(torch::equal(out, expected));
  at::Generator generator = at::detail::createCPUGenerator(5);
  const CutoutParams drawn = draw_cutout(1000, 32, 28, generator);
  EXPECT_EQ(drawn.center_y.min().item<int64_t>(), 0);
  EXPECT_EQ(drawn.center_y.max().item<int64_t>(), 31);
  EXPECT_EQ(drawn.center_x.max().item<int64_t>(), 27);
}

TEST(AugmentTest, NormalisesPerChannel) {
  const torch::Tensor images = random_images(2, 3, 4, 4, 6).to(torch::kFloat32) / 255.0;
  const Normalization norm{{0.1, 0.2, 0.3}, {0.5, 0.25, 2.0}};
  const torch::Tensor out = normalize_images(images, norm);
  for (int64_t c = 0; c < 3; ++c) {
    const float expected = static_cast<float>((images[1][c][2][3].item<double>() - norm.mean[c]) / norm.std[c]);
    EXPECT_NEAR(out[1][c][2][3].item<float>(), expected, 1e-6);
  }
  EXPECT_THROW(normalize_images(images, Normalization{{0.5}, {0.5}}), std::invalid_argument);
}

TEST(AugmentTest, TrainBatchIsReproducibleAndResumable) {
  const torch::Tensor images = random_images(32, 3, 32, 32, 7);
  const Normalization norm = normalization_for("cifar10");
  for (AugmentKind kind : {AugmentKind::kNone, AugmentKind::kStandard, AugmentKind::kCutout, AugmentKind::kAutoAugment}) {
    SCOPED_TRACE(augment_kind_name(kind));
    BatchAugmenter a(kind, norm, 11), b(kind, norm, 11), c(kind, norm, 12);
    const torch::Tensor first = a.train_batch(images);
    EXPECT_EQ(first.scalar_type(), torch::kFloat32);
    EXPECT_EQ(first.sizes(), images.sizes());
    EXPECT_TRUE(torch::equal(first, b.train_batch(images)));
    if (kind == AugmentKind::kNone) {
      EXPECT_TRUE(torch::equal(first, a.eval_batch(images)));
      continue;
    }
    EXPECT_FALSE(torch::equal(first, c.train_batch(images)));
    // Saving the generator state and loading it into another augmenter continues the same stream.
    torch::serialize::OutputArchive out;
    a.save(out);
    std::ostringstream stream;
    out.save_to(stream);
    const torch::Tensor next = a.train_batch(images);
    std::istringstream in_stream(stream.str());
    torch::serialize::InputArchive in;
    in.load_from(in_stream);
    c.load(in);
    EXPECT_TRUE(torch::equal(next, c.train_batch(images)));
  }
}

TEST(AugmentTest, CutoutRegimeBlacksOutAHoleBeforeNormalising) {
  const torch::Tensor images = torch::full({64, 3, 32, 32}, 200, torch::kUInt8);
  const Normalization norm = normalization_for("cifar10");
  BatchAugmenter augmenter(AugmentKind::kCutout, norm, 1);
  const torch::Tensor out = augmenter.train_batch(images);
  // A cut pixel is 0 before normalisation, so -mean/std after it.
  const float cut = static_cast<float>(-norm.mean[0] / norm.std[0]);
  const torch::Tensor is_cut = (out.select(1, 0) - cut).abs() < 1e-5;
  const torch::Tensor cut_per_image = is_cut.flatten(1).sum(1);
  EXPECT_GE(cut_per_image.min().item<int64_t>(), 64);   // at least an 8x8 corner
  EXPECT_LE(cut_per_image.max().item<int64_t>(), 256);  // at most 16x16
}

}  // namespace
}  // namespace isda::data
