#include "data/autoaugment.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>
#include <vector>

namespace isda::data {
namespace {

using Op = AutoAugmentOp;

// PIL's truncation to an 8-bit value after clipping: (UINT8) of a float in [0, 255].
torch::Tensor clip_truncate(const torch::Tensor& values) { return values.clamp(0, 255).floor(); }

torch::Tensor per_image(const torch::Tensor& values, const torch::Tensor& like) {
  return values.to(like.device(), like.scalar_type()).view({-1, 1, 1, 1});
}

// PIL's "L" conversion: (R * 19595 + G * 38470 + B * 7471 + 0x8000) >> 16; (N, 1, H, W).
torch::Tensor luminance(const torch::Tensor& images) {
  if (images.size(1) == 1) return images;
  const torch::Tensor rgb = images.to(torch::kInt64);
  const torch::Tensor weighted = rgb.select(1, 0) * 19595 + rgb.select(1, 1) * 38470 + rgb.select(1, 2) * 7471 + 0x8000;
  return torch::div(weighted, 65536, "floor").unsqueeze(1).to(images.scalar_type());
}

// PIL Image.blend(degenerate, image, factor) as ImageEnhance uses it: in float32, then clipped and truncated.
torch::Tensor blend(const torch::Tensor& degenerate, const torch::Tensor& images, const torch::Tensor& factors) {
  const torch::Tensor f = per_image(factors, images);
  return clip_truncate(degenerate + f * (images - degenerate));
}

// ImageEnhance.Sharpness's degenerate image: ImageFilter.SMOOTH ([1 1 1; 1 5 1; 1 1 1] / 13), border
// pixels copied; interior rounded to nearest.
torch::Tensor smooth(const torch::Tensor& images) {
  const int64_t c = images.size(1);
  torch::Tensor kernel = torch::ones({3, 3}, images.options());
  kernel[1][1] = 5;
  kernel = (kernel / 13).view({1, 1, 3, 3}).expand({c, 1, 3, 3}).contiguous();
  const torch::Tensor filtered = torch::conv2d(images, kernel, torch::Tensor(), torch::IntArrayRef{1, 1},
                                                torch::IntArrayRef{0, 0}, torch::IntArrayRef{1, 1}, c);
  torch::Tensor out = images.clone();
  using torch::indexing::Slice;
  out.index_put_({Slice(), Slice(), Slice(1, -1), Slice(1, -1)}, (filtered + 0.5).clamp(0, 255).floor());
  return out;
}

// ImageOps.autocontrast (cutoff 0) per channel: maps [lo, hi] to [0, 255] by int(i * scale + offset).
torch::Tensor autocontrast(const torch::Tensor& images) {
  const torch::Tensor flat = images.flatten(2).to(torch::kFloat64);
  const torch::Tensor lo = std::get<0>(flat.min(2, true));
  const torch::Tensor hi = std::get<0>(flat.max(2, true));
  const torch::Tensor stretch = hi > lo;
  const torch::Tensor scale = 255.0 / torch::where(stretch, hi - lo, torch::ones_like(hi));
  const torch::Tensor offset = -lo * scale;
  const torch::Tensor mapped = (flat * scale + offset).clamp(0, 255).floor();
  return torch::where(stretch, mapped, flat).view_as(images).to(images.scalar_type());
}

// ImageOps.equalize per channel: lut[i] = (step // 2 + sum(h[:i])) // step with
// step = (count - h[last present value]) // 256; identity when at most one value occurs or step is 0.
torch::Tensor equalize(const torch::Tensor& images) {
  const torch::Tensor index = images.flatten(2).to(torch::kInt64);  // (N, C, HW)
  const int64_t pixels = index.size(2);
  torch::Tensor hist = torch::zeros({index.size(0), index.size(1), 256}, index.options());
  hist.scatter_add_(2, index, torch::ones_like(index));
  const torch::Tensor last = std::get<0>(index.max(2, true));
  const torch::Tensor step = torch::div(pixels - hist.gather(2, last), 256, "floor");  // (N, C, 1)
  const torch::Tensor distinct = (hist > 0).sum(2, true);
  const torch::Tensor identity = (distinct <= 1) | (step == 0);
  const torch::Tensor safe_step = torch::where(identity, torch::ones_like(step), step);
  const torch::Tensor before = hist.cumsum(2) - hist;
  const torch::Tensor lut = torch::div(torch::div(safe_step, 2, "floor") + before, safe_step, "floor").clamp_max(255);
  const torch::Tensor mapped = lut.gather(2, index);
  return torch::where(identity, index, mapped).view_as(images).to(images.scalar_type());
}

// PIL Image.transform(AFFINE, (a, b, c, d, e, f)) with fill 128: output pixel (x, y) samples the input
// at (a x' + b y' + c, d x' + e y' + f), x' = x + 0.5, y' = y + 0.5; outside [0, W) x [0, H) it is the
// fill. Nearest takes floor of the coordinate; bicubic is PIL's (a = -1 cubic convolution, taps
// clamped to the border, result clipped and truncated).
torch::Tensor affine(const torch::Tensor& images, const torch::Tensor& coefficients, bool bicubic) {
  const int64_t n = images.size(0), c = images.size(1), h = images.size(2), w = images.size(3);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64).device(images.device());
  const torch::Tensor m = coefficients.to(f64).view({n, 6, 1, 1});
  const torch::Tensor xs = (torch::arange(w, f64) + 0.5).view({1, 1, w});
  const torch::Tensor ys = (torch::arange(h, f64) + 0.5).view({1, h, 1});
  const torch::Tensor x_in = m.select(1, 0) * xs + m.select(1, 1) * ys + m.select(1, 2);  // (N, H, W)
  const torch::Tensor y_in = m.select(1, 3) * xs + m.select(1, 4) * ys + m.select(1, 5);
  const torch::Tensor inside = (x_in >= 0) & (x_in < w) & (y_in >= 0) & (y_in < h);
  const torch::Tensor flat = images.flatten(2);  // (N, C, HW)
  auto tap = [&](const torch::Tensor& yi, const torch::Tensor& xi) {
    const torch::Tensor index = (yi.clamp(0, h - 1) * w + xi.clamp(0, w - 1)).to(torch::kInt64).view({n, 1, h * w});
    return flat.gather(2, index.expand({n, c, h * w})).view({n, c, h, w}).to(torch::kFloat64);
  };
  torch::Tensor out;
  if (!bicubic) {
    out = tap(y_in.floor(), x_in.floor());
  } else {
    const torch::Tensor xs0 = x_in - 0.5, ys0 = y_in - 0.5;
    const torch::Tensor x0 = xs0.floor(), y0 = ys0.floor();
    const torch::Tensor dx = (xs0 - x0).unsqueeze(1), dy = (ys0 - y0).unsqueeze(1);
    auto cubic = [](const torch::Tensor& v1, const torch::Tensor& v2, const torch::Tensor& v3, const torch::Tensor& v4,
                    const torch::Tensor& d) {
      const torch::Tensor p2 = v3 - v1;
      const torch::Tensor p3 = 2 * (v1 - v2) + v3 - v4;
      const torch::Tensor p4 = v2 - v1 - v3 + v4;
      return v2 + d * (p2 + d * (p3 + d * p4));
    };
    std::vector<torch::Tensor> rows;
    for (int dyi = -1; dyi <= 2; ++dyi) {
      const torch::Tensor yi = y0 + dyi;
      rows.push_back(cubic(tap(yi, x0 - 1), tap(yi, x0), tap(yi, x0 + 1), tap(yi, x0 + 2), dx));
    }
    out = clip_truncate(cubic(rows[0], rows[1], rows[2], rows[3], dy));
  }
  out = torch::where(inside.unsqueeze(1), out, torch::full_like(out, kAutoAugmentFill));
  return out.to(images.scalar_type());
}

// Affine coefficients (N, 6) float64 on the CPU for the geometric ops; `values` float64 CPU.
torch::Tensor geometric_coefficients(Op op, const torch::Tensor& values, int64_t h, int64_t w) {
  const int64_t n = values.size(0);
  torch::Tensor m = torch::zeros({n, 6}, torch::kFloat64);
  m.select(1, 0).fill_(1);
  m.select(1, 4).fill_(1);
  switch (op) {
    case Op::kShearX: m.select(1, 1).copy_(values); break;
    case Op::kShearY: m.select(1, 3).copy_(values); break;
    case Op::kTranslateX: m.select(1, 2).copy_(values); break;
    case Op::kTranslateY: m.select(1, 5).copy_(values); break;
    case Op::kRotate: {
      // PIL Image.rotate(angle): inverse map about the centre (w/2, h/2).
      const torch::Tensor theta = -values * (M_PI / 180.0);
      const torch::Tensor cos = theta.cos(), sin = theta.sin();
      const double cx = w / 2.0, cy = h / 2.0;
      m.select(1, 0).copy_(cos);
      m.select(1, 1).copy_(sin);
      m.select(1, 3).copy_(-sin);
      m.select(1, 4).copy_(cos);
      m.select(1, 2).copy_(cos * -cx + sin * -cy + cx);
      m.select(1, 5).copy_(-sin * -cx + cos * -cy + cy);
      break;
    }
    default: throw std::logic_error("geometric_coefficients: not a geometric op");
  }
  return m;
}

}  // namespace

