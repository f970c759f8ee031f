#include "data_parallel_bench.h"

#include "distributed/communicator.h"
#include "distributed/estimator_sync.h"
#include "distributed/gradient_reducer.h"
#include "distributed/launcher.h"
#include "isda/covariance_estimator.h"
#include "isda/isda_loss.h"
#include "models/batch_norm.h"
#include "models/registry.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <sstream>
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

Options parse(const std::vector<std::string>& args) {
  Options o;
  if (args.size() % 2 != 0) throw std::invalid_argument("option " + args.back() + " needs a value");
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const auto& key = args[i];
    const auto& value = args[i + 1];
    if (key == "--model") o.model = value;
    else if (key == "--batch") o.batch = std::stoll(value);
    else if (key == "--steps") o.steps = std::stoll(value);
    else if (key == "--image-size") o.image_size = std::stoll(value);
    else if (key == "--classes") o.classes = std::stoll(value);
    else if (key == "--method") o.method = value;
    else if (key == "--sync-bn") o.sync_bn = value == "true" || value == "1";
    else if (key == "--ranks") {
      o.ranks.clear();
      std::stringstream list(value);
      for (std::string item; std::getline(list, item, ',');) o.ranks.push_back(std::stoi(item));
    } else {
      throw std::invalid_argument("unknown option " + key +
                                  " (known: --model --ranks --batch --steps --image-size --classes --method --sync-bn)");
    }
  }
  if (o.batch < 1 || o.steps < 2) throw std::invalid_argument("--batch must be >= 1 and --steps >= 2");
  if (o.method != "ce" && o.method != "isda") throw std::invalid_argument("--method: ce or isda, not " + o.method);
  for (const int r : o.ranks) {
    if (r < 1 || o.batch % r != 0) throw std::invalid_argument(fmt::format("--ranks: {} does not split --batch {}", r, o.batch));
  }
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
  const int port = distributed::free_local_port();
  std::vector<Timing> timings(static_cast<size_t>(ranks));
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        distributed::World world;
        world.rank = r;
        world.size = ranks;
        world.master_port = port;
        distributed::Communicator communicator(world, torch::kCPU, std::chrono::seconds(60));
        timings[static_cast<size_t>(r)] = rank_steps(o, ranks, &communicator);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
  return timings[0];  // rank 0's view; every rank waits for the slowest at each collective
}

}  // namespace

int run_data_parallel_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  Options o;
  try {
    o = parse(args);
    const auto reason = distributed::unavailable_reason(torch::kCPU);
    if (!reason.empty()) throw std::runtime_error(reason);
  } catch (const std::exception& e) {
    err << "isda-bench data-parallel: error: " << e.what() << "\n";
    return 2;
  }
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
      err << "isda-bench data-parallel: error: " << ranks << " ranks: " << e.what() << "\n";
      return 1;
    }
    if (ranks == o.ranks.front()) single = t.step_seconds * ranks;
    out << fmt::format("{:>5} {:>10.1f} {:>9.0f} {:>8.2f}x {:>13.1f}% {:>13.1f}%\n", ranks, 1e3 * t.step_seconds,
                       static_cast<double>(o.batch) / t.step_seconds, single / (t.step_seconds * o.ranks.front()),
                       100.0 * t.reduce_seconds / t.step_seconds, 100.0 * t.gather_seconds / t.step_seconds);
  }
  return 0;
}

}  // namespace isda::bench
