#pragma once
// The CIFAR ResNets of He et al. (2016) as the ISDA authors ran them: a 3x3 stem of 16 channels,
// three stages of 16/32/64 channels with n basic blocks each (depth 6n + 2), 1x1 conv + BN
// projection shortcuts where the shape changes, global average pooling; feature dimension 64.
// With se_reduction > 0 each block is an SE-ResNet block (Hu et al. 2018): a squeeze-and-excitation
// gate (two bias-free linear layers, C -> C / r -> C) rescales the residual branch before the add.
// Works on any input size and channel count (28x28x1 for Fashion-MNIST, 32x32x3 for CIFAR).

#include "models/batch_norm.h"
#include "models/classifier.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace isda::models {

class CifarResNet : public Classifier {
 public:
  // depth = 6n + 2 (8, 20, 32, 44, 56, 110, ...); se_reduction 0 (plain) or the SE reduction r.
  // Throws std::invalid_argument otherwise.
  CifarResNet(int64_t depth, int64_t in_channels, int64_t num_classes, int64_t se_reduction = 0);

  torch::Tensor compute_features(const torch::Tensor& images) override;

  // n: the blocks of each of the three stages; `stages.K` is block K % n of stage K / n.
  int64_t blocks_per_stage() const { return blocks_per_stage_; }
  int64_t se_reduction() const { return se_reduction_; }

 private:
  int64_t blocks_per_stage_ = 0;
  int64_t se_reduction_ = 0;
  torch::nn::Conv2d stem_{nullptr};
  BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential stages_{nullptr};
};

}  // namespace isda::models
