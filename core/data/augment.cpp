#include "data/augment.h"

#include "data/autoaugment.h"
#include "train/config_names.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <mutex>
#include <stdexcept>

namespace isda::data {
namespace {

void check_images(const torch::Tensor& images, const char* what) {
  if (!images.defined() || images.dim() != 4) throw std::invalid_argument(std::string(what) + ": expected (N, C, H, W) images");
}

}  // namespace

static_assert(static_cast<size_t>(AugmentKind::kAutoAugment) + 1 == train::names::kAugments.size(),
              "AugmentKind lists the names of train/config_names.h in their order");

AugmentKind parse_augment_kind(const std::string& name) {
  return train::names::parse_named<AugmentKind>(train::names::kAugments, name, "augmentation");
}

std::string augment_kind_name(AugmentKind kind) { return train::names::name_of(train::names::kAugments, kind); }

CropFlipParams draw_crop_flip(int64_t n, int64_t padding, at::Generator& generator) {
  CropFlipParams params;
  params.offset_y = torch::randint(0, 2 * padding + 1, {n}, generator, torch::kInt64);
  params.offset_x = torch::randint(0, 2 * padding + 1, {n}, generator, torch::kInt64);
  params.flip = torch::randint(0, 2, {n}, generator, torch::kInt64).to(torch::kBool);
  return params;
}

torch::Tensor apply_crop_flip(const torch::Tensor& images, const CropFlipParams& params, int64_t padding) {
  check_images(images, "apply_crop_flip");
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto device = images.device();
  const torch::Tensor padded = torch::reflection_pad2d(images, {padding, padding, padding, padding});
  const auto index_options = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const torch::Tensor rows = params.offset_y.to(device).view({n, 1}) + torch::arange(h, index_options).view({1, h});
  const torch::Tensor columns = torch::arange(w, index_options).view({1, w});
  const torch::Tensor cols = params.offset_x.to(device).view({n, 1}) +
                             torch::where(params.flip.to(device).view({n, 1}), (w - 1) - columns, columns);
  const int64_t padded_w = padded.size(3);
  torch::Tensor out = padded.gather(2, rows.view({n, 1, h, 1}).expand({n, c, h, padded_w}));
  return out.gather(3, cols.view({n, 1, 1, w}).expand({n, c, h, w}));
}

CutoutParams draw_cutout(int64_t n, int64_t height, int64_t width, at::Generator& generator) {
  return {torch::randint(0, height, {n}, generator, torch::kInt64), torch::randint(0, width, {n}, generator, torch::kInt64)};
}

torch::Tensor apply_cutout(const torch::Tensor& images, const CutoutParams& params, int64_t size) {
  check_images(images, "apply_cutout");
  const int64_t n = images.size(0), h = images.size(2), w = images.size(3);
  const auto device = images.device();
  const auto index_options = torch::TensorOptions().dtype(torch::kInt64).device(device);
  const torch::Tensor cy = params.center_y.to(device).view({n, 1, 1});
  const torch::Tensor cx = params.center_x.to(device).view({n, 1, 1});
  const torch::Tensor ys = torch::arange(h, index_options).view({1, h, 1});
  const torch::Tensor xs = torch::arange(w, index_options).view({1, 1, w});
  const int64_t half = size / 2;
  const torch::Tensor hole = (ys >= cy - half) & (ys < cy + half) & (xs >= cx - half) & (xs < cx + half);
  return images.masked_fill(hole.unsqueeze(1), 0);
}

torch::Tensor normalize_images(const torch::Tensor& images, const Normalization& norm) {
  check_images(images, "normalize_images");
  const int64_t c = images.size(1);
  if (static_cast<int64_t>(norm.mean.size()) != c || static_cast<int64_t>(norm.std.size()) != c) {
    throw std::invalid_argument("normalisation has " + std::to_string(norm.mean.size()) + " channels, images have " +
                                std::to_string(c));
  }
  const auto options = torch::TensorOptions().dtype(images.scalar_type()).device(images.device());
  const torch::Tensor mean = torch::tensor(norm.mean, torch::kFloat64).to(options).view({1, c, 1, 1});
  const torch::Tensor stddev = torch::tensor(norm.std, torch::kFloat64).to(options).view({1, c, 1, 1});
  return (images - mean) / stddev;
}

BatchAugmenter::BatchAugmenter(AugmentKind kind, Normalization norm, uint64_t seed)
    : kind_(kind), norm_(std::move(norm)), generator_(at::detail::createCPUGenerator(seed)) {}

torch::Tensor BatchAugmenter::train_batch(const torch::Tensor& images_uint8) {
  check_images(images_uint8, "BatchAugmenter::train_batch");
  const int64_t n = images_uint8.size(0);
  torch::Tensor x = images_uint8.to(torch::kFloat32);  // pixel values 0..255, kept integral until scaled
  if (kind_ != AugmentKind::kNone) {
    x = apply_crop_flip(x, draw_crop_flip(n, kCropPadding, generator_), kCropPadding);
  }
  if (kind_ == AugmentKind::kAutoAugment) x = apply_autoaugment(x, draw_autoaugment(n, generator_));
  x = x / 255.0;
  if (kind_ == AugmentKind::kCutout || kind_ == AugmentKind::kAutoAugment) {
    x = apply_cutout(x, draw_cutout(n, x.size(2), x.size(3), generator_), kCutoutSize);
  }
  return normalize_images(x, norm_);
}

torch::Tensor BatchAugmenter::train_batch_share(const torch::Tensor& images_uint8, int64_t global_count,
                                                const torch::Tensor& rows) {
  check_images(images_uint8, "BatchAugmenter::train_batch_share");
  if (rows.dim() != 1 || rows.size(0) != images_uint8.size(0)) {
    throw std::invalid_argument("BatchAugmenter::train_batch_share: one row index per image expected");
  }
  const auto pick = [&rows](const torch::Tensor& values) { return values.index_select(0, rows); };
  torch::Tensor x = images_uint8.to(torch::kFloat32);
  if (kind_ != AugmentKind::kNone) {
    const auto all = draw_crop_flip(global_count, kCropPadding, generator_);
    x = apply_crop_flip(x, {pick(all.offset_y), pick(all.offset_x), pick(all.flip)}, kCropPadding);
  }
  if (kind_ == AugmentKind::kAutoAugment) {
    const auto all = draw_autoaugment(global_count, generator_);
    x = apply_autoaugment(x, {pick(all.sub_policy), pick(all.apply1), pick(all.apply2), pick(all.sign1), pick(all.sign2)});
  }
  x = x / 255.0;
  if (kind_ == AugmentKind::kCutout || kind_ == AugmentKind::kAutoAugment) {
    const auto all = draw_cutout(global_count, x.size(2), x.size(3), generator_);
    x = apply_cutout(x, {pick(all.center_y), pick(all.center_x)}, kCutoutSize);
  }
  return normalize_images(x, norm_);
}

torch::Tensor BatchAugmenter::eval_batch(const torch::Tensor& images_uint8) const {
  check_images(images_uint8, "BatchAugmenter::eval_batch");
  return normalize_images(images_uint8.to(torch::kFloat32) / 255.0, norm_);
}

void BatchAugmenter::save(torch::serialize::OutputArchive& archive) const {
  at::Generator generator = generator_;  // a handle sharing the state
  std::lock_guard<std::mutex> lock(generator.mutex());
  archive.write("augment_rng_state", generator.get_state());
}

void BatchAugmenter::load(torch::serialize::InputArchive& archive) {
  torch::Tensor state;
  archive.read("augment_rng_state", state);
  std::lock_guard<std::mutex> lock(generator_.mutex());
  generator_.set_state(state);
}

}  // namespace isda::data
