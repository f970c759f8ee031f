#pragma once
// Shake-Shake regularised ResNets for CIFAR (Gastaldi 2017), Shake-Shake-d 2xwd, as in the code
// the ISDA authors ran (hysts/pytorch_shake_shake): a 3x3 stem of 16 channels + BN + ReLU, three stages of
// w/2w/4w channels with (d - 2) / 6 blocks each, every block two residual branches
// ReLU-conv3x3-BN-ReLU-conv3x3-BN mixed by shake_shake_combine, the two-path average-pool + 1x1 conv
// shortcut (+ BN) where the shape changes, final ReLU and global average pooling ("Shake-Shake-Image":
// one coefficient per sample). 26 2x32d: 2.9M parameters, feature 128; 26 2x112d: 36M, feature 448.

#include "models/batch_norm.h"
#include "models/classifier.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace isda::models {

// alpha x1 + (1 - alpha) x2. In training each sample draws alpha ~ U[0, 1] for the forward pass
// and an independent beta ~ U[0, 1] that replaces alpha in the backward pass (gradients beta g and
// (1 - beta) g). In evaluation alpha = beta = 0.5 exactly. x1 and x2: (N, ...) of the same shape.
torch::Tensor shake_shake_combine(const torch::Tensor& x1, const torch::Tensor& x2, bool training);

class ShakeShakeResNet : public Classifier {
 public:
  // depth = 6n + 2, base_width w >= 1. Throws std::invalid_argument otherwise.
  ShakeShakeResNet(int64_t depth, int64_t base_width, int64_t in_channels, int64_t num_classes);

  torch::Tensor compute_features(const torch::Tensor& images) override;

 private:
  torch::nn::Conv2d stem_{nullptr};
  BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential stages_{nullptr};
};

}  // namespace isda::models
