#include "models/resnext.h"

#include "models/layers.h"

#include <torch/torch.h>

#include <stdexcept>

namespace isda::models {
namespace {

class ResNeXtBlockImpl : public torch::nn::Module {
 public:
  ResNeXtBlockImpl(int64_t in, int64_t out, int64_t stride, int64_t cardinality, int64_t inner)
      : reduce_(register_module("conv_reduce", conv2d(in, inner, 1))),
        bn_reduce_(register_module("bn_reduce", BatchNorm2d(inner))),
        grouped_(register_module("conv_conv", conv2d(inner, inner, 3, stride, cardinality))),
        bn_(register_module("bn", BatchNorm2d(inner))),
        expand_(register_module("conv_expand", conv2d(inner, out, 1))),
        bn_expand_(register_module("bn_expand", BatchNorm2d(out))) {
    if (stride != 1 || in != out) {
      shortcut_ = register_module(
          "shortcut", torch::nn::Sequential(conv2d(in, out, 1, stride), BatchNorm2d(out)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn_reduce_->forward(reduce_->forward(x)));
    y = torch::relu(bn_->forward(grouped_->forward(y)));
    y = bn_expand_->forward(expand_->forward(y));
    return torch::relu(y + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d reduce_;
  BatchNorm2d bn_reduce_;
  torch::nn::Conv2d grouped_;
  BatchNorm2d bn_;
  torch::nn::Conv2d expand_;
  BatchNorm2d bn_expand_;
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(ResNeXtBlock);

}  // namespace

CifarResNeXt::CifarResNeXt(int64_t depth, int64_t cardinality, int64_t base_width, int64_t in_channels,
                           int64_t num_classes) {
  if (depth < 11 || (depth - 2) % 9 != 0) {
    throw std::invalid_argument("CIFAR ResNeXt depth must be 9n + 2 with n >= 1, got " + std::to_string(depth));
  }
  if (cardinality < 1 || base_width < 1) throw std::invalid_argument("ResNeXt cardinality and width must be >= 1");
  const int64_t blocks = (depth - 2) / 9;
  stem_ = register_module("conv1", conv2d(in_channels, 64, 3, 1));
  stem_bn_ = register_module("bn1", BatchNorm2d(64));
  stages_ = register_module("stages", torch::nn::Sequential());
  int64_t channels = 64;
  int64_t inner = cardinality * base_width;  // D of the first stage; doubles with each stage
  for (const int64_t width : {256, 512, 1024}) {
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t stride = (b == 0 && width != 256) ? 2 : 1;
      stages_->push_back(ResNeXtBlock(channels, width, stride, cardinality, inner));
      channels = width;
    }
    inner *= 2;
  }
  register_head(channels, num_classes);
  init_like_reference(*this);
}

torch::Tensor CifarResNeXt::compute_features(const torch::Tensor& images) {
  auto x = torch::relu(stem_bn_->forward(stem_->forward(images)));
  x = stages_->forward(x);
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

}  // namespace isda::models
