#include "naive_isda.h"

#include <torch/torch.h>

namespace isda::bench {

NaiveIsdaHead::NaiveIsdaHead(int64_t num_classes, int64_t feature_dim, torch::Device device)
    : classes_(num_classes), dim_(feature_dim) {
  const auto options = torch::TensorOptions().device(device);
  covariance_ = torch::zeros({num_classes, feature_dim, feature_dim}, options);
  mean_ = torch::zeros({num_classes, feature_dim}, options);
  amount_ = torch::zeros({num_classes}, options);
}

void NaiveIsdaHead::update(const torch::Tensor& features_in, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  const auto features = features_in.detach();
  const int64_t n = features.size(0);
  const int64_t c = classes_;
  const int64_t a = dim_;
  const auto onehot = torch::zeros({n, c}, features.options()).scatter_(1, labels.view({n, 1}), 1.0);
  const auto onehot_nca = onehot.view({n, c, 1}).expand({n, c, a});
  const auto by_class = features.view({n, 1, a}).expand({n, c, a}) * onehot_nca;  // (N, C, A)
  auto amount_ca = onehot_nca.sum(0);
  amount_ca.masked_fill_(amount_ca == 0, 1.0);
  const auto batch_mean = by_class.sum(0) / amount_ca;
  auto centered = by_class - batch_mean.expand({n, c, a}) * onehot_nca;
  const auto batch_cov =
      torch::bmm(centered.permute({1, 2, 0}), centered.permute({1, 0, 2})) / amount_ca.view({c, a, 1}).expand({c, a, a});
  const auto batch_count = onehot.sum(0);
  auto weight_cov = batch_count.view({c, 1, 1}).expand({c, a, a}) /
                    (batch_count.view({c, 1, 1}).expand({c, a, a}) + amount_.view({c, 1, 1}).expand({c, a, a}));
  weight_cov = weight_cov.masked_fill(weight_cov.isnan(), 0.0);
  auto weight_mean = batch_count.view({c, 1}).expand({c, a}) /
                     (batch_count.view({c, 1}).expand({c, a}) + amount_.view({c, 1}).expand({c, a}));
  weight_mean = weight_mean.masked_fill(weight_mean.isnan(), 0.0);
  const auto delta = mean_ - batch_mean;
  const auto additional = weight_cov * (1 - weight_cov) * torch::bmm(delta.view({c, a, 1}), delta.view({c, 1, a}));
  covariance_ = covariance_ * (1 - weight_cov) + batch_cov * weight_cov + additional;
  mean_ = mean_ * (1 - weight_mean) + batch_mean * weight_mean;
  amount_ += batch_count;
}

torch::Tensor NaiveIsdaHead::loss(const torch::Tensor& features, const torch::Tensor& weight, const torch::Tensor& bias,
                                  const torch::Tensor& labels, double lambda) {
  update(features, labels);
  const int64_t n = features.size(0);
  const int64_t c = classes_;
  const int64_t a = dim_;
  const auto logits = torch::nn::functional::linear(features, weight, bias);
  const auto w_all = weight.expand({n, c, a});
  const auto w_own = torch::gather(w_all, 1, labels.view({n, 1, 1}).expand({n, c, a}));
  const auto cov = covariance_.index_select(0, labels);  // (N, A, A)
  const auto diff = w_all - w_own;
  auto sigma2 = lambda * torch::bmm(torch::bmm(diff, cov), diff.permute({0, 2, 1}));  // (N, C, C)
  sigma2 = (sigma2 * torch::eye(c, features.options()).expand({n, c, c})).sum(2).view({n, c});
  return torch::nn::functional::cross_entropy(logits + 0.5 * sigma2, labels);
}

}  // namespace isda::bench
