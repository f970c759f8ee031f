#include "models/wide_resnet.h"

#include "models/layers.h"

#include <torch/torch.h>

#include <stdexcept>

namespace isda::models {
namespace {

class WideBlockImpl : public torch::nn::Module {
 public:
  WideBlockImpl(int64_t in, int64_t out, int64_t stride, double dropout)
      : bn1_(register_module("bn1", BatchNorm2d(in))),
        conv1_(register_module("conv1", conv2d(in, out, 3, stride))),
        bn2_(register_module("bn2", BatchNorm2d(out))),
        conv2_(register_module("conv2", conv2d(out, out, 3, 1))),
        dropout_(dropout) {
    if (stride != 1 || in != out) shortcut_ = register_module("shortcut", conv2d(in, out, 1, stride));
  }

  torch::Tensor forward(const torch::Tensor& x) {
    // Where the shape changes, the shortcut sees the pre-activated input (as the reference does).
    const auto activated = torch::relu(bn1_->forward(x));
    auto y = conv1_->forward(activated);
    y = torch::relu(bn2_->forward(y));
    if (dropout_ > 0) y = torch::dropout(y, dropout_, is_training());
    y = conv2_->forward(y);
    return y + (shortcut_ ? shortcut_->forward(activated) : x);
  }

 private:
  BatchNorm2d bn1_;
  torch::nn::Conv2d conv1_;
  BatchNorm2d bn2_;
  torch::nn::Conv2d conv2_;
  torch::nn::Conv2d shortcut_{nullptr};
  double dropout_;
};
TORCH_MODULE(WideBlock);

}  // namespace

WideResNet::WideResNet(int64_t depth, int64_t widen_factor, int64_t in_channels, int64_t num_classes,
                       double dropout) {
  if (depth < 10 || (depth - 4) % 6 != 0) {
    throw std::invalid_argument("Wide-ResNet depth must be 6n + 4 with n >= 1, got " + std::to_string(depth));
  }
  if (widen_factor < 1) throw std::invalid_argument("Wide-ResNet widen factor must be >= 1");
  if (!(dropout >= 0 && dropout < 1)) {
    throw std::invalid_argument("dropout must be in [0, 1), got " + std::to_string(dropout));
  }
  const int64_t blocks = (depth - 4) / 6;
  stem_ = register_module("conv1", conv2d(in_channels, 16, 3, 1));
  stages_ = register_module("stages", torch::nn::Sequential());
  int64_t channels = 16;
  for (const int64_t base : {16, 32, 64}) {
    const int64_t width = base * widen_factor;
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t stride = (b == 0 && base != 16) ? 2 : 1;
      stages_->push_back(WideBlock(channels, width, stride, dropout));
      channels = width;
    }
  }
  final_bn_ = register_module("bn_final", BatchNorm2d(channels));
  register_head(channels, num_classes);
  init_like_reference(*this);
}

torch::Tensor WideResNet::compute_features(const torch::Tensor& images) {
  auto x = stages_->forward(stem_->forward(images));
  x = torch::relu(final_bn_->forward(x));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

}  // namespace isda::models