std::string autoaugment_op_name(AutoAugmentOp op) {
  static const char* const kNames[kAutoAugmentOpCount] = {
      "shearX", "shearY", "translateX", "translateY", "rotate", "color", "posterize", "solarize",
      "contrast", "sharpness", "brightness", "autocontrast", "equalize", "invert"};
  return kNames[static_cast<int>(op)];
}

const std::array<SubPolicy, 25>& cifar10_policy() {
  static const std::array<SubPolicy, 25> kPolicy{{
      {Op::kInvert, 0.1, 7, Op::kContrast, 0.2, 6},
      {Op::kRotate, 0.7, 2, Op::kTranslateX, 0.3, 9},
      {Op::kSharpness, 0.8, 1, Op::kSharpness, 0.9, 3},
      {Op::kShearY, 0.5, 8, Op::kTranslateY, 0.7, 9},
      {Op::kAutoContrast, 0.5, 8, Op::kEqualize, 0.9, 2},
      {Op::kShearY, 0.2, 7, Op::kPosterize, 0.3, 7},
      {Op::kColor, 0.4, 3, Op::kBrightness, 0.6, 7},
      {Op::kSharpness, 0.3, 9, Op::kBrightness, 0.7, 9},
      {Op::kEqualize, 0.6, 5, Op::kEqualize, 0.5, 1},
      {Op::kContrast, 0.6, 7, Op::kSharpness, 0.6, 5},
      {Op::kColor, 0.7, 7, Op::kTranslateX, 0.5, 8},
      {Op::kEqualize, 0.3, 7, Op::kAutoContrast, 0.4, 8},
      {Op::kTranslateY, 0.4, 3, Op::kSharpness, 0.2, 6},
      {Op::kBrightness, 0.9, 6, Op::kColor, 0.2, 8},
      {Op::kSolarize, 0.5, 2, Op::kInvert, 0.0, 3},
      {Op::kEqualize, 0.2, 0, Op::kAutoContrast, 0.6, 0},
      {Op::kEqualize, 0.2, 8, Op::kEqualize, 0.8, 4},
      {Op::kColor, 0.9, 9, Op::kEqualize, 0.6, 6},
      {Op::kAutoContrast, 0.8, 4, Op::kSolarize, 0.2, 8},
      {Op::kBrightness, 0.1, 3, Op::kColor, 0.7, 0},
      {Op::kSolarize, 0.4, 5, Op::kAutoContrast, 0.9, 3},
      {Op::kTranslateY, 0.9, 9, Op::kTranslateY, 0.7, 9},
      {Op::kAutoContrast, 0.9, 2, Op::kSolarize, 0.8, 3},
      {Op::kEqualize, 0.8, 8, Op::kInvert, 0.1, 3},
      {Op::kTranslateY, 0.7, 9, Op::kAutoContrast, 0.9, 1},
  }};
  return kPolicy;
}

