#include "sweep_bench.h"

#include "isda_bench.h"
#include "json_expand.h"
#include "results/store.h"
#include "runner/spec.h"
#include "runner/sweep.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <ostream>

namespace isda::bench {
namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

struct Grid {
  std::string shape;  // for the report line
  nlohmann::json spec;
};

nlohmann::json seed_list(int64_t seeds) {
  nlohmann::json list = nlohmann::json::array();
  for (int64_t s = 0; s < seeds; ++s) list.push_back(static_cast<uint64_t>(s));
  return list;
}

// runs / seeds learning rates on one axis, times `seeds` seeds.
Grid one_axis(int64_t runs, int64_t seeds) {
  nlohmann::json lrs = nlohmann::json::array();
  for (int64_t i = 0; i < runs / seeds; ++i) lrs.push_back(0.001 + 1e-6 * static_cast<double>(i));
  return {fmt::format("{} lr values x {} seeds", runs / seeds, seeds),
          {{"name", "bench"},
           {"base", {{"dataset", "cifar10"}, {"model", "resnet32"}, {"recipe", "resnet"}}},
           {"grid", {{"lr", lrs}}},
           {"seeds", seed_list(seeds)}}};
}

// Four axes of `values` values each, times 10 seeds: a hyperparameter study's shape.
Grid four_axes(int64_t values) {
  nlohmann::json lr = nlohmann::json::array(), weight_decay = nlohmann::json::array(),
                 lambda0 = nlohmann::json::array(), dropout = nlohmann::json::array();
  for (int64_t i = 0; i < values; ++i) {
    const auto x = static_cast<double>(i);
    lr.push_back(0.01 + 0.01 * x);
    weight_decay.push_back(1e-5 * (1 + x));
    lambda0.push_back(0.1 * x);
    dropout.push_back(0.05 * x);
  }
  return {fmt::format("lr x weight_decay x lambda0 x dropout, {} values each, x 10 seeds", values),
          {{"name", "bench"},
           {"base", {{"dataset", "cifar100"}, {"model", "wrn28_10"}, {"recipe", "wrn"}}},
           {"grid", {{"lr", lr}, {"weight_decay", weight_decay}, {"lambda0", lambda0}, {"dropout", dropout}}},
           {"seeds", seed_list(10)}}};
}

}  // namespace

Command sweep_bench_command_line() {
  return benchmark_command(
      "sweep", run_sweep_bench,
      "expanding an N-run grid beside a JSON object per run, registering it in a fresh results store, and\n"
      "planning the same sweep again, for three grid shapes.\n",
      {
        value_option("--runs", "N", "runs of each grid").integer(1).default_to("100000"),
        value_option("--seeds", "S", "seeds of the one-axis grid").integer(1).default_described("3, then 1"),
      });
}

int run_sweep_bench(const Arguments& args, std::ostream& out, std::ostream& err) {
  const int64_t runs = args.integer("--runs");
  std::vector<int64_t> seed_counts = {3, 1};
  if (args.has("--seeds")) seed_counts = {args.integer("--seeds")};
  std::vector<Grid> grids;
  for (const auto seeds : seed_counts) grids.push_back(one_axis(runs, seeds));
  int64_t values = 1;
  while ((values + 1) * (values + 1) * (values + 1) * (values + 1) * 10 <= runs) ++values;
  grids.push_back(four_axes(values));

  const auto dir = std::filesystem::temp_directory_path() / fmt::format("isda-sweep-bench-{}", ::getpid());
  for (const auto& grid : grids) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto spec = runner::parse_spec(grid.spec, "bench.json");
    auto start = std::chrono::steady_clock::now();
    const auto peer = expand_with_json(spec);
    const double peer_seconds = seconds_since(start);
    start = std::chrono::steady_clock::now();
    auto expanded = runner::expand(spec);
    const double expand_seconds = seconds_since(start);
    bool same = peer.size() == expanded.size();
    for (size_t i = 0; same && i < peer.size(); ++i) same = peer[i].id == expanded[i].id;
    if (!same) {
      err << "isda-bench sweep: runner::expand and the JSON expansion disagree on " << grid.shape << '\n';
      std::filesystem::remove_all(dir);
      return 1;
    }
    auto store = results::ResultsStore::open((dir / "isda.db").string());
    auto again = expanded;
    start = std::chrono::steady_clock::now();
    const auto plan = runner::plan_sweep(spec, std::move(expanded), "", &store, (dir / "runs").string(), false);
    const double register_seconds = seconds_since(start);
    start = std::chrono::steady_clock::now();
    runner::plan_sweep(spec, std::move(again), "", &store, (dir / "runs").string(), false);
    const double again_seconds = seconds_since(start);
    out << fmt::format("{} runs ({}): expand {:.2f} s (a JSON object per run: {:.2f} s, {:.1f}x), register {:.2f} s, "
                       "expand + register {:.2f} s; planning it again {:.2f} s\n",
                       plan.runs.size(), grid.shape, expand_seconds, peer_seconds, peer_seconds / expand_seconds,
                       register_seconds, expand_seconds + register_seconds, again_seconds);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace isda::bench
