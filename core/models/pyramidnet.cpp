#include "models/pyramidnet.h"

#include "models/layers.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace isda::models {
namespace {

constexpr int64_t kExpansion = 4;

// Forward with (b + alpha - b alpha), backward with (b + beta - b beta); coefficients are constants.
class ShakeDropFunction : public torch::autograd::Function<ShakeDropFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const torch::Tensor& forward_scale, const torch::Tensor& backward_scale) {
    ctx->save_for_backward({backward_scale});
    return forward_scale * x;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto backward_scale = ctx->get_saved_variables()[0];
    return {grad_outputs[0] * backward_scale, torch::Tensor(), torch::Tensor()};
  }
};

class PyramidBottleneckImpl : public torch::nn::Module {
 public:
  PyramidBottleneckImpl(int64_t in, int64_t planes, int64_t stride, double p_drop)
      : bn1_(register_module("bn1", BatchNorm2d(in))),
        conv1_(register_module("conv1", conv2d(in, planes, 1))),
        bn2_(register_module("bn2", BatchNorm2d(planes))),
        conv2_(register_module("conv2", conv2d(planes, planes, 3, stride))),
        bn3_(register_module("bn3", BatchNorm2d(planes))),
        conv3_(register_module("conv3", conv2d(planes, planes * kExpansion, 1))),
        bn4_(register_module("bn4", BatchNorm2d(planes * kExpansion))),
        stride_(stride),
        p_drop_(p_drop) {}

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = conv1_->forward(bn1_->forward(x));
    y = conv2_->forward(torch::relu(bn2_->forward(y)));
    y = conv3_->forward(torch::relu(bn3_->forward(y)));
    y = shake_drop(bn4_->forward(y), p_drop_, is_training());
    auto shortcut = stride_ == 1 ? x : torch::avg_pool2d(x, 2, 2, 0, /*ceil_mode=*/true);
    const int64_t missing = y.size(1) - shortcut.size(1);
    if (missing > 0) {
      shortcut = torch::cat({shortcut, torch::zeros({shortcut.size(0), missing, shortcut.size(2), shortcut.size(3)},
                                                    shortcut.options())},
                            1);
    }
    return y + shortcut;
  }

 private:
  BatchNorm2d bn1_;
  torch::nn::Conv2d conv1_;
  BatchNorm2d bn2_;
  torch::nn::Conv2d conv2_;
  BatchNorm2d bn3_;
  torch::nn::Conv2d conv3_;
  BatchNorm2d bn4_;
  int64_t stride_;
  double p_drop_;
};
TORCH_MODULE(PyramidBottleneck);

}  // namespace

torch::Tensor shake_drop(const torch::Tensor& x, double p_drop, bool training) {
  if (!(p_drop >= 0 && p_drop <= 1)) throw std::invalid_argument("ShakeDrop probability must be in [0, 1]");
  if (!training) return (1 - p_drop) * x;
  std::vector<int64_t> shape(static_cast<size_t>(x.dim()), 1);
  shape[0] = x.size(0);
  const auto options = x.options().requires_grad(false);
  const auto gate = torch::bernoulli(torch::full(shape, 1 - p_drop, options));
  const auto alpha = torch::rand(shape, options) * 2 - 1;
  const auto beta = torch::rand(shape, options);
  // b + alpha (1 - b) == b + alpha - b alpha, written so that kept samples get exactly 1.
  return ShakeDropFunction::apply(x, gate + alpha * (1 - gate), gate + beta * (1 - gate));
}

PyramidNet::PyramidNet(int64_t depth, int64_t alpha, int64_t in_channels, int64_t num_classes, double final_drop) {
  if (depth < 11 || (depth - 2) % 9 != 0) {
    throw std::invalid_argument("bottleneck PyramidNet depth must be 9n + 2 with n >= 1, got " + std::to_string(depth));
  }
  if (alpha < 1) throw std::invalid_argument("PyramidNet alpha must be >= 1");
  if (!(final_drop >= 0 && final_drop <= 1)) throw std::invalid_argument("ShakeDrop probability must be in [0, 1]");
  const int64_t blocks = (depth - 2) / 9;
  const double add_rate = static_cast<double>(alpha) / static_cast<double>(3 * blocks);
  stem_ = register_module("conv1", conv2d(in_channels, 16, 3));
  stem_bn_ = register_module("bn1", BatchNorm2d(16));
  stages_ = register_module("stages", torch::nn::Sequential());
  int64_t channels = 16;
  double width = 16;
  int64_t index = 0;
  for (int64_t stage = 0; stage < 3; ++stage) {
    for (int64_t b = 0; b < blocks; ++b) {
      width += add_rate;
      const auto planes = static_cast<int64_t>(std::round(width));
      ++index;
      const double p_drop = final_drop * static_cast<double>(index) / static_cast<double>(3 * blocks);
      stages_->push_back(PyramidBottleneck(channels, planes, (b == 0 && stage > 0) ? 2 : 1, p_drop));
      channels = planes * kExpansion;
    }
  }
  final_bn_ = register_module("bn_final", BatchNorm2d(channels));
  register_head(channels, num_classes);
  init_like_reference(*this);
}

torch::Tensor PyramidNet::compute_features(const torch::Tensor& images) {
  auto x = stem_bn_->forward(stem_->forward(images));
  x = torch::relu(final_bn_->forward(stages_->forward(x)));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

}  // namespace isda::models
