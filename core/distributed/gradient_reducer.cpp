#include "distributed/gradient_reducer.h"

#include <torch/torch.h>

#include <chrono>
#include <stdexcept>

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
    bucket.used_offset = bucket.offsets.back() + last.numel();
    bucket.flat = torch::zeros({bucket.used_offset + static_cast<int64_t>(bucket.parameters.size())},
                               last.options().requires_grad(false));
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
  if (arrived_[parameter]) {
    // Its bucket may be on the wire already: a sum cannot be made right, so refuse it loudly.
    throw std::logic_error(
        "GradientReducer: a second backward before the gradients were reduced (one backward per step in a "
        "data-parallel run; call finish() after each)");
  }
  arrived_[parameter] = true;
  const auto [b, position] = slot_[parameter];
  auto& bucket = buckets_[b];
  bucket.flat.narrow(0, bucket.offsets[position], gradient.numel()).copy_(gradient.reshape({-1}));
  bucket.flat[bucket.used_offset + static_cast<int64_t>(position)].fill_(1);
  if (--bucket.waiting == 0) launch_ready();
}

void GradientReducer::launch_ready() {
  while (next_launch_ < buckets_.size() && buckets_[next_launch_].waiting == 0) launch(buckets_[next_launch_++]);
}

void GradientReducer::launch(Bucket& bucket) { bucket.wait = communicator_.all_reduce_sum_async(bucket.flat); }

void GradientReducer::finish() {
  // Launch, in bucket order (the same on every rank), what backward left incomplete: the parameters
  // this rank's backward did not reach count as zeros, and as not used.
  for (; next_launch_ < buckets_.size(); ++next_launch_) {
    auto& bucket = buckets_[next_launch_];
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      if (arrived_[bucket.parameters[i]]) continue;
      bucket.flat.narrow(0, bucket.offsets[i], parameters_[bucket.parameters[i]].numel()).zero_();
      bucket.flat[bucket.used_offset + static_cast<int64_t>(i)].fill_(0);
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
    const auto used = bucket.flat.narrow(0, bucket.used_offset, static_cast<int64_t>(bucket.parameters.size()))
                          .to(torch::kCPU, torch::kFloat64)
                          .contiguous();
    const double* reached = used.data_ptr<double>();
    for (size_t i = 0; i < bucket.parameters.size(); ++i) {
      if (reached[i] == 0) continue;  // no rank's backward reached it: as in one process, untouched
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
  next_launch_ = 0;
}

}  // namespace isda::distributed
