#pragma once
// One SGD step (network forward, loss, backward, optimizer) written so that a CUDA graph can capture
// it: no host synchronisation and no data-dependent shapes. The ISDA estimator merges the batch
// over all C classes at once (CovarianceEstimator::update_all_classes), the quadratic terms are
// computed for every class, and lambda lives in a device tensor. The learning rate is read from the
// optimizer at capture time: a change of it (an LR milestone) captures a new graph.
//
// Without `capture` the step runs eagerly (any device): the CPU tests compare it with the trainer's
// ordinary step. With `capture` (CUDA only), the first `warmup_steps` steps run eagerly on the
// graph's side stream, then every batch of `batch_size` images replays the captured graph (inputs
// copied into its static buffers); a batch of another size (an epoch's last) runs eagerly.

#include "isda/covariance_estimator.h"
#include "models/classifier.h"
#include "support/torch_compat.h"

#include <torch/torch.h>

#include <optional>

namespace isda::train {

struct StepResult {
  torch::Tensor loss;    // scalar, detached
  torch::Tensor logits;  // clean logits (N, C), detached; for the error counts
};

class TrainingStep {
 public:
  struct Options {
    bool bf16 = false;         // CUDA bf16 autocast for the network's features
    bool capture = false;      // replay a CUDA graph (needs a CUDA device and compat::kHasCudaGraphs)
    int64_t batch_size = 0;    // with capture: the batch size that is captured and replayed
    int64_t warmup_steps = 3;  // with capture: eager steps on the side stream before the first capture
  };

  // Borrows the model, its optimizer and the estimator (null: cross-entropy); they must outlive this.
  // The estimator is switched to computing its quadratic terms over all classes.
  TrainingStep(models::Classifier& model, torch::optim::SGD& optimizer, CovarianceEstimator* estimator,
               torch::Device device, Options options);

  // One step on `images` (on the device, in the memory format the model wants) and `labels` (int64)
  // with ISDA strength `lambda`. The result stays valid until the next call. Throws
  // std::logic_error when capture is asked of a build without CUDA graphs.
  StepResult run(const torch::Tensor& images, const torch::Tensor& labels, double lambda);

  int64_t captures() const { return captures_; }  // graphs captured so far
  int64_t replays() const { return replays_; }    // steps that replayed a graph

 private:
  StepResult compute(const torch::Tensor& images, const torch::Tensor& labels);
  double learning_rate() const;

  models::Classifier& model_;
  torch::optim::SGD& optimizer_;
  CovarianceEstimator* estimator_;
  Options options_;
  torch::Tensor lambda_half_;  // 0-dim float32 on the device: lambda / 2 of Eq. 4
  std::optional<compat::CudaGraph> graph_;
  torch::Tensor static_images_, static_labels_;  // the captured graph's inputs
  StepResult static_result_;                     // and outputs
  double captured_lr_ = 0;
  int64_t steps_ = 0;
  int64_t captures_ = 0;
  int64_t replays_ = 0;
};

}  // namespace isda::train
