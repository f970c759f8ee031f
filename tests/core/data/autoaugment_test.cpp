// Each AutoAugment op against a plain per-pixel reference written from PIL's C and Python code.
#include "data/autoaugment.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <vector>

namespace isda::data {
namespace {

using Op = AutoAugmentOp;

// One image as plain integers, [c][y][x].
struct Image {
  int64_t c, h, w;
  std::vector<int> px;
  int& at(int64_t ch, int64_t y, int64_t x) { return px[static_cast<size_t>((ch * h + y) * w + x)]; }
  int at(int64_t ch, int64_t y, int64_t x) const { return px[static_cast<size_t>((ch * h + y) * w + x)]; }
};

Image to_image(const torch::Tensor& t) {  // (C, H, W)
  const torch::Tensor v = t.to(torch::kInt32).contiguous();
  Image image{t.size(0), t.size(1), t.size(2), {}};
  image.px.assign(v.data_ptr<int>(), v.data_ptr<int>() + v.numel());
  return image;
}

torch::Tensor to_tensor(const Image& image) {
  return torch::tensor(image.px, torch::kInt32).view({image.c, image.h, image.w}).to(torch::kFloat32);
}

int truncate8(double v) { return v <= 0 ? 0 : v >= 255 ? 255 : static_cast<int>(v); }

std::vector<int> luminance(const Image& in) {
  std::vector<int> l(static_cast<size_t>(in.h * in.w));
  for (int64_t y = 0; y < in.h; ++y)
    for (int64_t x = 0; x < in.w; ++x)
      l[static_cast<size_t>(y * in.w + x)] =
          in.c == 1 ? in.at(0, y, x) : (in.at(0, y, x) * 19595 + in.at(1, y, x) * 38470 + in.at(2, y, x) * 7471 + 0x8000) >> 16;
  return l;
}

Image blend(const Image& degenerate, const Image& in, double factor) {
  Image out = in;
  const auto alpha = static_cast<float>(factor);
  for (size_t i = 0; i < in.px.size(); ++i) {
    out.px[i] = truncate8(static_cast<float>(degenerate.px[i]) + alpha * static_cast<float>(in.px[i] - degenerate.px[i]));
  }
  return out;
}

Image affine(const Image& in, const double m[6], bool bicubic) {
  Image out = in;
  auto clampi = [](int64_t v, int64_t hi) { return std::min(std::max<int64_t>(v, 0), hi - 1); };
  for (int64_t y = 0; y < in.h; ++y) {
    for (int64_t x = 0; x < in.w; ++x) {
      const double xin = m[0] * (x + 0.5) + m[1] * (y + 0.5) + m[2];
      const double yin = m[3] * (x + 0.5) + m[4] * (y + 0.5) + m[5];
      for (int64_t c = 0; c < in.c; ++c) {
        if (xin < 0 || xin >= in.w || yin < 0 || yin >= in.h) {
          out.at(c, y, x) = 128;
        } else if (!bicubic) {
          out.at(c, y, x) = in.at(c, static_cast<int64_t>(yin), static_cast<int64_t>(xin));
        } else {
          const double xs = xin - 0.5, ys = yin - 0.5;
          const auto x0 = static_cast<int64_t>(std::floor(xs)), y0 = static_cast<int64_t>(std::floor(ys));
          const double dx = xs - static_cast<double>(x0), dy = ys - static_cast<double>(y0);
          auto cubic = [](double v1, double v2, double v3, double v4, double d) {
            const double p1 = v2, p2 = -v1 + v3, p3 = 2 * (v1 - v2) + v3 - v4, p4 = -v1 + v2 - v3 + v4;
            return p1 + d * (p2 + d * (p3 + d * p4));
          };
          double row[4];
          for (int j = 0; j < 4; ++j) {
            const int64_t yy = clampi(y0 - 1 + j, in.h);
            double v[4];
            for (int i = 0; i < 4; ++i) v[i] = in.at(c, yy, clampi(x0 - 1 + i, in.w));
            row[j] = cubic(v[0], v[1], v[2], v[3], dx);
          }
          out.at(c, y, x) = truncate8(cubic(row[0], row[1], row[2], row[3], dy));
        }
      }
    }
  }
  return out;
}

Image reference(Op op, const Image& in, double v) {
  Image out = in;
  switch (op) {
    case Op::kShearX: { const double m[6] = {1, v, 0, 0, 1, 0}; return affine(in, m, true); }
    case Op::kShearY: { const double m[6] = {1, 0, 0, v, 1, 0}; return affine(in, m, true); }
    case Op::kTranslateX: { const double m[6] = {1, 0, v, 0, 1, 0}; return affine(in, m, false); }
    case Op::kTranslateY: { const double m[6] = {1, 0, 0, 0, 1, v}; return affine(in, m, false); }
    case Op::kRotate: {
      const double a = -v * M_PI / 180, cx = in.w / 2.0, cy = in.h / 2.0;
      double m[6] = {std::cos(a), std::sin(a), 0, -std::sin(a), std::cos(a), 0};
      m[2] = m[0] * -cx + m[1] * -cy + cx;
      m[5] = m[3] * -cx + m[4] * -cy + cy;
      return affine(in, m, false);
    }
    case Op::kColor: {
      Image degenerate = in;
      const std::vector<int> l = luminance(in);
      for (int64_t c = 0; c < in.c; ++c)
        for (int64_t i = 0; i < in.h * in.w; ++i) degenerate.px[static_cast<size_t>(c * in.h * in.w + i)] = l[static_cast<size_t>(i)];
      return blend(degenerate, in, v);
    }
    case Op::kContrast: {
      const std::vector<int> l = luminance(in);
      double sum = 0;
      for (int value : l) sum += value;
      Image degenerate = in;
      std::fill(degenerate.px.begin(), degenerate.px.end(), static_cast<int>(sum / static_cast<double>(l.size()) + 0.5));
      return blend(degenerate, in, v);
    }
    case Op::kSharpness: {
      Image degenerate = in;
      for (int64_t c = 0; c < in.c; ++c)
        for (int64_t y = 1; y + 1 < in.h; ++y)
          for (int64_t x = 1; x + 1 < in.w; ++x) {
            float ss = 0;
            for (int dy = -1; dy <= 1; ++dy)
              for (int dx = -1; dx <= 1; ++dx) ss += static_cast<float>(in.at(c, y + dy, x + dx)) * ((dx == 0 && dy == 0 ? 5.0f : 1.0f) / 13.0f);
            degenerate.at(c, y, x) = truncate8(ss + 0.5f);
          }
      return blend(degenerate, in, v);
    }
    case Op::kBrightness: {
      Image black = in;
      std::fill(black.px.begin(), black.px.end(), 0);
      return blend(black, in, v);
    }
    case Op::kPosterize: {
      const int mask = ~((1 << (8 - static_cast<int>(v))) - 1) & 0xff;
      for (int& p : out.px) p &= mask;
      return out;
    }
    case Op::kSolarize:
      for (int& p : out.px) p = p < v ? p : 255 - p;
      return out;
    case Op::kInvert:
      for (int& p : out.px) p = 255 - p;
      return out;
    case Op::kAutoContrast:
      for (int64_t c = 0; c < in.c; ++c) {
        int lo = 255, hi = 0;
        for (int64_t i = 0; i < in.h * in.w; ++i) lo = std::min(lo, in.px[static_cast<size_t>(c * in.h * in.w + i)]), hi = std::max(hi, in.px[static_cast<size_t>(c * in.h * in.w + i)]);
        if (hi <= lo) continue;
        const double scale = 255.0 / (hi - lo), offset = -lo * scale;
        for (int64_t i = 0; i < in.h * in.w; ++i) {
          int& p = out.px[static_cast<size_t>(c * in.h * in.w + i)];
          p = std::min(255, std::max(0, static_cast<int>(p * scale + offset)));
        }
      }
      return out;
    case Op::kEqualize:
      for (int64_t c = 0; c < in.c; ++c) {
        std::vector<int64_t> hist(256, 0);
        for (int64_t i = 0; i < in.h * in.w; ++i) ++hist[static_cast<size_t>(in.px[static_cast<size_t>(c * in.h * in.w + i)])];
        std::vector<int64_t> present;
        for (int64_t count : hist) if (count != 0) present.push_back(count);
        if (present.size() <= 1) continue;
        int64_t total = 0;
        for (int64_t count : present) total += count;
        const int64_t step = (total - present.back()) / 256;
        if (step == 0) continue;
        std::vector<int64_t> lut;
        int64_t n = step / 2;
        for (int i = 0; i < 256; ++i) {
          lut.push_back(std::min<int64_t>(n / step, 255));
          n += hist[static_cast<size_t>(i)];
        }
        for (int64_t i = 0; i < in.h * in.w; ++i) {
          int& p = out.px[static_cast<size_t>(c * in.h * in.w + i)];
          p = static_cast<int>(lut[static_cast<size_t>(p)]);
        }
      }
      return out;
  }
  return out;
}

// Random images: half full range, half squeezed into [60, 180) so autocontrast and equalize have work.
torch::Tensor test_images(int64_t n, int64_t c, int64_t h, int64_t w) {
  at::Generator generator = at::detail::createCPUGenerator(99);
  torch::Tensor images = torch::randint(0, 256, {n, c, h, w}, generator, torch::kFloat32);
  images.slice(0, n / 2) = torch::randint(60, 180, {n - n / 2, c, h, w}, generator, torch::kFloat32);
  return images;
}

void expect_matches(Op op, const std::vector<double>& values, int64_t channels, int64_t side, int tolerance) {
  SCOPED_TRACE(autoaugment_op_name(op) + " " + std::to_string(channels) + "x" + std::to_string(side));
  const auto n = static_cast<int64_t>(values.size());
  const torch::Tensor images = test_images(n, channels, side, side);
  const torch::Tensor out = apply_autoaugment_op(op, images, torch::tensor(values, torch::kFloat64));
  ASSERT_EQ(out.sizes(), images.sizes());
  EXPECT_TRUE(torch::equal(out, out.floor())) << "values must stay integral";
  for (int64_t i = 0; i < n; ++i) {
    const torch::Tensor expected = to_tensor(reference(op, to_image(images[i]), values[static_cast<size_t>(i)]));
    const torch::Tensor diff = (out[i] - expected).abs();
    EXPECT_LE(diff.max().item<float>(), static_cast<float>(tolerance)) << "image " << i << " value " << values[static_cast<size_t>(i)];
    // Float summation order may move a value across a rounding boundary, but only rarely.
    EXPECT_LE((diff > 0).sum().item<int64_t>(), channels * side * side / 100) << "image " << i;
  }
}

TEST(AutoAugmentTest, GeometricOpsMatchPerPixelReference) {
  expect_matches(Op::kShearX, {0.3, -0.3, 0.1, -0.0667}, 3, 32, 1);
  expect_matches(Op::kShearY, {0.2667, -0.2, 0.0333, -0.3}, 3, 32, 1);
  expect_matches(Op::kTranslateX, {14.5, -14.5, 3.2, -9.7}, 3, 32, 0);
  expect_matches(Op::kTranslateY, {14.5, -4.8, 0.0, -14.5}, 3, 32, 0);
  expect_matches(Op::kRotate, {6.667, 30.0, 13.3, 0.0}, 3, 32, 0);
  expect_matches(Op::kRotate, {6.667, 20.0}, 1, 28, 0);
}

TEST(AutoAugmentTest, ColourOpsMatchPerPixelReference) {
  expect_matches(Op::kColor, {1.3, 0.7, 1.9, 0.1}, 3, 32, 0);
  expect_matches(Op::kContrast, {1.6, 0.4, 1.0, 0.1}, 3, 32, 0);
  expect_matches(Op::kSharpness, {1.9, 0.1, 1.5, 0.5}, 3, 32, 1);
  expect_matches(Op::kBrightness, {1.7, 0.3, 1.9, 0.6}, 3, 32, 0);
  expect_matches(Op::kPosterize, {8, 7, 5, 4}, 3, 32, 0);
  expect_matches(Op::kSolarize, {256, 199.1, 0, 128}, 3, 32, 0);
  expect_matches(Op::kAutoContrast, {0, 0, 0, 0}, 3, 32, 0);
  expect_matches(Op::kEqualize, {0, 0, 0, 0}, 3, 32, 0);
  expect_matches(Op::kInvert, {0, 0}, 3, 32, 0);
  expect_matches(Op::kContrast, {1.6, 0.4}, 1, 28, 0);
  expect_matches(Op::kEqualize, {0, 0}, 1, 28, 0);
}

TEST(AutoAugmentTest, PolicyTableAndMagnitudesFollowTheFacts) {
  const auto& policy = cifar10_policy();
  EXPECT_EQ(policy[0].op1, Op::kInvert);
  EXPECT_EQ(policy[24].op2, Op::kAutoContrast);
  EXPECT_DOUBLE_EQ(policy[14].p2, 0.0);
  EXPECT_DOUBLE_EQ(autoaugment_magnitude(Op::kShearX, 9, 32), 0.3);
  EXPECT_NEAR(autoaugment_magnitude(Op::kTranslateY, 9, 32), 150.0 / 331.0 * 32, 1e-12);
  EXPECT_DOUBLE_EQ(autoaugment_magnitude(Op::kRotate, 2, 32), 30.0 * 2 / 9);
  EXPECT_DOUBLE_EQ(autoaugment_magnitude(Op::kPosterize, 7, 32), 5);
  EXPECT_DOUBLE_EQ(autoaugment_magnitude(Op::kPosterize, 2, 32), 7);
  EXPECT_DOUBLE_EQ(autoaugment_magnitude(Op::kSolarize, 0, 32), 256);
  EXPECT_FALSE(autoaugment_random_sign(Op::kRotate));
  EXPECT_TRUE(autoaugment_random_sign(Op::kBrightness));
}

TEST(AutoAugmentTest, PolicyAppliesEachImagesOwnDrawnOps) {
  const int64_t n = 64;
  const torch::Tensor images = test_images(n, 3, 32, 32);
  at::Generator generator = at::detail::createCPUGenerator(21);
  const AutoAugmentParams params = draw_autoaugment(n, generator);
  const torch::Tensor out = apply_autoaugment(images, params);
  const auto& policy = cifar10_policy();
  for (int64_t i = 0; i < n; ++i) {
    const SubPolicy& sub = policy[static_cast<size_t>(params.sub_policy[i].item<int64_t>())];
    torch::Tensor expected = images.slice(0, i, i + 1);
    for (int slot = 0; slot < 2; ++slot) {
      if (!(slot == 0 ? params.apply1 : params.apply2)[i].item<bool>()) continue;
      const Op op = slot == 0 ? sub.op1 : sub.op2;
      double value = autoaugment_magnitude(op, slot == 0 ? sub.m1 : sub.m2, 32);
      if (autoaugment_random_sign(op)) value *= (slot == 0 ? params.sign1 : params.sign2)[i].item<double>();
      if (op == Op::kColor || op == Op::kContrast || op == Op::kSharpness || op == Op::kBrightness) value += 1;
      expected = apply_autoaugment_op(op, expected, torch::tensor({value}, torch::kFloat64));
    }
    EXPECT_TRUE(torch::equal(out.slice(0, i, i + 1), expected)) << "image " << i;
  }
}

}  // namespace
}  // namespace isda::data
