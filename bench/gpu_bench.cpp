#include "gpu_bench.h"

#include "isda_bench.h"
#include "data/augment.h"
#include "data/datasets.h"
#include "isda/isda_loss.h"
#include "models/registry.h"
#include "support/torch_compat.h"
#include "train/training_step.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <functional>
#include <ostream>
#include <stdexcept>

namespace isda::bench {
namespace {

torch::Device device_of(const std::string& name) {
  if (name == "auto") return torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU);
  torch::Device device(name);
  if (device.is_cuda() && !torch::cuda::is_available()) throw std::runtime_error("no CUDA device");
  return device;
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Milliseconds per call of `body`: `warmup` calls, then the mean over `steps` calls.
double time_ms(const torch::Device& device, int64_t warmup, int64_t steps, const std::function<void()>& body) {
  for (int64_t i = 0; i < warmup; ++i) body();
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) body();
  synchronize(device);
  return 1000.0 * std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() / static_cast<double>(steps);
}

nlohmann::json memory_or_null(int64_t bytes) { return bytes < 0 ? nlohmann::json(nullptr) : nlohmann::json(bytes); }

// One training step of `model_name` (SGD, cross-entropy or ISDA through train::TrainingStep, as
// isda-train with cuda_graph runs it, without the capture) on random images; milliseconds per step.
double model_step_ms(const std::string& model_name, int64_t classes, int64_t batch, int64_t image_size,
                     const torch::Device& device, bool bf16, bool isda, int64_t steps) {
  models::ModelOptions options;
  options.num_classes = classes;
  options.in_channels = 3;
  auto model = models::make_model(model_name, options);
  model->to(device);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9).nesterov(true).weight_decay(1e-4));
  std::optional<CovarianceEstimator> estimator;
  if (isda) estimator.emplace(CovarianceKind::kFull, classes, model->feature_dim(), device);
  train::TrainingStep::Options step_options;
  step_options.bf16 = bf16;
  train::TrainingStep step(*model, sgd, estimator ? &*estimator : nullptr, device, step_options);
  auto generator = at::detail::createCPUGenerator(1);
  const auto images = torch::randn({batch, 3, image_size, image_size}, generator).to(device);
  const auto labels = torch::randint(0, classes, {batch}, generator, torch::kInt64).to(device);
  return time_ms(device, 2, steps, [&] { step.run(images, labels, 0.5); });
}

Option precision_option() {
  return value_option("--precision", "NAME", "the network step's precision").one_of({"fp32", "bf16"}).default_to("fp32");
}

}  // namespace

Command isda_cost_bench_command_line() {
  return benchmark_command(
      "isda-cost", run_isda_cost_bench,
      "the full-covariance ISDA head (update, loss, backward) beside the cross-entropy head and one SGD step of\n"
      "the network; on CUDA the device memory the ISDA head adds. One JSON line.\n",
      {
        value_option("--classes", "C", "classes").integer(1).default_to("1000"),
        value_option("--dim", "A", "feature dimension").integer(1).default_to("2048"),
        value_option("--batch", "N", "samples per step").integer(1).default_to("64"),
        value_option("--state-dtype", "TYPE", "the estimator's state").one_of({"float64", "float32"}).default_to("float64"),
        value_option("--model", "NAME", "the network of the SGD step").default_to("resnet50"),
        value_option("--image-size", "S", "side of the network's images").integer(1).default_to("224"),
        value_option("--steps", "S", "timed steps of each").integer(1).default_to("10"),
        device_option(),
        precision_option(),
      });
}

