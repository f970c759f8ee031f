#include "data_parallel_bench.h"

#include "isda_bench.h"
#include "distributed/communicator.h"
#include "distributed/estimator_sync.h"
#include "distributed/gradient_reducer.h"
#include "distributed/launcher.h"
#include "isda/covariance_estimator.h"
#include "isda/isda_loss.h"
#include "models/batch_norm.h"
#include "models/registry.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <thread>

namespace isda::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string model = "resnet20";
  std::vector<int> ranks = {1, 2};
  int64_t batch = 128;
  int64_t steps = 8;
  int64_t image_size = 32;
  int64_t classes = 10;
  std::string method = "isda";
  bool sync_bn = false;
};

Options options_from(const Arguments& args) {
  Options o;
  o.model = args.text("--model");
  o.batch = args.integer("--batch");
  o.steps = args.integer("--steps");
  o.image_size = args.integer("--image-size");
  o.classes = args.integer("--classes");
  o.method = args.text("--method");
  o.sync_bn = args.text("--sync-bn") == "true";
  o.ranks = args.convert("--ranks", [&o](const std::string& text) {
    std::vector<int> ranks;
    for (const auto& item : split_commas(text)) {
      const auto r = static_cast<int>(parse_integer(item, 1));
      if (o.batch % r != 0) throw UsageError(fmt::format("{} does not split --batch {}", r, o.batch));
      ranks.push_back(r);
    }
    return ranks;
  });
  return o;
}

struct Timing {
  double step_seconds = 0;       // median step
  double reduce_seconds = 0;     // gradient all-reduce not hidden by backward, per step
  double gather_seconds = 0;     // ISDA features' all-gather and the global merge, per step
};

// One rank's steps; `communicator` null for a single process. The first step is a warm-up.
Timing rank_steps(const Options& o, int ranks, distributed::Communicator* communicator) {
  torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / ranks));
  std::shared_ptr<models::Classifier> model;
  {
    static std::mutex generator;  // ranks are threads here: one global generator, the same weights
    std::lock_guard<std::mutex> lock(generator);
    torch::manual_seed(0);
    models::ModelOptions model_options;
    model_options.num_classes = o.classes;
    model = models::make_model(o.model, model_options);
  }
  torch::optim::SGD sgd(model->parameters(), torch::optim::SGDOptions(0.01).momentum(0.9));
  std::optional<distributed::GradientReducer> reducer;
  if (communicator) {
    reducer.emplace(model->parameters(), *communicator);
    if (o.sync_bn) models::synchronize_batch_norm(*model, communicator);
  }
  CovarianceEstimator estimator(CovarianceKind::kFull, o.classes, model->feature_dim());
  const int64_t share = o.batch / ranks;
  const auto images = torch::randn({share, 3, o.image_size, o.image_size});
  const auto labels = torch::randint(0, o.classes, {share}, torch::kLong);
  std::vector<double> steps;
  Timing t;
  for (int64_t s = 0; s < o.steps; ++s) {
    const auto started = Clock::now();
    if (reducer) reducer->reset_timing();
    auto features = model->features(images);
    auto logits = model->head()->forward(features);
    torch::Tensor loss;
    double gather = 0;
    if (o.method == "isda") {
      const auto merge_started = Clock::now();
      if (communicator) {
        distributed::merge_global_batch(estimator, *communicator, features, labels);
      } else {
        estimator.update(features, labels);
      }
      gather = std::chrono::duration<double>(Clock::now() - merge_started).count();
      loss = torch::nn::functional::cross_entropy(augmented_logits(estimator, logits, model->head()->weight, labels, 0.5),
                                                  labels);
    } else {
      loss = torch::nn::functional::cross_entropy(logits, labels);
    }
    sgd.zero_grad();
    loss.backward();
    if (reducer) reducer->finish();
    sgd.step();
    if (s == 0) continue;
    steps.push_back(std::chrono::duration<double>(Clock::now() - started).count());
    t.reduce_seconds += reducer ? reducer->exposed_seconds() : 0;
    t.gather_seconds += gather;
  }
  std::sort(steps.begin(), steps.end());
  t.step_seconds = steps[steps.size() / 2];
  t.reduce_seconds /= static_cast<double>(steps.size());
  t.gather_seconds /= static_cast<double>(steps.size());
  return t;
}

