#pragma once
// ResNeXt for CIFAR (Xie et al. 2017), ResNeXt-d (c x wd), as in the CIFAR code the ISDA authors
// ran (prlz77/ResNeXt.pytorch): a 3x3 stem of 64 channels, three stages of 256/512/1024 output
// channels with (d - 2) / 9 bottleneck blocks each (1x1 reduce to D, grouped 3x3 with c groups,
// 1x1 expand; D = c * w * 2^stage), 1x1 conv + BN shortcuts where the shape changes, global average
// pooling. ResNeXt-29 8x64d: 34.4M parameters, feature dimension 1024.

#include "models/batch_norm.h"
#include "models/classifier.h"

#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

namespace isda::models {

class CifarResNeXt : public Classifier {
 public:
  // depth = 9n + 2, cardinality c >= 1, base_width w >= 1. Throws std::invalid_argument otherwise.
  CifarResNeXt(int64_t depth, int64_t cardinality, int64_t base_width, int64_t in_channels, int64_t num_classes);

  torch::Tensor compute_features(const torch::Tensor& images) override;

 private:
  torch::nn::Conv2d stem_{nullptr};
  BatchNorm2d stem_bn_{nullptr};
  torch::nn::Sequential stages_{nullptr};
};

}  // namespace isda::models
