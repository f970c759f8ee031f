#include "calibrate_bench.h"

#include "isda_bench.h"
#include "common/exit_codes.h"
#include "data/dataset_sizes.h"
#include "isda/covariance_estimator.h"
#include "models/model_names.h"
#include "models/registry.h"
#include "results/calibrations.h"
#include "results/store.h"
#include "support/run_environment.h"
#include "train/config_names.h"
#include "train/training_step.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <stdexcept>

namespace isda::bench {
namespace {

struct CalibrateOptions {
  std::vector<std::string> models = {"resnet32"};
  std::vector<std::string> methods = {"ce", "isda"};
  std::vector<std::string> precisions = {"fp32"};
  std::string dataset = "cifar10";
  std::string device = "auto";
  std::string db = results::kDefaultDatabasePath;
  int64_t batch = 128;
  int64_t steps = 5;
  int64_t warmup = 2;
  int64_t threads = 0;
};

// The comma-separated list `text`, each item one of `known` (a UsageError naming the `what` else).
std::vector<std::string> list_of(const std::string& text, const std::vector<std::string>& known, const char* what) {
  const auto items = split_commas(text);
  for (const auto& item : items) {
    if (std::find(known.begin(), known.end(), item) == known.end()) {
      throw UsageError(fmt::format("unknown {} \"{}\" (known: {})", what, item, fmt::join(known, ", ")));
    }
  }
  return items;
}

CalibrateOptions options_from(const Arguments& args) {
  CalibrateOptions o;
  o.models = args.convert("--models", [](const std::string& text) { return list_of(text, models::model_names(), "model"); });
  o.methods = args.convert("--methods", [](const std::string& text) { return list_of(text, {"ce", "isda"}, "method"); });
  o.precisions =
      args.convert("--precisions", [](const std::string& text) { return list_of(text, {"fp32", "bf16"}, "precision"); });
  o.dataset = args.text("--dataset");
  o.device = args.convert("--device", [](const std::string& text) {
    if (text != "auto" && text != "cpu" && text.rfind("cuda", 0) != 0) {
      throw UsageError(fmt::format("expected auto, cpu, cuda or cuda:N, got \"{}\"", text));
    }
    return text;
  });
  o.db = args.text("--db");
  o.batch = args.integer("--batch");
  o.steps = args.integer("--steps");
  o.warmup = args.integer("--warmup");
  if (args.has("--threads")) o.threads = args.integer("--threads");
  return o;
}

// "cpu: Intel(R) Xeon(R) ... (2 threads)" or "cuda: NVIDIA H200": the name calibrations are kept under.
std::string device_name(const torch::Device& device) {
  if (device.is_cuda()) {
    const auto environment = support::describe_environment(true, std::max<int>(0, device.index()));
    return "cuda: " + (environment.gpu_model.empty() ? std::string("unknown GPU") : environment.gpu_model);
  }
  std::ifstream cpuinfo("/proc/cpuinfo");
  std::string model = "unknown CPU";
  for (std::string line; std::getline(cpuinfo, line);) {
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos) {
      model = line.substr(line.find(':') + 2);
      break;
    }
  }
  return fmt::format("cpu: {} ({} threads)", model, torch::get_num_threads());
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

double seconds_for(const torch::Device& device, int64_t warmup, int64_t steps, const std::function<void()>& body) {
  for (int64_t i = 0; i < warmup; ++i) body();
  synchronize(device);
  const auto start = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < steps; ++i) body();
  synchronize(device);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

results::Calibration calibrate(const CalibrateOptions& o, const data::DatasetSize& size, const std::string& model_name,
                               const std::string& method, const std::string& precision, const torch::Device& device) {
  models::ModelOptions options;
  options.num_classes = size.classes;
  options.in_channels = size.channels;
  auto model = models::make_model(model_name, options);
  model->to(device);
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9).nesterov(true).weight_decay(1e-4));
  std::optional<CovarianceEstimator> estimator;
  if (method == "isda") estimator.emplace(CovarianceKind::kFull, size.classes, model->feature_dim(), device);
  train::TrainingStep::Options step_options;
  step_options.bf16 = precision == "bf16";
  train::TrainingStep step(*model, sgd, estimator ? &*estimator : nullptr, device, step_options);
  auto generator = at::detail::createCPUGenerator(1);
  const auto images = torch::randn({o.batch, size.channels, size.resolution, size.resolution}, generator).to(device);
  const auto labels = torch::randint(0, size.classes, {o.batch}, generator, torch::kInt64).to(device);
  model->train();
  const double train_seconds = seconds_for(device, o.warmup, o.steps, [&] { step.run(images, labels, 0.5); });
  model->eval();
  const double test_seconds = seconds_for(device, o.warmup, o.steps, [&] {
    torch::NoGradGuard no_grad;
    (void)model->forward(images);
  });
  results::Calibration c;
  c.device = device_name(device);
  c.model = model_name;
  c.resolution = size.resolution;
  c.method = method;
  c.precision = precision;
  c.batch_size = o.batch;
  c.threads = device.is_cuda() ? 0 : torch::get_num_threads();
  c.steps = o.steps;
  c.train_images_per_second = static_cast<double>(o.batch * o.steps) / train_seconds;
  c.test_images_per_second = static_cast<double>(o.batch * o.steps) / test_seconds;
  return c;
}

}  // namespace

