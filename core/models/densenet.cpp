#include "models/densenet.h"

#include "models/layers.h"

#include <torch/torch.h>

#include <cmath>
#include <stdexcept>

namespace isda::models {
namespace {

class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t in, int64_t growth_rate)
      : bn1_(register_module("bn1", BatchNorm2d(in))),
        conv1_(register_module("conv1", conv2d(in, 4 * growth_rate, 1))),
        bn2_(register_module("bn2", BatchNorm2d(4 * growth_rate))),
        conv2_(register_module("conv2", conv2d(4 * growth_rate, growth_rate, 3))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    auto y = conv1_->forward(torch::relu(bn1_->forward(x)));
    y = conv2_->forward(torch::relu(bn2_->forward(y)));
    return torch::cat({x, y}, 1);
  }

 private:
  BatchNorm2d bn1_;
  torch::nn::Conv2d conv1_;
  BatchNorm2d bn2_;
  torch::nn::Conv2d conv2_;
};
TORCH_MODULE(DenseLayer);

class TransitionImpl : public torch::nn::Module {
 public:
  TransitionImpl(int64_t in, int64_t out)
      : bn_(register_module("bn", BatchNorm2d(in))), conv_(register_module("conv", conv2d(in, out, 1))) {}

  torch::Tensor forward(const torch::Tensor& x) {
    return torch::avg_pool2d(conv_->forward(torch::relu(bn_->forward(x))), 2);
  }

 private:
  BatchNorm2d bn_;
  torch::nn::Conv2d conv_;
};
TORCH_MODULE(Transition);

}  // namespace

DenseNetBC::DenseNetBC(int64_t depth, int64_t growth_rate, int64_t in_channels, int64_t num_classes,
                       double compression) {
  if (depth < 10 || (depth - 4) % 6 != 0) {
    throw std::invalid_argument("DenseNet-BC depth must be 6n + 4 with n >= 1, got " + std::to_string(depth));
  }
  if (growth_rate < 1) throw std::invalid_argument("DenseNet growth rate must be >= 1");
  if (!(compression > 0 && compression <= 1)) throw std::invalid_argument("DenseNet compression must be in (0, 1]");
  const int64_t layers = (depth - 4) / 6;
  int64_t channels = 2 * growth_rate;
  stem_ = register_module("conv1", conv2d(in_channels, channels, 3));
  blocks_ = register_module("blocks", torch::nn::Sequential());
  for (int block = 0; block < 3; ++block) {
    for (int64_t l = 0; l < layers; ++l) {
      blocks_->push_back(DenseLayer(channels, growth_rate));
      channels += growth_rate;
    }
    if (block < 2) {
      const auto out = static_cast<int64_t>(std::floor(static_cast<double>(channels) * compression));
      blocks_->push_back(Transition(channels, out));
      channels = out;
    }
  }
  final_bn_ = register_module("bn_final", BatchNorm2d(channels));
  register_head(channels, num_classes);
  init_like_reference(*this);
}

torch::Tensor DenseNetBC::compute_features(const torch::Tensor& images) {
  auto x = blocks_->forward(stem_->forward(images));
  x = torch::relu(final_bn_->forward(x));
  return torch::adaptive_avg_pool2d(x, {1, 1}).flatten(1);
}

}  // namespace isda::models
