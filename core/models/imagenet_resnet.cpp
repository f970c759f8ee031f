#include "models/imagenet_resnet.h"

#include "models/layers.h"

#include <torch/torch.h>

#include <stdexcept>

namespace isda::models {
namespace {

constexpr int64_t kExpansion = 4;

// torchvision's Bottleneck (ResNet v1.5: the stride is on the 3x3 convolution).
class BottleneckImpl : public torch::nn::Module {
 public:
  BottleneckImpl(int64_t in, int64_t planes, int64_t stride, int64_t groups, int64_t width)
      : conv1_(register_module("conv1", conv2d(in, width, 1))),
        bn1_(register_module("bn1", BatchNorm2d(width))),
        conv2_(register_module("conv2", conv2d(width, width, 3, stride, groups))),
        bn2_(register_module("bn2", BatchNorm2d(width))),
        conv3_(register_module("conv3", conv2d(width, planes * kExpansion, 1))),
        bn3_(register_module("bn3", BatchNorm2d(planes * kExpansion))) {
    if (stride != 1 || in != planes * kExpansion) {
      shortcut_ = register_module("downsample", torch::nn::Sequential(conv2d(in, planes * kExpansion, 1, stride),
                                                                      BatchNorm2d(planes * kExpansion)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = torch::relu(bn1_->forward(conv1_->forward(x)));
    y = torch::relu(bn2_->forward(conv2_->forward(y)));
    y = bn3_->forward(conv3_->forward(y));
    return torch::relu(y + (shortcut_ ? shortcut_->forward(x) : x));
  }

 private:
  torch::nn::Conv2d conv1_;
  BatchNorm2d bn1_;
  torch::nn::Conv2d conv2_;
  BatchNorm2d bn2_;
  torch::nn::Conv2d conv3_;
  BatchNorm2d bn3_;
  torch::nn::Sequential shortcut_{nullptr};
};
TORCH_MODULE(Bottleneck);

}  // namespace

ImageNetResNet::ImageNetResNet(std::vector<int64_t> blocks, int64_t groups, int64_t width_per_group,
                               int64_t in_channels, int64_t num_classes) {
  if (blocks.size() != 4) throw std::invalid_argument("an ImageNet ResNet has 4 stages");
  for (const auto b : blocks) {
    if (b < 1) throw std::invalid_argument("every ImageNet ResNet stage needs at least one block");
  }
  if (groups < 1 || width_per_group < 1) throw std::invalid_argument("ResNet groups and width must be >= 1");
  stage_blocks_ = blocks;
  stem_ = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(in_channels, 64, 7)
                                                         .stride(2).padding(3).bias(false)));
  stem_bn_ = register_module("bn1", BatchNorm2d(64));
  stages_ = register_module("stages", torch::nn::Sequential());
  int64_t channels = 64;
  for (size_t stage = 0; stage < 4; ++stage) {
    const int64_t planes = int64_t{64} << stage;
    const int64_t width = planes * width_per_group / 64 * groups;
    for (int64_t b = 0; b < blocks[stage]; ++b) {
      const int64_t stride = (b == 0 && stage > 0) ? 2 : 1;
      stages_->push_back(Bottleneck(channels, planes, stride, groups, width));
      channels = planes * kExpansion;
    }
  }
  register_head(channels, num_classes);
  init_like_reference(*this);
}

torch::Tensor ImageNetResNet::compute_features(const torch::Tensor& images) {
  auto x = torch::relu(stem_bn_->forward(stem_->forward(images)));
  x = torch::max_pool2d(x, 3, 2, 1);
  x = stages_->forward(x);
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

}  // namespace isda::models
