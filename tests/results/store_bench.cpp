// isda_results_bench: the store's two hot paths at the sizes of issue 6.
//   1. registering a 100,000-run grid (one transaction, prepared statements);
//   2. ingesting 1,000 runs x 300 epochs from event logs written as isda-train writes them.
// Usage: isda_results_bench [runs_to_register] [runs_to_ingest] [epochs_per_run]
#include "results/ingest.h"
#include "results/run_ledger.h"
#include "results/store.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <unistd.h>

#include <chrono>
#include <ctime>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace {

// Wall and CPU time since construction, as "W s wall, C s CPU": on a shared machine the CPU time is
// the steadier number.
class Timer {
 public:
  Timer() : wall_(std::chrono::steady_clock::now()), cpu_(std::clock()) {}
  std::string elapsed() const {
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_).count();
    const double cpu = static_cast<double>(std::clock() - cpu_) / CLOCKS_PER_SEC;
    return fmt::format("{:.3f} s wall, {:.3f} s CPU", wall, cpu);
  }

 private:
  std::chrono::steady_clock::time_point wall_;
  std::clock_t cpu_;
};

}  // namespace

int main(int argc, char** argv) {
  using namespace isda::results;
  const int grid = argc > 1 ? std::atoi(argv[1]) : 100000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 1000;
  const int epochs = argc > 3 ? std::atoi(argv[3]) : 300;
  const auto dir = std::filesystem::temp_directory_path() / ("isda_results_bench_" + std::to_string(::getpid()));
  std::filesystem::remove_all(dir);
  std::filesystem::create_directories(dir);
  try {
    auto store = ResultsStore::open((dir / "isda.db").string());

    std::vector<RunRecord> records;
    records.reserve(static_cast<size_t>(grid));
    for (int i = 0; i < grid; ++i) {
      nlohmann::json config = {{"model", "resnet32"}, {"method", "isda"}, {"lambda0", 0.5}, {"seed", i}};
      records.push_back({fmt::format("{:016x}", std::hash<std::string>{}(config.dump()) ^ static_cast<size_t>(i)),
                         config.dump(), ""});
    }
    const auto sweep = register_sweep(store, "grid", "grid.json", R"({"grid": "bench"})");
    {
      Timer timer;
      register_runs(store, sweep, records);
      fmt::print("register {} runs: {}\n", grid, timer.elapsed());
    }
    {
      Timer timer;
      register_runs(store, sweep, records);
      fmt::print("re-register the same {} runs: {}\n", grid, timer.elapsed());
    }

    // Event logs, one per run, written as isda-train writes them.
    const auto logs = dir / "runs";
    std::filesystem::create_directories(logs);
    for (int r = 0; r < runs; ++r) {
      std::ofstream out(logs / fmt::format("{}.jsonl", records[static_cast<size_t>(r)].id));
      out << nlohmann::json({{"event", "start"}, {"epoch", 0}, {"step", 0}, {"time", 1.7e9}}).dump() << '\n';
      for (int e = 1; e <= epochs; ++e) {
        out << nlohmann::json({{"epoch", e}, {"train_loss", 1.0 / e}, {"train_error", 30.0 / e},
                               {"test_error", 40.0 / e}, {"validation_error", nullptr}, {"lambda", 0.5 * e / epochs},
                               {"lr", 0.1}, {"seconds", 20.5}, {"images_per_second", 2500.0}, {"event", "epoch"},
                               {"time", 1.7e9 + e}})
                   .dump()
            << '\n';
      }
      out << nlohmann::json({{"epochs", epochs}, {"final_test_error", 5.0}, {"best_test_error", 4.9},
                             {"last10_test_error", 5.1}, {"last10_validation_error", nullptr}, {"event", "done"},
                             {"time", 1.7e9 + epochs}})
                 .dump()
          << '\n';
    }
    for (int pass = 1; pass <= 2; ++pass) {
      Timer timer;
      int64_t rows = 0;
      for (int r = 0; r < runs; ++r) {
        const auto& id = records[static_cast<size_t>(r)].id;
        rows += ingest_events(store, id, (logs / fmt::format("{}.jsonl", id)).string()).epoch_events;
      }
      fmt::print("ingest {} runs x {} epochs ({} epoch rows){}: {}\n", runs, epochs, rows,
                 pass == 1 ? "" : ", again (idempotent)", timer.elapsed());
    }
    Timer timer;
    const auto listed = runs_of_sweep(store, sweep);
    fmt::print("list the {} runs of the sweep with their last epoch: {}\n", listed.size(), timer.elapsed());
  } catch (const StoreError& e) {
    fmt::print(stderr, "isda_results_bench: error: {}\n", e.what());
    std::filesystem::remove_all(dir);
    return 1;
  }
  std::filesystem::remove_all(dir);
  return 0;
}
