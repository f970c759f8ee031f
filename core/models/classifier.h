#pragma once
// The interface every network of the suite implements: a feature extractor a = f(x) and a separate
// final linear layer, so that the ISDA head (and the comparison losses) can use both.

#include <torch/nn/module.h>
#include <torch/nn/modules/linear.h>

namespace isda::models {

class Classifier : public torch::nn::Module {
 public:
  // Deep features a (N, A) of a batch of images (N, channels, H, W).
  virtual torch::Tensor features(const torch::Tensor& images) = 0;

  // The final linear layer: weight (C, A), bias (C).
  torch::nn::Linear& head() { return head_; }
  int64_t feature_dim() const { return head_->options.in_features(); }
  int64_t num_classes() const { return head_->options.out_features(); }

  // Clean logits W a + b (N, C).
  torch::Tensor forward(const torch::Tensor& images) { return head_->forward(features(images)); }

 protected:
  void register_head(int64_t feature_dim, int64_t num_classes) {
    head_ = register_module("fc", torch::nn::Linear(feature_dim, num_classes));
  }

 private:
  torch::nn::Linear head_{nullptr};
};

}  // namespace isda::models
