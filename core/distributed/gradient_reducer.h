#pragma once
// Averages the gradients of a data-parallel run over its ranks, as PyTorch's DDP does: parameters
// are grouped into buckets (in reverse order, roughly the order backward produces their gradients);
// a gradient hook copies each gradient into its bucket as soon as backward has it, and a bucket is
// all-reduced asynchronously the moment it is complete, so communication overlaps the rest of the
// backward pass. finish() waits for the buckets and writes the averages back into .grad.

#include "distributed/communicator.h"

#include <torch/types.h>

#include <cstdint>
#include <functional>
#include <vector>

namespace isda::distributed {

class GradientReducer {
 public:
  static constexpr int64_t kDefaultBucketBytes = int64_t{25} << 20;  // DDP's default

  GradientReducer(std::vector<torch::Tensor> parameters, Communicator& communicator,
                  int64_t bucket_bytes = kDefaultBucketBytes);
  ~GradientReducer();
  GradientReducer(const GradientReducer&) = delete;
  GradientReducer& operator=(const GradientReducer&) = delete;

  // After loss.backward(): all-reduces what no hook launched (parameters without a gradient count
  // as zeros), waits, and sets every parameter's .grad to the mean over the ranks.
  void finish();

  int64_t buckets() const { return static_cast<int64_t>(buckets_.size()); }
  // Seconds finish() spent waiting for all-reduces that backward did not hide, summed since the
  // last reset (the all-reduce share that isda-bench reports).
  double exposed_seconds() const { return exposed_seconds_; }
  void reset_timing() { exposed_seconds_ = 0; }

 private:
  struct Bucket {
    std::vector<size_t> parameters;  // indices into parameters_
    std::vector<int64_t> offsets;    // where each one's gradient starts in `flat`
    torch::Tensor flat;
    int64_t waiting = 0;  // gradients not yet copied in this step
    std::function<void()> wait;  // set once launched
  };

  void on_gradient(size_t parameter, const torch::Tensor& gradient);
  void launch(Bucket& bucket);

  std::vector<torch::Tensor> parameters_;
  Communicator& communicator_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> slot_;  // per parameter: bucket, position in it
  std::vector<bool> arrived_;                    // per parameter, this step
  std::vector<unsigned> hooks_;
  double exposed_seconds_ = 0;
};

}  // namespace isda::distributed
