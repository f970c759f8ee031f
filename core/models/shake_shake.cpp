#include "models/shake_shake.h"

#include "models/layers.h"

#include <torch/torch.h>

#include <stdexcept>

namespace isda::models {
namespace {

// Forward with alpha, backward with beta: the coefficients are inputs without gradients.
class ShakeShakeFunction : public torch::autograd::Function<ShakeShakeFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x1, const torch::Tensor& x2,
                               const torch::Tensor& alpha, const torch::Tensor& beta) {
    ctx->save_for_backward({beta});
    return alpha * x1 + (1 - alpha) * x2;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_outputs) {
    const auto beta = ctx->get_saved_variables()[0];
    const auto& g = grad_outputs[0];
    return {g * beta, g * (1 - beta), torch::Tensor(), torch::Tensor()};
  }
};

class ShakeBranchImpl : public torch::nn::Module {
 public:
  ShakeBranchImpl(int64_t in, int64_t out, int64_t stride)
      : conv1_(register_module("conv1", conv2d(in, out, 3, stride))),
        bn1_(register_module("bn1", BatchNorm2d(out))),
        conv2_(register_module("conv2", conv2d(out, out, 3, 1))),
        bn2_(register_module("bn2", BatchNorm2d(out))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = bn1_->forward(conv1_->forward(torch::relu(x)));
    return bn2_->forward(conv2_->forward(torch::relu(y)));
  }

 private:
  torch::nn::Conv2d conv1_;
  BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  BatchNorm2d bn2_;
};
TORCH_MODULE(ShakeBranch);

// Two paths of ReLU + strided 1x1 average pooling + 1x1 conv to out / 2 channels, the second on the
// input shifted by one pixel, concatenated and batch-normalised.
class ShakeShortcutImpl : public torch::nn::Module {
 public:
  ShakeShortcutImpl(int64_t in, int64_t out, int64_t stride)
      : conv1_(register_module("conv1", conv2d(in, out / 2, 1))),
        conv2_(register_module("conv2", conv2d(in, out - out / 2, 1))),
        bn_(register_module("bn", BatchNorm2d(out))),
        stride_(stride) {}

  torch::Tensor forward(const torch::Tensor& x) {
    const auto activated = torch::relu(x);
    auto y1 = conv1_->forward(torch::avg_pool2d(activated, 1, stride_));
    namespace F = torch::nn::functional;
    const auto shifted = F::pad(activated.narrow(2, 1, x.size(2) - 1).narrow(3, 1, x.size(3) - 1),
                                F::PadFuncOptions({0, 1, 0, 1}));
    auto y2 = conv2_->forward(torch::avg_pool2d(shifted, 1, stride_));
    return bn_->forward(torch::cat({y1, y2}, 1));
  }

 private:
  torch::nn::Conv2d conv1_;
  torch::nn::Conv2d conv2_;
  BatchNorm2d bn_;
  int64_t stride_;
};
TORCH_MODULE(ShakeShortcut);

class ShakeBlockImpl : public torch::nn::Module {
 public:
  ShakeBlockImpl(int64_t in, int64_t out, int64_t stride)
      : branch1_(register_module("branch1", ShakeBranch(in, out, stride))),
        branch2_(register_module("branch2", ShakeBranch(in, out, stride))) {
    if (stride != 1 || in != out) shortcut_ = register_module("shortcut", ShakeShortcut(in, out, stride));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    const auto mixed = shake_shake_combine(branch1_->forward(x), branch2_->forward(x), is_training());
    return mixed + (shortcut_ ? shortcut_->forward(x) : x);
  }

 private:
  ShakeBranch branch1_;
  ShakeBranch branch2_;
  ShakeShortcut shortcut_{nullptr};
};
TORCH_MODULE(ShakeBlock);

}  // namespace

torch::Tensor shake_shake_combine(const torch::Tensor& x1, const torch::Tensor& x2, bool training) {
  if (!training) return 0.5 * (x1 + x2);
  std::vector<int64_t> shape(static_cast<size_t>(x1.dim()), 1);
  shape[0] = x1.size(0);
  const auto alpha = torch::rand(shape, x1.options().requires_grad(false));
  const auto beta = torch::rand(shape, x1.options().requires_grad(false));
  return ShakeShakeFunction::apply(x1, x2, alpha, beta);
}

ShakeShakeResNet::ShakeShakeResNet(int64_t depth, int64_t base_width, int64_t in_channels, int64_t num_classes) {
  if (depth < 8 || (depth - 2) % 6 != 0) {
    throw std::invalid_argument("Shake-Shake depth must be 6n + 2 with n >= 1, got " + std::to_string(depth));
  }
  if (base_width < 1) throw std::invalid_argument("Shake-Shake base width must be >= 1");
  const int64_t blocks = (depth - 2) / 6;
  stem_ = register_module("conv1", conv2d(in_channels, 16, 3));
  stem_bn_ = register_module("bn1", BatchNorm2d(16));
  stages_ = register_module("stages", torch::nn::Sequential());
  int64_t channels = 16;
  for (int64_t stage = 0; stage < 3; ++stage) {
    const int64_t width = base_width << stage;
    for (int64_t b = 0; b < blocks; ++b) {
      stages_->push_back(ShakeBlock(channels, width, (b == 0 && stage > 0) ? 2 : 1));
      channels = width;
    }
  }
  register_head(channels, num_classes);
  init_like_reference(*this);
}

torch::Tensor ShakeShakeResNet::compute_features(const torch::Tensor& images) {
  auto x = torch::relu(stem_bn_->forward(stem_->forward(images)));
  x = torch::relu(stages_->forward(x));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

}  // namespace isda::models
