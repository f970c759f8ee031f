#pragma once
// Batched training-time augmentation: whole-batch tensor ops on whatever device the batch is on,
// each image with its own random parameters. Parameters are drawn first (on the CPU, from a
// generator the caller seeds, so a run is reproducible on any device) and then applied by
// deterministic functions that tests call with given parameters.

#include "data/datasets.h"  // Normalization

#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/types.h>

#include <cstdint>
#include <string>

namespace isda::data {

// kCutout = standard + Cutout; kAutoAugment = standard + the CIFAR-10 AutoAugment policy + Cutout.
enum class AugmentKind { kNone, kStandard, kCutout, kAutoAugment };

// "none", "standard", "cutout", "autoaugment"; std::invalid_argument listing them otherwise.
AugmentKind parse_augment_kind(const std::string& name);
std::string augment_kind_name(AugmentKind kind);

inline constexpr int64_t kCropPadding = 4;  // reflect-pad 4, then crop back to the image size
inline constexpr int64_t kCutoutSize = 16;  // side of the one Cutout hole

// Per-image parameters of pad + random crop + horizontal flip, on the CPU: crop offsets in
// [0, 2 * padding] into the padded image (int64, N) and whether to flip (bool, N).
struct CropFlipParams {
  torch::Tensor offset_y;
  torch::Tensor offset_x;
  torch::Tensor flip;
};
CropFlipParams draw_crop_flip(int64_t n, int64_t padding, at::Generator& generator);

// Reflect-pads `images` (N, C, H, W) floating by `padding`, crops H x W at the given offsets and
// flips the marked images left-right. Returns a new tensor on the images' device.
torch::Tensor apply_crop_flip(const torch::Tensor& images, const CropFlipParams& params, int64_t padding);

// Per-image Cutout centres (int64, N), uniform over all pixels.
struct CutoutParams {
  torch::Tensor center_y;
  torch::Tensor center_x;
};
CutoutParams draw_cutout(int64_t n, int64_t height, int64_t width, at::Generator& generator);

// Zeroes rows [cy - size/2, cy + size/2) x columns [cx - size/2, cx + size/2), clipped at the border,
// in every channel of each image (N, C, H, W) floating. Returns a new tensor.
torch::Tensor apply_cutout(const torch::Tensor& images, const CutoutParams& params, int64_t size);

// (images - mean) / std per channel, for images (N, C, H, W) floating in [0, 1]; C must equal the
// number of entries of `norm` (std::invalid_argument otherwise).
torch::Tensor normalize_images(const torch::Tensor& images, const Normalization& norm);

// Applies one augmentation regime to batches; owns the CPU generator all parameters come from.
// Not thread-safe (one augmenter per data stream).
class BatchAugmenter {
 public:
  BatchAugmenter(AugmentKind kind, Normalization norm, uint64_t seed);

  // (N, C, H, W) uint8 on any device -> augmented, normalised float32 on the same device. Order as
  // the authors': crop + flip, the policy (kAutoAugment), scale to [0, 1], Cutout, normalise.
  torch::Tensor train_batch(const torch::Tensor& images_uint8);
  // One rank's share of a global batch in a data-parallel run: draws the parameters of all
  // `global_count` images, exactly as train_batch would for the whole batch, and applies those of
  // the rows `rows` (int64, CPU, one per image of `images_uint8`). Each image so gets the same
  // augmentation whatever the number of ranks, and every rank's generator stays the same.
  torch::Tensor train_batch_share(const torch::Tensor& images_uint8, int64_t global_count, const torch::Tensor& rows);
  // Normalisation only.
  torch::Tensor eval_batch(const torch::Tensor& images_uint8) const;

  AugmentKind kind() const { return kind_; }

  // The generator state (key "augment_rng_state"), so that a resumed run draws the same parameters.
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  AugmentKind kind_;
  Normalization norm_;
  at::Generator generator_;
};

}  // namespace isda::data