Command calibrate_bench_command_line() {
  const CalibrateOptions defaults;
  auto c = benchmark_command(
      "calibrate", run_calibrate_bench,
      "images per second of training steps and of evaluation per (model, method, precision) at the data set's "
      "resolution on this device, recorded in the results store for isda-run --dry-run's estimates.",
      {
          value_option("--models", "a,b", "the networks").default_to(join_commas(defaults.models)),
          value_option("--methods", "a,b", "the losses: ce, isda").default_to(join_commas(defaults.methods)),
          value_option("--precisions", "a,b", "fp32, bf16 (CUDA only)").default_to(join_commas(defaults.precisions)),
          value_option("--dataset", "NAME", "the data set whose resolution and classes are used")
              .one_of({train::names::kDatasets.begin(), train::names::kDatasets.end()})
              .default_to(defaults.dataset),
          value_option("--batch", "N", "images per step").integer(1).default_to(std::to_string(defaults.batch)),
          value_option("--steps", "S", "timed steps of each").integer(1).default_to(std::to_string(defaults.steps)),
          value_option("--warmup", "W", "steps before the timed ones").integer(1).default_to(std::to_string(defaults.warmup)),
          value_option("--threads", "N", "CPU threads").integer(1).default_described("LibTorch's default"),
          value_option("--device", "NAME", "auto (CUDA when there is one), cpu, cuda or cuda:N").default_to(defaults.device),
          value_option("--db", "PATH", "the results store").default_to(defaults.db),
      });
  c.exit_codes.push_back({kExitStore, "results store error"});
  return c;
}

int run_calibrate_bench(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  const auto o = options_from(args);
  if (o.threads > 0) torch::set_num_threads(static_cast<int>(o.threads));
  torch::Device device(torch::kCPU);
  if (o.device == "auto") {
    if (torch::cuda::is_available()) device = torch::Device(torch::kCUDA);
  } else {
    device = torch::Device(o.device);
    if (device.is_cuda() && !torch::cuda::is_available()) throw UsageError("--device " + o.device + ": no CUDA device");
  }
  for (const auto& precision : o.precisions) {
    if (precision == "bf16" && !device.is_cuda()) throw UsageError("--precisions bf16: needs a CUDA device (runs on the CPU are fp32)");
  }
  // Open the store first: a store in use fails before minutes of measuring.
  auto store = results::ResultsStore::open(o.db, results::ResultsStore::Mode::writer);
  const auto& size = *data::find_dataset_size(o.dataset);
  for (const auto& model : o.models) {
    for (const auto& precision : o.precisions) {
      for (const auto& method : o.methods) {
        const auto c = calibrate(o, size, model, method, precision, device);
        record_calibration(store, c);
        out << fmt::format("calibrated {} {} px {} {} on {}: train {:.0f} img/s, test {:.0f} img/s ({} steps of {})\n",
                           c.model, c.resolution, c.method, c.precision, c.device, c.train_images_per_second,
                           c.test_images_per_second, c.steps, c.batch_size)
            << std::flush;
      }
    }
  }
  return 0;
}

}  // namespace isda::bench
