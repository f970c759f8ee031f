#pragma once
// The BatchNorm2d of every network in the zoo: what torch::nn::BatchNorm2d computes (the same
// kernel, parameters, buffers and names, so weights and checkpoints are interchangeable), plus a
// synchronised mode in which training-time statistics are those of the global batch of a
// data-parallel run (`sync_bn`, distributed/README.md). A module of its own rather than a subclass
// of LibTorch's: Debian's LibTorch does not export the template base a subclass would need.

#include <torch/nn/cloneable.h>
#include <torch/types.h>

#include <ostream>

namespace isda::models {

// Sums a tensor over every rank of a data-parallel run, in place (distributed::Communicator).
class BatchStatisticsReducer {
 public:
  virtual ~BatchStatisticsReducer() = default;
  virtual void all_reduce_sum(torch::Tensor& tensor) = 0;
};

class BatchNorm2dImpl : public torch::nn::Cloneable<BatchNorm2dImpl> {
 public:
  static constexpr double kMomentum = 0.1;  // torch::nn::BatchNorm2d's defaults
  static constexpr double kEps = 1e-5;

  explicit BatchNorm2dImpl(int64_t num_features);
  void reset() override;
  void pretty_print(std::ostream& stream) const override;

  // Training: batch statistics (over every rank's batch with a reducer, whose backward all-reduces
  // the two per-channel sums it needs), running statistics updated; evaluation: running statistics.
  torch::Tensor forward(const torch::Tensor& input);

  void synchronize_with(BatchStatisticsReducer* reducer) { reducer_ = reducer; }

  int64_t num_features;
  torch::Tensor weight, bias, running_mean, running_var, num_batches_tracked;

 private:
  BatchStatisticsReducer* reducer_ = nullptr;  // not owned
};
TORCH_MODULE(BatchNorm2d);

// Points every BatchNorm2d of `model` at `reducer` (nullptr: back to per-process statistics).
void synchronize_batch_norm(torch::nn::Module& model, BatchStatisticsReducer* reducer);

}  // namespace isda::models
