#include "sharded_estimator_bench.h"

#include "isda_bench.h"
#include "distributed/communicator.h"
#include "distributed/estimator_sync.h"
#include "distributed/launcher.h"
#include "distributed/sharded_estimator.h"
#include "isda/covariance_estimator.h"
#include "isda/isda_loss.h"
#include "support/torch_compat.h"
#include "train/estimator_memory.h"

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <exception>
#include <fstream>
#include <functional>
#include <mutex>
#include <ostream>
#include <thread>
#include <unistd.h>

namespace isda::bench {
namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  int64_t classes = 1000;
  int64_t memory_dim = 2048;
  std::vector<int> ranks = {1, 2, 4};
  int64_t step_dim = 512;
  int step_ranks = 2;
  int64_t batch = 128;  // global
  int64_t steps = 5;
  std::string dtype = "float32";
  bool memory = true;
  bool cuda = false;  // --device cuda: rank r on cuda:r (NCCL), memory as the driver counts it
};

torch::Device device_of(const Options& o, int rank) {
  return o.cuda ? torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(rank)) : torch::Device(torch::kCPU);
}

// Bytes in use: on CUDA device `rank` as the driver counts them, else this process's resident memory.
int64_t used_bytes(const Options& o, int rank);

torch::Dtype dtype_of(const std::string& name) { return name == "float32" ? torch::kFloat32 : torch::kFloat64; }

// This process's resident memory in bytes (/proc/self/statm).
int64_t resident_bytes() {
  std::ifstream statm("/proc/self/statm");
  int64_t pages = 0, resident = 0;
  statm >> pages >> resident;
  return resident * static_cast<int64_t>(sysconf(_SC_PAGESIZE));
}

int64_t used_bytes(const Options& o, int rank) {
  return o.cuda ? compat::cuda_memory_used_bytes(rank) : resident_bytes();
}

// Runs body(communicator or null) on `ranks` ranks (threads; Gloo, or NCCL with one GPU each; one
// rank: no communicator).
void on_ranks(const Options& o, int ranks, const std::function<void(distributed::Communicator*)>& body) {
  if (ranks == 1) return body(nullptr);
  distributed::run_ranks_in_threads(
      ranks, [&o](int rank) { return device_of(o, rank); }, std::chrono::seconds(600),
      [&body](distributed::Communicator& communicator) { body(&communicator); });
}

struct MemoryRow {
  int64_t most_per_rank = 0;  // the largest rank's state, as allocated
  int64_t resident_growth = 0;  // the process's resident memory added by all ranks' states together
};

MemoryRow measure_memory(const Options& o, int ranks) {
  MemoryRow row;
  std::mutex mutex;
  const int64_t before = used_bytes(o, 0);
  on_ranks(o, ranks, [&](distributed::Communicator* c) {
    torch::set_num_threads(1);
    if (c == nullptr) {
      CovarianceEstimator whole(CovarianceKind::kFull, o.classes, o.memory_dim, device_of(o, 0), dtype_of(o.dtype));
      row.most_per_rank = whole.state_bytes();
      row.resident_growth = used_bytes(o, 0) - before;
      return;
    }
    distributed::ShardedEstimator shard(o.classes, o.memory_dim, *c, device_of(o, c->rank()), dtype_of(o.dtype));
    {
      std::lock_guard<std::mutex> lock(mutex);
      row.most_per_rank = std::max(row.most_per_rank, shard.state_bytes());
    }
    c->barrier();  // every shard allocated (zeroed, so resident)
    if (c->rank() == 0) row.resident_growth = used_bytes(o, 0) - before;  // CUDA: rank 0's device
    c->barrier();
  });
  return row;
}

