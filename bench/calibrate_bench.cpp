#include "calibrate_bench.h"

#include "common/exit_codes.h"
#include "data/dataset_sizes.h"
#include "isda/covariance_estimator.h"
#include "models/model_names.h"
#include "models/registry.h"
#include "results/calibrations.h"
#include "results/store.h"
#include "support/run_environment.h"
#include "train/training_step.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <sstream>
#include <stdexcept>

namespace isda::bench {
namespace {

using isda::UsageError;  // common/exit_codes.h: the suite's one kind of bad-usage error

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

std::vector<std::string> split(const std::string& text) {
  std::vector<std::string> parts;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) parts.push_back(part);
  return parts;
}

int64_t positive(const std::string& flag, const std::string& value) {
  size_t used = 0;
  int64_t number = 0;
  try {
    number = std::stoll(value, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used != value.size() || number < 1) throw UsageError(fmt::format("{}: expected a positive integer, got \"{}\"", flag, value));
  return number;
}

CalibrateOptions parse(const std::vector<std::string>& args) {
  CalibrateOptions o;
  for (size_t i = 0; i < args.size(); ++i) {
    const auto& flag = args[i];
    if (i + 1 >= args.size()) throw UsageError(flag + ": missing value (see isda-bench --help)");
    const auto& value = args[++i];
    if (flag == "--models") o.models = split(value);
    else if (flag == "--methods") o.methods = split(value);
    else if (flag == "--precisions") o.precisions = split(value);
    else if (flag == "--dataset") o.dataset = value;
    else if (flag == "--device") o.device = value;
    else if (flag == "--db") o.db = value;
    else if (flag == "--batch") o.batch = positive(flag, value);
    else if (flag == "--steps") o.steps = positive(flag, value);
    else if (flag == "--warmup") o.warmup = positive(flag, value);
    else if (flag == "--threads") o.threads = positive(flag, value);
    else throw UsageError("unknown option " + flag + " (see isda-bench --help)");
  }
  const auto known_models = models::model_names();
  for (const auto& model : o.models) {
    if (std::find(known_models.begin(), known_models.end(), model) == known_models.end()) {
      throw UsageError(fmt::format("--models: unknown model \"{}\" (known: {})", model, fmt::join(known_models, ", ")));
    }
  }
  for (const auto& method : o.methods) {
    if (method != "ce" && method != "isda") throw UsageError(fmt::format("--methods: unknown method \"{}\" (known: ce, isda)", method));
  }
  for (const auto& precision : o.precisions) {
    if (precision != "fp32" && precision != "bf16") {
      throw UsageError(fmt::format("--precisions: unknown precision \"{}\" (known: fp32, bf16)", precision));
    }
  }
  if (data::find_dataset_size(o.dataset) == nullptr) {
    throw UsageError(fmt::format("--dataset: unknown data set \"{}\" (known: fashion-mnist, cifar10, cifar100, imagenet)", o.dataset));
  }
  if (o.device != "auto" && o.device != "cpu" && o.device.rfind("cuda", 0) != 0) {
    throw UsageError(fmt::format("--device: expected auto, cpu, cuda or cuda:N, got \"{}\"", o.device));
  }
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

int run_calibrate_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  try {
    const auto o = parse(args);
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
  } catch (const UsageError& e) {
    err << "isda-bench calibrate: error: " << e.what() << '\n';
    return kExitUsage;
  } catch (const results::StoreError& e) {
    err << "isda-bench calibrate: error: " << e.what() << '\n';
    return kExitStore;
  }
}

}  // namespace isda::bench