int run_isda_cost_bench(const Arguments& o, std::ostream& out, std::ostream& /*err*/) {
  const auto device = device_of(o.text("--device"));
  const int64_t c = o.integer("--classes"), a = o.integer("--dim"), n = o.integer("--batch"), steps = o.integer("--steps");
  const auto state_dtype = o.text("--state-dtype") == "float64" ? torch::kFloat64 : torch::kFloat32;
  const int index = device.is_cuda() ? std::max<int>(0, device.index()) : 0;

  auto generator = at::detail::createCPUGenerator(3);
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  const auto features = torch::randn({n, a}, generator).to(f32).requires_grad_();
  const auto weight = (0.01 * torch::randn({c, a}, generator)).to(f32).requires_grad_();
  const auto bias = torch::zeros({c}, f32).requires_grad_();
  const auto labels = torch::randint(0, c, {n}, generator, torch::kInt64).to(device);

  const double ce_ms = time_ms(device, 2, steps, [&] {
    auto loss = torch::nn::functional::cross_entropy(torch::nn::functional::linear(features, weight, bias), labels);
    loss.backward();
  });
  const int64_t before = device.is_cuda() ? compat::cuda_memory_used_bytes(index) : -1;
  double isda_ms = 0;
  int64_t state_bytes = 0;
  {
    CovarianceEstimator estimator(CovarianceKind::kFull, c, a, device, state_dtype);
    state_bytes = estimator.state_bytes();
    isda_ms = time_ms(device, 2, steps, [&] { isda_loss(estimator, features, weight, bias, labels, 0.5).loss.backward(); });
  }
  // The caching allocator keeps what the head used: the growth is its state plus its peak temporaries.
  const int64_t after = device.is_cuda() ? compat::cuda_memory_used_bytes(index) : -1;
  const double model_ms = model_step_ms(o.text("--model"), c, n, o.integer("--image-size"), device,
                                        o.text("--precision") == "bf16", /*isda=*/false, steps);
  out << nlohmann::json{{"bench", "isda_cost"},
                        {"device", device.str()},
                        {"classes", c},
                        {"dim", a},
                        {"batch", n},
                        {"state_dtype", o.text("--state-dtype")},
                        {"ce_head_ms", ce_ms},
                        {"isda_head_ms", isda_ms},
                        {"model", o.text("--model")},
                        {"image_size", o.integer("--image-size")},
                        {"precision", o.text("--precision")},
                        {"model_step_ms", model_ms},
                        {"isda_over_model_step", (isda_ms - ce_ms) / model_ms},
                        {"estimator_state_bytes", state_bytes},
                        {"extra_memory_bytes", before < 0 ? nlohmann::json(nullptr) : memory_or_null(after - before)}}
              .dump()
      << '\n';
  return 0;
}

Command augment_step_bench_command_line() {
  return benchmark_command(
      "augment-step", run_augment_step_bench,
      "each augmentation regime per batch beside one ISDA training step of the network. JSON lines.\n",
      {
        value_option("--batch", "N", "images per batch").integer(1).default_to("128"),
        value_option("--steps", "S", "timed batches and steps").integer(1).default_to("20"),
        value_option("--model", "NAME", "the network").default_to("resnet110"),
        device_option(),
        precision_option(),
      });
}

int run_augment_step_bench(const Arguments& o, std::ostream& out, std::ostream& /*err*/) {
  const auto device = device_of(o.text("--device"));
  const int64_t batch = o.integer("--batch"), steps = o.integer("--steps");
  auto generator = at::detail::createCPUGenerator(0);
  const auto images = torch::randint(0, 256, {batch, 3, 32, 32}, generator, torch::kInt64).to(torch::kUInt8).to(device);
  const auto norm = data::normalization_for("cifar10");
  const double step_ms = model_step_ms(o.text("--model"), 10, batch, 32, device, o.text("--precision") == "bf16",
                                       /*isda=*/true, steps);
  for (const char* name : {"none", "standard", "cutout", "autoaugment"}) {
    data::BatchAugmenter augmenter(data::parse_augment_kind(name), norm, 1);
    const double ms = time_ms(device, 2, steps, [&] { augmenter.train_batch(images); });
    out << nlohmann::json{{"bench", "augment_step"}, {"device", device.str()}, {"batch", batch},
                          {"augment", name},       {"augment_ms", ms},     {"model", o.text("--model")},
                          {"step_ms", step_ms},    {"augment_over_step", ms / step_ms}}
               .dump()
        << '\n';
  }
  return 0;
}

}  // namespace isda::bench
