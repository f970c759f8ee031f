#pragma once
// Wide Residual Networks (Zagoruyko & Komodakis 2016), WRN-d-k, as in the CIFAR code the ISDA
// authors ran (xternalz/WideResNet-pytorch): pre-activation basic blocks BN-ReLU-conv3x3-
// [dropout]-BN-ReLU-conv3x3, three stages of 16k/32k/64k channels with (d - 4) / 6 blocks each,
// 1x1 conv shortcuts where the shape changes, final BN-ReLU and global average pooling.
// Feature dimension 64k (512 for WRN-16-8, 640 for WRN-28-10).

#include "models/batch_norm.h"
#include "models/classifier.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace isda::models {

class WideResNet : public Classifier {
 public:
  // depth = 6n + 4, widen_factor k >= 1, dropout in [0, 1) between the two convolutions of each
  // block (active in training mode only; the authors used 0.3). Throws std::invalid_argument.
  WideResNet(int64_t depth, int64_t widen_factor, int64_t in_channels, int64_t num_classes, double dropout);

  torch::Tensor compute_features(const torch::Tensor& images) override;

 private:
  torch::nn::Conv2d stem_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  BatchNorm2d final_bn_{nullptr};
};

}  // namespace isda::models
