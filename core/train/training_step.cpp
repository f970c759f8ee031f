#include "train/training_step.h"

#include <stdexcept>

namespace isda::train {

TrainingStep::TrainingStep(models::Classifier& model, torch::optim::SGD& optimizer, CovarianceEstimator* estimator,
                           torch::Device device, Options options)
    : model_(model), optimizer_(optimizer), estimator_(estimator), options_(options) {
  lambda_half_ = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  if (estimator_) estimator_->set_distinct_label_mode(false);
  if (options_.capture) {
    if (!device.is_cuda()) throw std::logic_error("TrainingStep: capture needs a CUDA device, got " + device.str());
    if (options_.batch_size < 1) throw std::logic_error("TrainingStep: capture needs the batch size");
    graph_.emplace(device.has_index() ? device.index() : 0);
  }
}

double TrainingStep::learning_rate() const {
  return static_cast<const torch::optim::SGDOptions&>(optimizer_.param_groups().front().options()).lr();
}

// The trainer's step in static shapes: the same operations in the same order, except the estimator's
// merge (all classes at once) and lambda (a tensor, so that a captured graph reads its current value).
StepResult TrainingStep::compute(const torch::Tensor& images, const torch::Tensor& labels) {
  torch::Tensor features;
  {
    compat::CudaAutocastGuard autocast(options_.bf16);
    features = model_.features(images);
  }
  features = features.to(torch::kFloat32);  // the head runs in float32, as in the trainer
  auto& head = model_.head();
  const auto logits = torch::nn::functional::linear(features, head->weight, head->bias);
  auto z = logits;
  if (estimator_) {
    estimator_->update_all_classes(features, labels);
    // Eq. 4: z = logits + (lambda / 2) q; (lambda / 2) is a float32 tensor holding the value the
    // ordinary step multiplies by, so both round alike.
    z = logits + estimator_->quadratic_terms(head->weight, labels).to(logits.scalar_type()) * lambda_half_;
  }
  auto loss = torch::nn::functional::cross_entropy(z, labels);
  optimizer_.zero_grad();
  loss.backward();
  optimizer_.step();
  return {loss.detach(), logits.detach()};
}

StepResult TrainingStep::run(const torch::Tensor& images, const torch::Tensor& labels, double lambda) {
  lambda_half_.fill_(0.5 * lambda);
  ++steps_;
  if (!options_.capture) return compute(images, labels);
  if (steps_ <= options_.warmup_steps) {
    StepResult result;
    graph_->run_on_side_stream([&] { result = compute(images, labels); });
    return result;
  }
  if (images.size(0) != options_.batch_size) return compute(images, labels);  // an epoch's last batch
  const double lr = learning_rate();
  const bool same_inputs = static_images_.defined() && images.sizes() == static_images_.sizes() &&
                           images.strides() == static_images_.strides() && labels.sizes() == static_labels_.sizes();
  if (!graph_->captured() || !same_inputs || lr != captured_lr_) {
    static_images_ = torch::empty_like(images);
    static_labels_ = torch::empty_like(labels);
    static_images_.copy_(images);
    static_labels_.copy_(labels);
    static_result_ = {};
    graph_->capture([&] { static_result_ = compute(static_images_, static_labels_); });
    captured_lr_ = lr;
    ++captures_;
  } else {
    static_images_.copy_(images);
    static_labels_.copy_(labels);
  }
  graph_->replay();
  ++replays_;
  return static_result_;
}

}  // namespace isda::train
