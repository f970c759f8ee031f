#pragma once
// Averages the gradients of a data-parallel run over its ranks, as PyTorch's DDP does: parameters
// are grouped into buckets (in reverse order, roughly the order backward produces their gradients);
// a gradient hook copies each gradient into its bucket as soon as backward has it, and complete
// buckets are all-reduced asynchronously in bucket order (the same on every rank, whatever order
// backward finished them in), so communication overlaps the rest of the backward pass. finish()
// waits for the buckets and writes the averages back into .grad.
//
// As one process: a parameter that no rank's backward reached (unused this step) keeps its .grad
// as it was, so SGD's weight decay and momentum treat it as one process would; one that only some
// ranks reached averages their gradients with zeros from the others (DDP's semantics). One
// backward per step: a second gradient for a parameter before finish() is refused, not dropped.

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

  // After loss.backward(): all-reduces what no hook launched, waits, and sets the .grad of every
  // parameter some rank's backward reached to the mean over the ranks (zeros for the ranks it did
  // not reach); the others keep theirs.
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
    // The gradients, then one count per parameter: 1 where this rank's backward reached it (summed
    // over the ranks: how many reached it).
    torch::Tensor flat;
    int64_t used_offset = 0;  // where the counts start in `flat`
    int64_t waiting = 0;  // gradients not yet copied in this step
    std::function<void()> wait;  // set once launched
  };

  void on_gradient(size_t parameter, const torch::Tensor& gradient);
  // Launches the complete buckets from next_launch_ on, in bucket order.
  void launch_ready();
  void launch(Bucket& bucket);

  std::vector<torch::Tensor> parameters_;
  Communicator& communicator_;
  std::vector<Bucket> buckets_;
  std::vector<std::pair<size_t, size_t>> slot_;  // per parameter: bucket, position in it
  std::vector<bool> arrived_;                    // per parameter, this step
  size_t next_launch_ = 0;                       // the first bucket not yet launched this step
  std::vector<unsigned> hooks_;
  double exposed_seconds_ = 0;
};

}  // namespace isda::distributed
