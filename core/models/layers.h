#pragma once
// Building blocks and initialisation shared by the networks of the zoo (internal to core/models).

#include <torch/nn/module.h>
#include <torch/nn/modules/conv.h>

namespace isda::models {

// A bias-free convolution with "same" padding (kernel / 2), as every network of the zoo uses.
torch::nn::Conv2d conv2d(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1);

// The initialisation of the reference implementations: He normal (fan_out, ReLU gain) for every
// convolution, BatchNorm weight 1 and bias 0, Linear bias 0 (Linear weight keeps PyTorch's default).
void init_like_reference(torch::nn::Module& model);

// Number of scalar parameters (trainable or not) of `model` and its children.
int64_t parameter_count(const torch::nn::Module& model);

}  // namespace isda::models
