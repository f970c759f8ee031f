#include "models/cifar_resnet.h"

#include "models/layers.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>

namespace isda::models {
namespace {

// Squeeze-and-excitation: x * sigmoid(W2 relu(W1 avgpool(x))), bias-free as in the SE-ResNet
// CIFAR code the authors used (moskomule/senet.pytorch).
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t reduction)
      : fc1_(register_module("fc1", torch::nn::Linear(torch::nn::LinearOptions(
                                        channels, std::max<int64_t>(1, channels / reduction)).bias(false)))),
        fc2_(register_module("fc2", torch::nn::Linear(torch::nn::LinearOptions(
                                        std::max<int64_t>(1, channels / reduction), channels).bias(false)))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    auto s = torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
    s = torch::sigmoid(fc2_->forward(torch::relu(fc1_->forward(s))));
    return x * s.view({x.size(0), x.size(1), 1, 1});
  }

 private:
  torch::nn::Linear fc1_;
  torch::nn::Linear fc2_;
};
TORCH_MODULE(SqueezeExcitation);

class BasicBlockImpl : public torch::nn::Module {
 public:
  BasicBlockImpl(int64_t in, int64_t out, int64_t stride, int64_t se_reduction)
      : conv1_(register_module("conv1", conv2d(in, out, 3, stride))),
        bn1_(register_module("bn1", BatchNorm2d(out))),
        conv2_(register_module("conv2", conv2d(out, out, 3, 1))),
        bn2_(register_module("bn2", BatchNorm2d(out))) {
    if (se_reduction > 0) se_ = register_module("se", SqueezeExcitation(out, se_reduction));
    if (stride != 1 || in != out) {
      shortcut_ = register_module(
          "shortcut", torch::nn::Sequential(conv2d(in, out, 1, stride), BatchNorm2d(out)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1_->forward(conv1_->forward(x)));
    y = bn2_->forward(conv2_->forward(y));
    if (se_) y = se_->forward(y);
    return torch::relu(y + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d conv1_;
  BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  BatchNorm2d bn2_;
  SqueezeExcitation se_{nullptr};
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(BasicBlock);

}  // namespace

CifarResNet::CifarResNet(int64_t depth, int64_t in_channels, int64_t num_classes, int64_t se_reduction) {
  if (depth < 8 || (depth - 2) % 6 != 0) {
    throw std::invalid_argument("CIFAR ResNet depth must be 6n + 2 with n >= 1, got " + std::to_string(depth));
  }
  if (se_reduction < 0) throw std::invalid_argument("SE reduction must be >= 0, got " + std::to_string(se_reduction));
  const int64_t blocks = (depth - 2) / 6;
  blocks_per_stage_ = blocks;
  se_reduction_ = se_reduction;
  stem_ = register_module("conv1", conv2d(in_channels, 16, 3, 1));
  stem_bn_ = register_module("bn1", BatchNorm2d(16));
  stages_ = register_module("stages", torch::nn::Sequential());
  int64_t channels = 16;
  for (const int64_t width : {16, 32, 64}) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t stride = (b == 0 && width != 16) ? 2 : 1;
      stages_->push_back(BasicBlock(channels, width, stride, se_reduction));
      channels = width;
    }
  }
  register_head(channels, num_classes);
  init_like_reference(*this);
}

torch::Tensor CifarResNet::compute_features(const torch::Tensor& images) {
  auto x = torch::relu(stem_bn_->forward(stem_->forward(images)));
  x = stages_->forward(x);
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

}  // namespace isda::models
