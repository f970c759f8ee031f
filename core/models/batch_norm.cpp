#include "models/batch_norm.h"

#include <torch/torch.h>

#include <cstdint>

namespace isda::models {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

const std::vector<int64_t> kReduceDims = {0, 2, 3};

torch::Tensor per_channel(const torch::Tensor& values) { return values.view({1, -1, 1, 1}); }

// y = (x - mean) / sqrt(var + eps) * weight + bias with mean and (biased) var over all ranks'
// batches; returns y and, not differentiable, the mean and the unbiased variance for the running
// statistics. Sums are taken in float64, so E[x^2] - E[x]^2 keeps its digits.
struct SyncBatchNormFunction : public torch::autograd::Function<SyncBatchNormFunction> {
  static variable_list forward(AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& weight,
                               const torch::Tensor& bias, double eps, int64_t reducer_address) {
    auto* reducer = reinterpret_cast<BatchStatisticsReducer*>(static_cast<intptr_t>(reducer_address));
    const int64_t channels = x.size(1);
    const auto x64 = x.to(torch::kFloat64);
    auto sums = torch::cat({x64.sum(kReduceDims), (x64 * x64).sum(kReduceDims),
                            torch::full({1}, static_cast<double>(x.numel() / channels), x64.options())});
    reducer->all_reduce_sum(sums);
    const double count = sums[2 * channels].item<double>();
    const auto mean = sums.narrow(0, 0, channels) / count;
    const auto variance = (sums.narrow(0, channels, channels) / count - mean * mean).clamp_min(0.0);
    const auto invstd = (variance + eps).rsqrt().to(x.scalar_type());
    const auto normalized = (x - per_channel(mean.to(x.scalar_type()))) * per_channel(invstd);
    const auto y = normalized * per_channel(weight) + per_channel(bias);
    ctx->save_for_backward({normalized, invstd, weight});
    ctx->saved_data["reducer"] = reducer_address;
    ctx->saved_data["count"] = count;
    const auto unbiased = count > 1 ? variance * (count / (count - 1)) : variance;
    auto mean_out = mean.to(x.scalar_type());
    auto variance_out = unbiased.to(x.scalar_type());
    ctx->mark_non_differentiable({mean_out, variance_out});
    return {y, mean_out, variance_out};
  }

  // dx = weight * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)), the means over every rank's
  // elements; dweight and dbias are this rank's sums (the gradient all-reduce adds the ranks').
  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    const auto& normalized = saved[0];
    const auto& invstd = saved[1];
    const auto& weight = saved[2];
    auto* reducer = reinterpret_cast<BatchStatisticsReducer*>(static_cast<intptr_t>(ctx->saved_data["reducer"].toInt()));
    const double count = ctx->saved_data["count"].toDouble();
    const auto dy = grads[0].contiguous();
    const int64_t channels = dy.size(1);
    const auto sum_dy = dy.sum(kReduceDims);
    const auto sum_dy_xhat = (dy * normalized).sum(kReduceDims);
    auto sums = torch::cat({sum_dy, sum_dy_xhat}).to(torch::kFloat64);
    reducer->all_reduce_sum(sums);
    const auto mean_dy = (sums.narrow(0, 0, channels) / count).to(dy.scalar_type());
    const auto mean_dy_xhat = (sums.narrow(0, channels, channels) / count).to(dy.scalar_type());
    const auto dx = per_channel(weight * invstd) *
                    (dy - per_channel(mean_dy) - normalized * per_channel(mean_dy_xhat));
    return {dx, sum_dy_xhat, sum_dy, torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

BatchNorm2dImpl::BatchNorm2dImpl(int64_t features) : num_features(features) { reset(); }

void BatchNorm2dImpl::reset() {
  weight = register_parameter("weight", torch::ones({num_features}));
  bias = register_parameter("bias", torch::zeros({num_features}));
  running_mean = register_buffer("running_mean", torch::zeros({num_features}));
  running_var = register_buffer("running_var", torch::ones({num_features}));
  num_batches_tracked = register_buffer("num_batches_tracked", torch::tensor(0, torch::kLong));
}

void BatchNorm2dImpl::pretty_print(std::ostream& stream) const {
  stream << "isda::models::BatchNorm2d(" << num_features << (reducer_ ? ", synchronised)" : ")");
}

torch::Tensor BatchNorm2dImpl::forward(const torch::Tensor& input) {
  TORCH_CHECK(input.dim() == 4, "BatchNorm2d: expected 4-d input (N, C, H, W), got ", input.dim(), "-d");
  if (is_training()) {
    torch::NoGradGuard no_grad;
    num_batches_tracked.add_(1);
  }
  if (reducer_ == nullptr || !is_training()) {
    return torch::batch_norm(input, weight, bias, running_mean, running_var, is_training(), kMomentum, kEps,
                             at::globalContext().userEnabledCuDNN());
  }
  const auto out = SyncBatchNormFunction::apply(input, weight, bias, kEps,
                                                static_cast<int64_t>(reinterpret_cast<intptr_t>(reducer_)));
  torch::NoGradGuard no_grad;
  running_mean.mul_(1.0 - kMomentum).add_(out[1], kMomentum);
  running_var.mul_(1.0 - kMomentum).add_(out[2], kMomentum);
  return out[0];
}

void synchronize_batch_norm(torch::nn::Module& model, BatchStatisticsReducer* reducer) {
  for (const auto& module : model.modules(/*include_self=*/true)) {
    if (auto* norm = module->as<BatchNorm2dImpl>()) norm->synchronize_with(reducer);
  }
}

}  // namespace isda::models
