#pragma once
// DenseNet-BC for CIFAR (Huang et al. 2017), depth L and growth rate k: a 3x3 stem of 2k channels,
// three dense blocks of (L - 4) / 6 bottleneck layers each (BN-ReLU-conv1x1 to 4k, BN-ReLU-conv3x3
// to k, concatenated to the input), transitions BN-ReLU-conv1x1 with compression 0.5 and 2x2
// average pooling, final BN-ReLU and global average pooling.
// DenseNet-BC-100-12: 0.8M parameters, feature dimension 342; DenseNet-BC-190-40: 25.6M, 2190.

#include "models/batch_norm.h"
#include "models/classifier.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace isda::models {

class DenseNetBC : public Classifier {
 public:
  // depth = 6n + 4, growth_rate k >= 1, compression in (0, 1]. Throws std::invalid_argument.
  DenseNetBC(int64_t depth, int64_t growth_rate, int64_t in_channels, int64_t num_classes, double compression = 0.5);

  torch::Tensor compute_features(const torch::Tensor& images) override;

 private:
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::Sequential blocks_{nullptr};
  BatchNorm2d final_bn_{nullptr};
};

}  // namespace isda::models
