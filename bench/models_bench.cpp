#include "models_bench.h"

#include "isda_bench.h"
#include "isda/isda_loss.h"
#include "models/registry.h"
#include "support/torch_compat.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <ostream>

namespace isda::bench {
namespace {

struct ModelsOptions {
  std::string device = "cpu";
  std::vector<std::string> models;  // empty: the device's default list
  int64_t batch = 0;                // 0: 32 on the CPU, 128 on CUDA
  int64_t steps = 0;                // 0: 5 on the CPU, 20 on CUDA
  int64_t classes = 0;              // 0: 100 for CIFAR networks, 1000 for ImageNet ones
};

ModelsOptions options_from(const Arguments& args) {
  ModelsOptions o;
  o.device = args.text("--device");
  o.models = split_commas(args.text("--models"));
  if (args.has("--batch")) o.batch = args.integer("--batch");
  if (args.has("--steps")) o.steps = args.integer("--steps");
  if (args.has("--classes")) o.classes = args.integer("--classes");
  return o;
}


// One network with its optimizer and estimator; step() runs one training step with either loss.
class Trainee {
 public:
  Trainee(const models::ModelInfo& info, int64_t classes, int64_t batch, torch::Device device)
      : device_(device), classes_(classes) {
    torch::manual_seed(0);
    model_ = models::make_model(info.name, {classes, info.input_shape[0]});
    model_->to(device);
    if (device.is_cuda()) {  // Module::to has no memory-format overload in C++: convert the 4-D weights
      torch::NoGradGuard no_grad;
      for (auto& p : model_->parameters()) {
        if (p.dim() == 4) p.set_data(p.data().contiguous(torch::MemoryFormat::ChannelsLast));
      }
    }
    optimizer_.emplace(model_->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(1e-4));
    kind_ = info.input_shape[1] == 224 ? CovarianceKind::kDiagonal : CovarianceKind::kFull;
    estimator_.emplace(kind_, classes, model_->feature_dim(), device);
    images_ = torch::randn({batch, info.input_shape[0], info.input_shape[1], info.input_shape[2]},
                           torch::TensorOptions().device(device));
    if (device.is_cuda()) images_ = images_.contiguous(torch::MemoryFormat::ChannelsLast);
    labels_ = torch::randint(0, classes, {batch}, torch::TensorOptions().device(device).dtype(torch::kInt64));
  }

  void step(bool isda) {
    model_->train();
    optimizer_->zero_grad();
    torch::Tensor features;
    {
      compat::CudaAutocastGuard autocast(device_.is_cuda());  // features only; the head stays fp32
      features = model_->features(images_);
    }
    features = features.to(torch::kFloat);
    auto& head = model_->head();
    const auto loss = isda ? isda_loss(*estimator_, features, head->weight, head->bias, labels_, 0.5).loss
                           : torch::nn::functional::cross_entropy(head->forward(features), labels_);
    loss.backward();
    optimizer_->step();
  }

  CovarianceKind kind() const { return kind_; }
  int64_t feature_dim() const { return model_->feature_dim(); }

 private:
  torch::Device device_;
  int64_t classes_;
  std::shared_ptr<models::Classifier> model_;
  std::optional<torch::optim::SGD> optimizer_;
  CovarianceKind kind_ = CovarianceKind::kFull;
  std::optional<CovarianceEstimator> estimator_;
  torch::Tensor images_;
  torch::Tensor labels_;
};

void synchronize(torch::Device device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

}  // namespace

Command models_bench_command_line() {
  const ModelsOptions defaults;
  return benchmark_command(
      "models", run_models_bench,
      "one training step of each network with cross-entropy and with ISDA, median of interleaved steps.\n",
      {
          value_option("--device", "NAME", "where the steps run").one_of({"cpu", "cuda"}).default_to(defaults.device),
          value_option("--models", "a,b", "the networks").default_described("every network on CUDA, six on the CPU"),
          value_option("--batch", "N", "images per step").integer(1).default_described("32 on the CPU, 128 on CUDA"),
          value_option("--steps", "S", "timed steps of each loss")
              .integer(1)
              .default_described("5 on the CPU, 20 on CUDA"),
          value_option("--classes", "C", "classes")
              .integer(1)
              .default_described("100 for CIFAR networks, 1000 for ImageNet ones"),
      });
}

int run_models_bench(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  auto o = options_from(args);
  std::vector<models::ModelInfo> infos;
  try {
    if (o.device == "cuda" && !torch::cuda::is_available()) throw UsageError("--device cuda: no CUDA device available");
    const bool cuda = o.device == "cuda";
    if (o.models.empty()) {
      o.models = cuda ? models::model_names()
                      : std::vector<std::string>{"resnet32", "resnet110", "se_resnet110", "densenet_bc100_12",
                                                 "shake_shake26_2x32d", "wrn16_8"};
    }
    if (o.batch == 0) o.batch = cuda ? 128 : 32;
    if (o.steps == 0) o.steps = cuda ? 20 : 5;
    for (const auto& name : o.models) infos.push_back(models::describe_model(name));
  } catch (const std::invalid_argument& e) {  // an unknown model
    throw UsageError(std::string("--models: ") + e.what());
  }
  const torch::Device device(o.device == "cuda" ? torch::kCUDA : torch::kCPU);
  const int64_t warmup = device.is_cuda() ? 3 : 1;
  out << fmt::format(
      "training step (forward, loss, backward, SGD) on {} ({} threads{}), batch {}, ISDA lambda 0.5, "
      "median of {} interleaved steps\n",
      device.str(), torch::get_num_threads(), device.is_cuda() ? ", channels_last, bf16 autocast" : "", o.batch,
      o.steps);
  out << fmt::format("{:<22} {:>8} {:>5} {:>5} {:>9} {:>10} {:>10} {:>8}\n", "model", "params", "A", "C", "cov",
                     "CE ms", "ISDA ms", "ISDA/CE");
  for (const auto& info : infos) {
    const int64_t classes = o.classes > 0 ? o.classes : (info.input_shape[1] == 224 ? 1000 : 100);
    Trainee trainee(info, classes, o.batch, device);
    std::vector<double> ce_ms;
    std::vector<double> isda_ms;
    for (int64_t r = -warmup; r < o.steps; ++r) {
      for (const bool isda : {false, true}) {
        synchronize(device);
        const auto start = std::chrono::steady_clock::now();
        trainee.step(isda);
        synchronize(device);
        const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start).count();
        if (r >= 0) (isda ? isda_ms : ce_ms).push_back(ms);
      }
    }
    const double ce = median(ce_ms);
    const double isda = median(isda_ms);
    out << fmt::format("{:<22} {:>7.2f}M {:>5} {:>5} {:>9} {:>10.1f} {:>10.1f} {:>8.2f}\n", info.name,
                       static_cast<double>(info.parameter_count) / 1e6, trainee.feature_dim(), classes,
                       to_string(trainee.kind()), ce, isda, isda / ce);
    out.flush();
  }
  return 0;
}

}  // namespace isda::bench