double autoaugment_magnitude(AutoAugmentOp op, int m, int64_t size) {
  if (m < 0 || m > 9) throw std::invalid_argument("AutoAugment magnitude index must be 0..9, got " + std::to_string(m));
  const double t = m / 9.0;  // position in linspace(start, stop, 10)
  switch (op) {
    case Op::kShearX:
    case Op::kShearY: return 0.3 * t;
    case Op::kTranslateX:
    case Op::kTranslateY: return 150.0 / 331.0 * t * static_cast<double>(size);
    case Op::kRotate: return 30.0 * t;
    case Op::kColor:
    case Op::kContrast:
    case Op::kSharpness:
    case Op::kBrightness: return 0.9 * t;
    case Op::kPosterize: return std::nearbyint(8.0 - 4.0 * t);
    case Op::kSolarize: return 256.0 - 256.0 * t;
    default: return 0.0;
  }
}

bool autoaugment_random_sign(AutoAugmentOp op) {
  switch (op) {
    case Op::kShearX: case Op::kShearY: case Op::kTranslateX: case Op::kTranslateY:
    case Op::kColor: case Op::kContrast: case Op::kSharpness: case Op::kBrightness: return true;
    default: return false;
  }
}

AutoAugmentParams draw_autoaugment(int64_t n, at::Generator& generator) {
  AutoAugmentParams params;
  params.sub_policy = torch::randint(0, 25, {n}, generator, torch::kInt64);
  const auto f64 = torch::TensorOptions().dtype(torch::kFloat64);
  const torch::Tensor coin1 = torch::rand({n}, generator, f64);
  const torch::Tensor coin2 = torch::rand({n}, generator, f64);
  params.sign1 = torch::randint(0, 2, {n}, generator, f64) * 2 - 1;
  params.sign2 = torch::randint(0, 2, {n}, generator, f64) * 2 - 1;
  std::vector<double> p1, p2;
  for (const auto& sub : cifar10_policy()) {
    p1.push_back(sub.p1);
    p2.push_back(sub.p2);
  }
  params.apply1 = coin1 < torch::tensor(p1, f64).index_select(0, params.sub_policy);
  params.apply2 = coin2 < torch::tensor(p2, f64).index_select(0, params.sub_policy);
  return params;
}