// Median milliseconds of the head's step on `ranks` ranks, sharded or every rank holding it whole.
double step_milliseconds(const Options& o, int ranks, bool sharded) {
  double median = 0;
  on_ranks(o, ranks, [&](distributed::Communicator* c) {
    torch::set_num_threads(std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / ranks));
    const int rank = c ? c->rank() : 0;
    const auto device = device_of(o, rank);
    const int64_t share = o.batch / ranks;
    auto generator = at::detail::createCPUGenerator(17);
    const auto weight_init = (torch::randn({o.classes, o.step_dim}, generator, torch::kFloat32) * 0.01).to(device);
    std::optional<CovarianceEstimator> whole;
    std::optional<distributed::ShardedEstimator> shard;
    if (sharded) {
      shard.emplace(o.classes, o.step_dim, *c, device, dtype_of(o.dtype));
    } else {
      whole.emplace(CovarianceKind::kFull, o.classes, o.step_dim, device, dtype_of(o.dtype));
    }
    std::vector<double> times;
    for (int64_t s = 0; s < o.steps; ++s) {
      auto step_generator = at::detail::createCPUGenerator(static_cast<uint64_t>(100 * s + rank));
      const auto features = torch::randn({share, o.step_dim}, step_generator, torch::kFloat32).to(device).requires_grad_();
      const auto labels = torch::randint(0, o.classes, {share}, step_generator, torch::kLong).to(device);
      if (o.cuda) compat::cuda_memory_used_bytes(rank);  // synchronises the device: time this step only
      auto weight = weight_init.clone().requires_grad_();
      const auto started = Clock::now();
      const auto logits = features.mm(weight.t());
      torch::Tensor terms;
      if (shard) {
        shard->merge_global_batch(features, labels);
        terms = shard->quadratic_terms(weight, labels);
      } else {
        if (c) {
          distributed::merge_global_batch(*whole, *c, features, labels);
        } else {
          whole->update(features, labels);
        }
        terms = whole->quadratic_terms(weight, labels);
      }
      torch::nn::functional::cross_entropy(add_quadratic_terms(logits, terms, 0.5), labels).backward();
      auto gradient = weight.grad();
      if (c) c->all_reduce_sum(gradient);
      if (o.cuda) compat::cuda_memory_used_bytes(rank);
      if (s > 0) times.push_back(std::chrono::duration<double>(Clock::now() - started).count() * 1e3);
    }
    std::sort(times.begin(), times.end());
    if (rank == 0) median = times[times.size() / 2];
  });
  return median;
}

}  // namespace

Command sharded_estimator_bench_command_line() {
  const Options defaults;
  return benchmark_command(
      "sharded-estimator", run_sharded_estimator_bench,
      "ISDA's full-covariance estimator sharded by class across Gloo ranks (threads of this process)\n"
      "against every rank holding it whole: each rank's allocated state at --classes x --memory-dim for\n"
      "each of --ranks, and the head's step time (merge, quadratic terms, backward, all-reduce) at\n"
      "--step-dim on --step-ranks ranks, side by side.\n",
      {
          value_option("--classes", "C", "classes").integer(1).default_to(std::to_string(defaults.classes)),
          value_option("--memory-dim", "A", "feature width of the memory measurement")
              .integer(1)
              .default_to(std::to_string(defaults.memory_dim)),
          value_option("--ranks", "1,2,4", "rank counts of the memory measurement")
              .default_to(fmt::format("{}", fmt::join(defaults.ranks, ","))),
          switch_option("--no-memory", "skip the memory measurement (it allocates C A^2 in all)"),
          value_option("--step-dim", "A", "feature width of the step timing").integer(1).default_to(std::to_string(defaults.step_dim)),
          value_option("--step-ranks", "R", "ranks of the step timing (1: the whole estimator alone)").integer(1).default_to(std::to_string(defaults.step_ranks)),
          value_option("--batch", "N", "the global batch of the step timing").integer(2).default_to(std::to_string(defaults.batch)),
          value_option("--steps", "S", "steps, the first a warm-up").integer(2).default_to(std::to_string(defaults.steps)),
          value_option("--dtype", "NAME", "the estimator's state").one_of({"float32", "float64"}).default_to(defaults.dtype),
          value_option("--device", "KIND", "cpu (Gloo ranks), or cuda (NCCL, rank r on GPU r: as many GPUs as ranks)")
              .one_of({"cpu", "cuda"})
              .default_to("cpu"),
      });
}