Timing measure(const Options& o, int ranks) {
  if (ranks == 1) return rank_steps(o, 1, nullptr);
  std::vector<Timing> timings(static_cast<size_t>(ranks));
  distributed::run_ranks_in_threads(
      ranks, [](int) { return torch::Device(torch::kCPU); }, std::chrono::seconds(60),
      [&](distributed::Communicator& communicator) {
        timings[static_cast<size_t>(communicator.rank())] = rank_steps(o, ranks, &communicator);
      });
  return timings[0];  // rank 0's view; every rank waits for the slowest at each collective
}

}  // namespace

Command data_parallel_bench_command_line() {
  const Options defaults;
  return benchmark_command(
      "data-parallel", run_data_parallel_bench,
      "training steps of one global batch split over 1, 2, ... Gloo ranks (threads of this process): step\n"
      "time, speed-up, and the shares of the gradient all-reduce and of ISDA's feature all-gather.\n",
      {
          value_option("--model", "NAME", "the network").default_to(defaults.model),
          value_option("--ranks", "1,2", "rank counts to compare, each a divisor of --batch")
              .default_to(fmt::format("{}", fmt::join(defaults.ranks, ","))),
          value_option("--batch", "N", "the global batch").integer(1).default_to(std::to_string(defaults.batch)),
          value_option("--steps", "S", "steps, the first a warm-up")
              .integer(2)
              .default_to(std::to_string(defaults.steps)),
          value_option("--image-size", "S", "side of the random images")
              .integer(1)
              .default_to(std::to_string(defaults.image_size)),
          value_option("--classes", "C", "classes").integer(1).default_to(std::to_string(defaults.classes)),
          value_option("--method", "NAME", "the loss").one_of({"ce", "isda"}).default_to(defaults.method),
          value_option("--sync-bn", "BOOL", "BatchNorm statistics over all ranks")
              .one_of({"true", "false"})
              .default_to(defaults.sync_bn ? "true" : "false"),
      });
}

int run_data_parallel_bench(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  const auto o = options_from(args);
  const auto reason = distributed::unavailable_reason(torch::kCPU);
  if (!reason.empty()) throw UsageError(reason);
  out << fmt::format("data-parallel bench: {} ({}), global batch {} of 3x{}x{}, {} classes, {} steps after one warm-up;\n"
                     "ranks are Gloo ranks on threads of this process, each with cores/ranks threads ({} cores)\n",
                     o.model, o.method, o.batch, o.image_size, o.image_size, o.classes, o.steps - 1,
                     std::thread::hardware_concurrency());
  out << fmt::format("{:>5} {:>10} {:>9} {:>9} {:>14} {:>14}\n", "ranks", "ms/step", "images/s", "speedup",
                     "all-reduce %", "isda gather %");
  double single = 0;
  for (const int ranks : o.ranks) {
    Timing t;
    try {
      t = measure(o, ranks);
    } catch (const std::exception& e) {
      throw std::runtime_error(fmt::format("{} ranks: {}", ranks, e.what()));
    }
    if (ranks == o.ranks.front()) single = t.step_seconds * ranks;
    out << fmt::format("{:>5} {:>10.1f} {:>9.0f} {:>8.2f}x {:>13.1f}% {:>13.1f}%\n", ranks, 1e3 * t.step_seconds,
                       static_cast<double>(o.batch) / t.step_seconds, single / (t.step_seconds * o.ranks.front()),
                       100.0 * t.reduce_seconds / t.step_seconds, 100.0 * t.gather_seconds / t.step_seconds);
  }
  return 0;
}

}  // namespace isda::bench
