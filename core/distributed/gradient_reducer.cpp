#include "distributed/gradient_reducer.h"

#include <torch/torch.h>

#include <chrono>

namespace isda::distributed {

GradientReducer::GradientReducer(std::vector<torch::Tensor> parameters, Communicator& communicator, int64_t bucket_bytes)
    : communicator_(communicator) {
  for (auto& p : parameters) {
    if (p.requires_grad()) parameters_.push_back(p);
  }
  slot_.resize(parameters_.size());
  arrived_.assign(parameters_.size(), false);
  // Reverse order: the last layers' gradients come first in backward.
  std::vector<std::vector<size_t>> groups;
  int64_t group_bytes = 0;
  for (size_t k = parameters_.size(); k-- > 0;) {
    const int64_t bytes = parameters_[k].numel() * static_cast<int64_t>(parameters_[k].element_size());
    if (groups.empty() || (group_bytes > 0 && group_bytes + bytes > bucket_bytes)) {
      groups.emplace_back();
      group_bytes = 0;
    }
    groups.back().push_back(k);
    group_bytes += bytes;
  }
  for (const auto& group : groups) {
    auto& bucket = buckets_.emplace_back();
    int64_t offset = 0;
    for (const size_t k : group) {
      slot_[k] = {buckets_.size() - 1, bucket.parameters.size()};
      bucket.parameters.push_back(k);
      bucket.offsets.push_back(offset);
      offset += parameters_[k].numel();
    }
  }
  for (auto& bucket : buckets_) {
    const auto& last = parameters_[bucket.parameters.back()];
    bucket.flat = torch::zeros({bucket.offsets.back() + last.numel()}, last.options().requires_grad(false));
    bucket.waiting = static_cast<int64_t>(bucket.parameters.size());
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    hooks_.push_back(parameters_[k].register_hook([this, k](torch::Tensor gradient) { on_gradient(k, gradient); }));
  }
}

GradientReducer::~GradientReducer() {
  for (size_t k = 0; k < hooks_.size(); ++k) parameters_[k].remove_hook(hooks_[k]);
}

void GradientReducer::on_gradient(size_t parameter, const torch::Tensor& gradient) {
  if (arrived_[parameter]) return;  // a second gradient for one parameter: finish() reads .grad
  arrived_[parameter] = true;
  const auto [b, position] = slot_[parameter];
  auto& bucket = buckets_[b];
  bucket.flat.narrow(0, bucket.offsets[position], gradient.numel()).copy_(gradient.reshape({-1}));
  if (--bucket.waiting == 0) launch(bucket);
}

void GradientReducer::launch(Bucket& bucket) { bucket.wait = communicator_.all_reduce_sum_async(bucket.flat); }

void GradientReducer::finish() {
  // Launch, in bucket order (the same on every rank), what backward left incomplete.
  for (auto& bucket : buckets_) {
    if (bucket.wait) continue;
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      if (arrived_[bucket.parameters[i]]) continue;
      const auto& p = parameters_[bucket.parameters[i]];
      auto slice = bucket.flat.narrow(0, bucket.offsets[i], p.numel());
      if (p.grad().defined()) {
        slice.copy_(p.grad().reshape({-1}));
      } else {
        slice.zero_();
      }
    }
    launch(bucket);
  }
  const auto started = std::chrono::steady_clock::now();
  for (auto& bucket : buckets_) {
    bucket.wait();
    bucket.wait = nullptr;
  }
  exposed_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const double scale = 1.0 / communicator_.size();
  torch::NoGradGuard no_grad;
  for (auto& bucket : buckets_) {
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      auto& p = parameters_[bucket.parameters[i]];
      const auto average = bucket.flat.narrow(0, bucket.offsets[i], p.numel()).view(p.sizes()).mul(scale);
      if (p.mutable_grad().defined()) {
        p.mutable_grad().copy_(average);
      } else {
        p.mutable_grad() = average.clone();
      }
    }
    bucket.waiting = static_cast<int64_t>(bucket.parameters.size());
  }
  std::fill(arrived_.begin(), arrived_.end(), false);
}

}  // namespace isda::distributed
