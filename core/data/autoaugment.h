#pragma once
// The AutoAugment CIFAR-10 policy (Cubuk et al. 2019) as the ISDA authors ran it (their PIL port;
// see ../shared/reference/isda-facts.md section 7), as batched tensor ops that follow PIL's pixel
// arithmetic: images are floating tensors holding integral values 0..255 and every op returns
// integral values 0..255 again (PIL truncates or rounds where noted in autoaugment.cpp).

#include <torch/types.h>

#include <array>
#include <cstdint>
#include <string>

namespace isda::data {

enum class AutoAugmentOp {
  kShearX, kShearY, kTranslateX, kTranslateY, kRotate, kColor, kPosterize, kSolarize,
  kContrast, kSharpness, kBrightness, kAutoContrast, kEqualize, kInvert,
};
inline constexpr int kAutoAugmentOpCount = 14;
inline constexpr double kAutoAugmentFill = 128;  // geometric ops fill uncovered pixels with (128, 128, 128)

std::string autoaugment_op_name(AutoAugmentOp op);

struct SubPolicy {
  AutoAugmentOp op1;
  double p1;
  int m1;
  AutoAugmentOp op2;
  double p2;
  int m2;
};

// The 25 sub-policies, in the table's order.
const std::array<SubPolicy, 25>& cifar10_policy();

// The unsigned value of magnitude index m (0..9) of `op` for an image `size` pixels wide (or high,
// for translateY): shear linspace(0, 0.3), translate linspace(0, 150/331) * size, rotate
// linspace(0, 30) degrees, color/contrast/sharpness/brightness linspace(0, 0.9), posterize
// round(linspace(8, 4)) bits, solarize linspace(256, 0); 0 for the ops without a magnitude.
double autoaugment_magnitude(AutoAugmentOp op, int m, int64_t size);
// Whether the op's value takes a random sign (shear, translate, color, contrast, sharpness, brightness).
bool autoaugment_random_sign(AutoAugmentOp op);

// Per-image draws (CPU): the sub-policy (int64, N, in [0, 25)), whether each of its two ops
// applies (bool, N) and each op's sign (float64, N, +-1).
struct AutoAugmentParams {
  torch::Tensor sub_policy;
  torch::Tensor apply1;
  torch::Tensor apply2;
  torch::Tensor sign1;
  torch::Tensor sign2;
};
AutoAugmentParams draw_autoaugment(int64_t n, at::Generator& generator);

// Applies the drawn sub-policies to images (N, C, H, W) floating, values 0..255, on any device.
torch::Tensor apply_autoaugment(const torch::Tensor& images, const AutoAugmentParams& params);

// One op on every image of a batch; `values` (N) float64 (any device) is each image's argument:
// the signed shear coefficient, the signed translation in pixels, the rotation in degrees
// (counter-clockwise), the enhance factor (1 +- v), the bits posterize keeps, the solarize
// threshold; ignored by autocontrast, equalize and invert.
torch::Tensor apply_autoaugment_op(AutoAugmentOp op, const torch::Tensor& images, const torch::Tensor& values);

}  // namespace isda::data
