#pragma once
// PyramidNet with ShakeDrop for CIFAR (Han et al. 2017; Yamada et al. 2019), as in the code behind
// the published numbers (dyhan0920/PyramidNet-PyTorch, with ShakeDrop): a 3x3 stem of 16 channels
// + BN, (d - 2) / 9 bottleneck blocks per stage (BN-conv1x1-BN-ReLU-conv3x3-BN-ReLU-conv1x1-BN) whose
// width grows additively by alpha / (number of blocks) per block, output 4x the width, ShakeDrop on
// the residual branch with drop probability rising linearly to 0.5 at the last block, shortcuts
// that average-pool (stride 2) and zero-pad the new channels, final BN-ReLU, global average pooling.
// PyramidNet-272 (alpha 200): 26.0M parameters, feature dimension 4 (16 + alpha) = 864.

#include "models/batch_norm.h"
#include "models/classifier.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace isda::models {

// ShakeDrop on a residual branch x (N, ...). In training each sample draws a gate b ~ Bernoulli(1 -
// p_drop), alpha ~ U[-1, 1] and an independent beta ~ U[0, 1]; the forward pass returns
// (b + alpha - b alpha) x and the backward pass scales the gradient by (b + beta - b beta) instead.
// In evaluation it returns the expectation (1 - p_drop) x. Throws std::invalid_argument unless
// 0 <= p_drop <= 1. (The reference draws one gate per batch; the ShakeDrop paper's image-level
// variant, used here, draws one per sample.)
torch::Tensor shake_drop(const torch::Tensor& x, double p_drop, bool training);

class PyramidNet : public Classifier {
 public:
  // depth = 9n + 2 (bottleneck blocks), alpha > 0 the total widening, final_drop the ShakeDrop
  // probability of the last block. Throws std::invalid_argument otherwise.
  PyramidNet(int64_t depth, int64_t alpha, int64_t in_channels, int64_t num_classes, double final_drop = 0.5);

  torch::Tensor compute_features(const torch::Tensor& images) override;

 private:
  torch::nn::Conv2d stem_{nullptr};
  BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential stages_{nullptr};
  BatchNorm2d final_bn_{nullptr};
};

}  // namespace isda::models
