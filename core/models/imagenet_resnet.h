#pragma once
// The ImageNet ResNets (He et al. 2016) and ResNeXts (Xie et al. 2017) as torchvision builds them
// (the code behind the paper's ImageNet numbers): a 7x7 stride-2 stem of 64 channels and 3x3
// max-pool, four stages of bottleneck blocks (1x1, 3x3 with the stride and the groups, 1x1 expand
// by 4) with 1x1 conv + BN projection shortcuts, global average pooling; feature dimension 2048.
// ResNet-50 [3,4,6,3] 25.6M, ResNet-152 [3,8,36,3] 60.2M, ResNeXt-50 32x4d 25.0M parameters.

#include "models/batch_norm.h"
#include "models/classifier.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <vector>

namespace isda::models {

class ImageNetResNet : public Classifier {
 public:
  // blocks: bottleneck blocks per stage (4 stages); groups and width_per_group as torchvision
  // (1 and 64 for ResNet, 32 and 4 for ResNeXt-50 32x4d). Throws std::invalid_argument.
  ImageNetResNet(std::vector<int64_t> blocks, int64_t groups, int64_t width_per_group, int64_t in_channels,
                 int64_t num_classes);

  torch::Tensor compute_features(const torch::Tensor& images) override;

  // The bottleneck blocks of each of the four stages; `stages.K` counts them across the stages.
  const std::vector<int64_t>& stage_blocks() const { return stage_blocks_; }

 private:
  std::vector<int64_t> stage_blocks_;
  torch::nn::Conv2d stem_{nullptr};
  BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential stages_{nullptr};
};

}  // namespace isda::models
