#pragma once
// Helpers for the report tests: a scratch directory, and a results store filled with sweeps and
// runs in every state, their metrics ingested from event logs written as isda-train writes them.
// Kept here (not in tests/support) because that library links LibTorch and the report must not.

#include "common/system.h"
#include "results/ingest.h"
#include "results/run_ledger.h"
#include "results/store.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <vector>

namespace isda::report::testing {

inline constexpr double kNoValue = std::numeric_limits<double>::quiet_NaN();

class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("isda_report_test_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string path() const { return path_.string(); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

// A run to put in the store: its config, the state to leave it in, and its metrics.
struct FakeRun {
  FakeRun(nlohmann::json run_config, results::RunState run_state = results::RunState::done, double last10 = kNoValue,
          std::vector<double> epoch_test_errors = {})
      : config(std::move(run_config)),
        state(run_state),
        last10_test_error(last10),
        test_errors(std::move(epoch_test_errors)) {}

  nlohmann::json config;
  results::RunState state = results::RunState::done;
  double last10_test_error = kNoValue;  // the finals of a done run (the others derive from it)
  std::vector<double> test_errors;      // one per epoch; logged for done and running runs
  nlohmann::json done_extra = nlohmann::json::object();  // more keys of the done record (a generator's)
  std::string run_dir;                                    // registered with the run (may be empty)
};

inline nlohmann::json null_if_nan(double value) { return std::isnan(value) ? nlohmann::json() : nlohmann::json(value); }

// Writes sweeps and runs into a store at `db_path` (it holds the writer lock until destroyed).
class StoreBuilder {
 public:
  StoreBuilder(const std::string& db_path, std::string logs_dir)
      : store_(results::ResultsStore::open(db_path)), logs_dir_(std::move(logs_dir)) {
    std::filesystem::create_directories(logs_dir_);
  }

  // Registers the sweep and its runs (in this order) and brings each run to its state.
  int64_t add_sweep(const std::string& name, const nlohmann::json& spec, const std::vector<FakeRun>& runs) {
    const auto sweep = register_sweep(store_, name, "experiments/" + name + ".json", spec.dump());
    std::vector<results::RunRecord> records;
    for (const auto& run : runs) records.push_back({id_of(run.config), run.config.dump(), run.run_dir});
    register_runs(store_, sweep, records);
    for (const auto& run : runs) bring_to_state(id_of(run.config), run);
    return sweep;
  }

  static std::string id_of(const nlohmann::json& config) { return common::fnv1a_hex(config.dump()); }

 private:
  void bring_to_state(const std::string& id, const FakeRun& run) {
    using results::RunState;
    if (run.state == RunState::pending) return;
    start_attempt(store_, id, "test");
    const auto log = logs_dir_ + "/" + id + ".jsonl";
    write_log(log, run);
    ingest_events(store_, id, log);
    if (run.state != RunState::running) set_state(store_, id, run.state, run.state == RunState::failed ? "boom" : "");
  }

  static void write_log(const std::string& path, const FakeRun& run) {
    std::ofstream out(path, std::ios::trunc);
    const auto line = [&out](nlohmann::json event) { out << event.dump() << '\n'; };
    line({{"event", "start"}, {"time", 1.7e9}, {"epoch", 0}, {"step", 0}});
    for (size_t i = 0; i < run.test_errors.size(); ++i) {
      const double epoch = static_cast<double>(i + 1);
      line({{"event", "epoch"}, {"time", 1.7e9 + epoch}, {"epoch", i + 1}, {"train_loss", 2.0 / epoch},
            {"train_error", run.test_errors[i] - 2.0}, {"test_error", null_if_nan(run.test_errors[i])},
            {"validation_error", nullptr}, {"lambda", 0.5 * epoch / 10.0}, {"lr", 0.1}, {"seconds", 10.0},
            {"images_per_second", 1000.0}});
    }
    if (run.state != results::RunState::done) return;
    const double value = run.last10_test_error;
    nlohmann::json done = {{"event", "done"}, {"time", 1.8e9}, {"epochs", run.test_errors.size()},
                           {"final_test_error", null_if_nan(value + 0.1)}, {"best_test_error", null_if_nan(value - 0.2)},
                           {"last10_test_error", null_if_nan(value)}, {"last10_validation_error", nullptr}};
    done.update(run.done_extra);
    line(done);
  }

  results::ResultsStore store_;
  std::string logs_dir_;
};

}  // namespace isda::report::testing
