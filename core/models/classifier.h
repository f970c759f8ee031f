#pragma once
// The interface every network of the suite implements: a feature extractor a = f(x) and a separate
// final linear layer, so that the ISDA head (and the comparison losses) can use both.

#include <torch/nn/functional/dropout.h>
#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace isda::models {

class Classifier : public torch::nn::Module {
 public:
  // Deep features a (N, A) of a batch of images (N, channels, H, W): the network's own features,
  // through the feature dropout when it has one (in training mode only).
  torch::Tensor features(const torch::Tensor& images) {
    auto a = compute_features(images);
    if (feature_dropout_ == 0) return a;
    namespace F = torch::nn::functional;
    return F::dropout(a, F::DropoutFuncOptions().p(feature_dropout_).training(is_training()));
  }

  // The final linear layer: weight (C, A), bias (C).
  torch::nn::Linear& head() { return head_; }
  int64_t feature_dim() const { return head_->options.in_features(); }
  int64_t num_classes() const { return head_->options.out_features(); }

  // Clean logits W a + b (N, C).
  torch::Tensor forward(const torch::Tensor& images) { return head_->forward(features(images)); }

  // Dropout with rate `p` in [0, 1) on the deep features, before the final layer: how the networks
  // without dropout of their own take part in the paper's "+ Dropout" comparisons (Table 3).
  void set_feature_dropout(double p) { feature_dropout_ = p; }
  double feature_dropout() const { return feature_dropout_; }

  // The network's features without the feature dropout.
  virtual torch::Tensor compute_features(const torch::Tensor& images) = 0;

 protected:
  void register_head(int64_t feature_dim, int64_t num_classes) {
    head_ = register_module("fc", torch::nn::Linear(feature_dim, num_classes));
  }

 private:
  torch::nn::Linear head_{nullptr};
  double feature_dropout_ = 0;
};

}  // namespace isda::models