int run_sharded_estimator_bench(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  Options o;
  o.classes = args.integer("--classes");
  o.memory_dim = args.integer("--memory-dim");
  o.step_dim = args.integer("--step-dim");
  o.step_ranks = static_cast<int>(args.integer("--step-ranks"));
  o.batch = args.integer("--batch");
  o.steps = args.integer("--steps");
  o.dtype = args.text("--dtype");
  o.memory = !args.has("--no-memory");
  o.cuda = args.text("--device") == "cuda";
  o.ranks = args.convert("--ranks", [](const std::string& text) {
    std::vector<int> ranks;
    for (const auto& item : split_commas(text)) ranks.push_back(static_cast<int>(parse_integer(item, 1)));
    return ranks;
  });
  if (o.batch % o.step_ranks != 0) throw UsageError(fmt::format("--step-ranks {} does not split --batch {}", o.step_ranks, o.batch));
  const auto reason = distributed::unavailable_reason(o.cuda ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU));
  const int most_ranks = std::max(o.step_ranks, *std::max_element(o.ranks.begin(), o.ranks.end()));
  if (!reason.empty() && most_ranks > 1) throw UsageError(reason);
  if (o.cuda) {
    const int gpus = static_cast<int>(torch::cuda::device_count());
    if (gpus < most_ranks) {
      throw UsageError(fmt::format("--device cuda puts each rank on its own GPU: {} ranks need {} GPUs, this machine has {}",
                                   most_ranks, most_ranks, gpus));
    }
  }
  if (o.memory) {
    out << fmt::format("sharded estimator: memory of the full covariance state, C={}, A={}, {} (allocated)\n", o.classes,
                       o.memory_dim, o.dtype);
    out << fmt::format("{:>5} {:>16} {:>16} {:>12} {:>22}\n", "ranks", "GB on the fullest", "GB total / R", "ratio",
                       "GB resident, all ranks");
    for (const int ranks : o.ranks) {
      const auto row = measure_memory(o, ranks);
      train::TrainConfig config;  // what the memory statement says for the same sizes
      config.ranks = ranks;
      config.estimator_dtype = o.dtype;
      const auto stated = train::estimator_memory(config, o.classes, o.memory_dim);
      const double share = static_cast<double>(stated->total_bytes) / ranks;
      out << fmt::format("{:>5} {:>16.3f} {:>16.3f} {:>12.4f} {:>22.2f}\n", ranks, row.most_per_rank / 1e9, share / 1e9,
                         static_cast<double>(row.most_per_rank) / share, row.resident_growth / 1e9);
      if (stated->bytes_per_rank != row.most_per_rank) {
        out << fmt::format("  (stated {} bytes per rank, allocated {})\n", stated->bytes_per_rank, row.most_per_rank);
      }
    }
  }
  out << fmt::format("head step (merge, terms, cross-entropy, backward, all-reduce): C={}, A={}, {}, global batch {}, "
                     "median of {} steps after a warm-up\n",
                     o.classes, o.step_dim, o.dtype, o.batch, o.steps - 1);
  const double whole_one = step_milliseconds(o, 1, false);
  out << fmt::format("  1 rank, whole:      {:>9.1f} ms\n", whole_one);
  if (o.step_ranks == 1) return 0;
  const double whole = step_milliseconds(o, o.step_ranks, false);
  const double sharded = step_milliseconds(o, o.step_ranks, true);
  out << fmt::format("  {} ranks, whole:     {:>9.1f} ms\n", o.step_ranks, whole);
  out << fmt::format("  {} ranks, sharded:   {:>9.1f} ms  ({:.2f}x the whole estimator's step on {} ranks)\n",
                     o.step_ranks, sharded, sharded / whole, o.step_ranks);
  return 0;
}

}  // namespace isda::bench