torch::Tensor apply_autoaugment_op(AutoAugmentOp op, const torch::Tensor& images, const torch::Tensor& values) {
  if (!images.defined() || images.dim() != 4) throw std::invalid_argument("apply_autoaugment_op: expected (N, C, H, W) images");
  const int64_t h = images.size(2), w = images.size(3);
  switch (op) {
    case Op::kShearX:
    case Op::kShearY:
    case Op::kTranslateX:
    case Op::kTranslateY:
    case Op::kRotate: {
      const bool bicubic = op == Op::kShearX || op == Op::kShearY;
      return affine(images, geometric_coefficients(op, values.to(torch::kCPU, torch::kFloat64), h, w), bicubic);
    }
    case Op::kColor: return blend(luminance(images).expand_as(images), images, values);
    case Op::kContrast: {
      const torch::Tensor mean = luminance(images).to(torch::kFloat64).mean({1, 2, 3}, true);
      return blend((mean + 0.5).floor().to(images.scalar_type()).expand_as(images), images, values);
    }
    case Op::kSharpness: return blend(smooth(images), images, values);
    case Op::kBrightness: return blend(torch::zeros_like(images), images, values);
    case Op::kPosterize: {
      const torch::Tensor step = torch::pow(2.0, 8.0 - per_image(values, images));
      return (images / step).floor() * step;
    }
    case Op::kSolarize: return torch::where(images < per_image(values, images), images, 255 - images);
    case Op::kAutoContrast: return autocontrast(images);
    case Op::kEqualize: return equalize(images);
    case Op::kInvert: return 255 - images;
  }
  throw std::logic_error("apply_autoaugment_op: unknown op");
}

torch::Tensor apply_autoaugment(const torch::Tensor& images, const AutoAugmentParams& params) {
  const auto& policy = cifar10_policy();
  const int64_t h = images.size(2), w = images.size(3);
  // Per slot and op, the images that apply it: index lists built on the CPU (no device round trips),
  // then each op runs once on its sub-batch.
  torch::Tensor out = images.clone();
  const torch::Tensor sub = params.sub_policy.to(torch::kCPU);
  const auto* sub_data = sub.data_ptr<int64_t>();
  for (int slot = 0; slot < 2; ++slot) {
    const torch::Tensor apply = (slot == 0 ? params.apply1 : params.apply2).to(torch::kCPU).contiguous();
    const torch::Tensor sign = (slot == 0 ? params.sign1 : params.sign2).to(torch::kCPU, torch::kFloat64).contiguous();
    const auto* apply_data = apply.data_ptr<bool>();
    const auto* sign_data = sign.data_ptr<double>();
    std::vector<std::vector<int64_t>> members(kAutoAugmentOpCount);
    std::vector<std::vector<double>> values(kAutoAugmentOpCount);
    for (int64_t i = 0; i < sub.size(0); ++i) {
      if (!apply_data[i]) continue;
      const SubPolicy& s = policy[static_cast<size_t>(sub_data[i])];
      const Op op = slot == 0 ? s.op1 : s.op2;
      const int m = slot == 0 ? s.m1 : s.m2;
      const double magnitude = autoaugment_magnitude(op, m, op == Op::kTranslateY ? h : w);
      double value = autoaugment_random_sign(op) ? magnitude * sign_data[i] : magnitude;
      if (op == Op::kColor || op == Op::kContrast || op == Op::kSharpness || op == Op::kBrightness) value += 1.0;
      members[static_cast<size_t>(op)].push_back(i);
      values[static_cast<size_t>(op)].push_back(value);
    }
    for (int k = 0; k < kAutoAugmentOpCount; ++k) {
      if (members[static_cast<size_t>(k)].empty()) continue;
      const torch::Tensor index = torch::tensor(members[static_cast<size_t>(k)], torch::kInt64).to(images.device());
      const torch::Tensor value = torch::tensor(values[static_cast<size_t>(k)], torch::kFloat64);
      out.index_copy_(0, index, apply_autoaugment_op(static_cast<Op>(k), out.index_select(0, index), value));
    }
  }
  return out;
}

}  // namespace isda::data
