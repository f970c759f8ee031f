#include "sweep_bench.h"

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

// A grid of runs / seeds learning rates, times `seeds` seeds.
nlohmann::json grid_spec(int64_t runs, int64_t seeds) {
  nlohmann::json lrs = nlohmann::json::array();
  for (int64_t i = 0; i < runs / seeds; ++i) lrs.push_back(0.001 + 1e-6 * static_cast<double>(i));
  nlohmann::json seed_list = nlohmann::json::array();
  for (int64_t s = 0; s < seeds; ++s) seed_list.push_back(static_cast<uint64_t>(s));
  return {{"name", "bench"}, {"base", {{"dataset", "cifar10"}, {"model", "resnet32"}, {"recipe", "resnet"}}},
          {"grid", {{"lr", lrs}}}, {"seeds", seed_list}};
}

}  // namespace

int run_sweep_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  int64_t runs = 100000;
  std::vector<int64_t> seed_counts = {3, 1};
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    if (args[i] == "--runs") {
      runs = std::stoll(args[i + 1]);
    } else if (args[i] == "--seeds") {
      seed_counts = {std::stoll(args[i + 1])};
    } else {
      err << "isda-bench sweep: unknown option " << args[i] << '\n';
      return 2;
    }
  }
  const auto dir = std::filesystem::temp_directory_path() / fmt::format("isda-sweep-bench-{}", ::getpid());
  for (const auto seeds : seed_counts) {
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    const auto spec = runner::parse_spec(grid_spec(runs, seeds), "bench.json");
    auto start = std::chrono::steady_clock::now();
    const auto expanded = runner::expand(spec);
    const double expand_seconds = seconds_since(start);
    auto store = results::ResultsStore::open((dir / "isda.db").string());
    start = std::chrono::steady_clock::now();
    const auto plan = runner::plan_sweep(spec, expanded, "", &store, (dir / "runs").string(), false);
    const double register_seconds = seconds_since(start);
    start = std::chrono::steady_clock::now();
    runner::plan_sweep(spec, expanded, "", &store, (dir / "runs").string(), false);
    const double again_seconds = seconds_since(start);
    out << fmt::format("{} runs ({} combinations x {} seeds): expand {:.2f} s, register {:.2f} s, total {:.2f} s; "
                       "planning it again {:.2f} s\n",
                       plan.runs.size(), runs / seeds, seeds, expand_seconds, register_seconds,
                       expand_seconds + register_seconds, again_seconds);
  }
  std::filesystem::remove_all(dir);
  return 0;
}

}  // namespace isda::bench
