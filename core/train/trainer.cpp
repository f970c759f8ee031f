#include "train/trainer.h"

#include "data/fashion_mnist.h"
#include "isda/isda_loss.h"
#include "isda/lambda_schedule.h"
#include "models/registry.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>
#include <optional>

namespace isda::train {
namespace {

using Clock = std::chrono::steady_clock;

// Fashion-MNIST pixel statistics over the training set, for normalisation.
constexpr double kFashionMnistMean = 0.2860;
constexpr double kFashionMnistStd = 0.3530;

torch::Device resolve_device(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::Device device(name);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw TrainingError("device \"" + name + "\" requested but no CUDA device is available");
  }
  return device;
}

// Images as normalised float on the training device; the whole set is small enough to live there.
struct DeviceData {
  torch::Tensor images;
  torch::Tensor labels;
  int64_t num_classes = 0;
};

DeviceData to_device(const data::Dataset& set, torch::Device device) {
  auto images = set.images.to(device).to(torch::kFloat32).div_(255.0).sub_(kFashionMnistMean).div_(kFashionMnistStd);
  return {images, set.labels.to(device), set.num_classes};
}

double learning_rate(const TrainConfig& config, int64_t epoch) {
  const auto passed = std::count_if(config.lr_milestones.begin(), config.lr_milestones.end(),
                                    [epoch](int64_t m) { return m <= epoch; });
  return config.lr * std::pow(config.lr_gamma, static_cast<double>(passed));
}

double test_error(models::Classifier& model, const DeviceData& test, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model.eval();
  auto wrong = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(test.labels.device()));
  const int64_t n = test.labels.size(0);
  for (int64_t start = 0; start < n; start += batch_size) {
    const auto count = std::min(batch_size, n - start);
    const auto logits = model.forward(test.images.narrow(0, start, count));
    wrong += logits.argmax(1).ne(test.labels.narrow(0, start, count)).sum();
  }
  return 100.0 * static_cast<double>(wrong.item<int64_t>()) / static_cast<double>(n);
}

}  // namespace

std::string format_epoch_line(const EpochMetrics& m, int64_t epochs) {
  return fmt::format("epoch {}/{} loss {:.4f} train_err {:.2f}% test_err {:.2f}% lambda {:.3f} lr {:.4g} time {:.1f}s {:.0f} img/s",
                     m.epoch, epochs, m.train_loss, m.train_error, m.test_error, m.lambda, m.lr, m.seconds,
                     m.images_per_second);
}

TrainResult train(const TrainConfig& config, const std::function<void(const EpochMetrics&)>& on_epoch) {
  validate(config, "config");
  if (config.threads > 0) torch::set_num_threads(static_cast<int>(config.threads));
  const auto device = resolve_device(config.device);
  torch::manual_seed(config.seed);

  const auto root = config.data_root.empty() ? data::default_fashion_mnist_root() : config.data_root;
  const auto train_set = to_device(data::load_fashion_mnist(root, /*train=*/true, config.train_limit), device);
  const auto test_set = to_device(data::load_fashion_mnist(root, /*train=*/false, config.test_limit), device);

  auto model = models::make_model(config.model, {train_set.num_classes, train_set.images.size(1)});
  model->to(device);
  torch::optim::SGD optimizer(model->parameters(), torch::optim::SGDOptions(config.lr)
                                                       .momentum(config.momentum)
                                                       .nesterov(config.nesterov)
                                                       .weight_decay(config.weight_decay));

  const bool use_isda = config.method == "isda";
  std::optional<CovarianceEstimator> estimator;
  if (use_isda) {
    estimator.emplace(parse_covariance_kind(config.covariance), train_set.num_classes, model->feature_dim(), device);
  }
  const LambdaSchedule schedule{parse_lambda_schedule(config.lambda_schedule), config.lambda0};

  const int64_t n = train_set.labels.size(0);
  const int64_t steps = (n + config.batch_size - 1) / config.batch_size;
  TrainResult result;
  for (int64_t epoch = 0; epoch < config.epochs; ++epoch) {
    const auto started = Clock::now();
    const double lr = learning_rate(config, epoch);
    for (auto& group : optimizer.param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);

    model->train();
    const auto order = torch::randperm(n, torch::TensorOptions().dtype(torch::kInt64)).to(device);
    auto loss_sum = torch::zeros({}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    auto wrong = torch::zeros({}, torch::TensorOptions().dtype(torch::kInt64).device(device));
    double lambda = 0;
    for (int64_t step = 0; step < steps; ++step) {
      const auto index = order.narrow(0, step * config.batch_size, std::min(config.batch_size, n - step * config.batch_size));
      const auto images = train_set.images.index_select(0, index);
      const auto labels = train_set.labels.index_select(0, index);
      const auto features = model->features(images);
      auto& head = model->head();
      torch::Tensor loss;
      torch::Tensor logits;
      if (use_isda) {
        lambda = schedule.at(epoch, step, steps, config.epochs);
        auto out = isda_loss(*estimator, features, head->weight, head->bias, labels, lambda);
        loss = out.loss;
        logits = out.logits;
      } else {
        logits = head->forward(features);
        loss = torch::nn::functional::cross_entropy(logits, labels);
      }
      optimizer.zero_grad();
      loss.backward();
      optimizer.step();
      loss_sum += loss.detach().to(torch::kFloat64) * static_cast<double>(index.size(0));
      wrong += logits.detach().argmax(1).ne(labels).sum();
    }
    const double train_seconds = std::chrono::duration<double>(Clock::now() - started).count();

    EpochMetrics m;
    m.epoch = epoch + 1;
    m.train_loss = loss_sum.item<double>() / static_cast<double>(n);
    m.train_error = 100.0 * static_cast<double>(wrong.item<int64_t>()) / static_cast<double>(n);
    if (!std::isfinite(m.train_loss)) {
      throw TrainingError(fmt::format("training loss became {} in epoch {}", m.train_loss, m.epoch));
    }
    m.test_error = test_error(*model, test_set, 1000);
    m.lambda = lambda;
    m.lr = lr;
    m.seconds = std::chrono::duration<double>(Clock::now() - started).count();
    m.images_per_second = static_cast<double>(n) / train_seconds;
    result.epochs.push_back(m);
    if (on_epoch) on_epoch(m);
  }

  const auto& epochs = result.epochs;
  result.final_test_error = epochs.back().test_error;
  result.best_test_error = std::min_element(epochs.begin(), epochs.end(), [](const auto& a, const auto& b) {
                             return a.test_error < b.test_error;
                           })->test_error;
  const auto last = std::min<size_t>(10, epochs.size());
  result.last10_test_error = std::accumulate(epochs.end() - static_cast<std::ptrdiff_t>(last), epochs.end(), 0.0,
                                             [](double sum, const auto& e) { return sum + e.test_error; }) /
                             static_cast<double>(last);
  return result;
}

}  // namespace isda::train
