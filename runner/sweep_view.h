#pragma once
// What a user sees of a local sweep while it runs (runner/coordinator.cpp schedules, this shows):
// the event lines with the sweep's counts, the live progress block when stderr is a terminal
// (runner/progress.h), the GPUs' use, and the ETA from measured epochs and the cost model.

#include "results/store.h"
#include "runner/coordinator.h"
#include "runner/cost_estimate.h"
#include "runner/progress.h"
#include "runner/sweep.h"

#include <chrono>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace isda::runner {

class SweepView {
 public:
  // A run a worker is running now.
  struct Running {
    std::string run_id;
    std::string where;          // its slots' label ("gpu0+gpu1")
    std::vector<size_t> slots;  // one per rank
    int64_t last_epoch = 0;
    double seconds_per_epoch = 0;  // its last epoch's (0: none yet)
  };

  SweepView(const SweepOptions& options, results::ResultsStore& store, ProgressDisplay& display, size_t slots);

  // The runs of the stage that runs now (its plan outlives the calls until the next set_plan).
  void set_plan(const SweepPlan& plan);
  int64_t epochs_of(const std::string& run_id) const;   // the run's configured epochs
  const std::string& what_of(const std::string& run_id) const;  // the keys that vary, "model=..."
  // An epoch of some run took `seconds`: the sweep's mean epoch, for runs the cost model cannot price.
  void epoch_measured(double seconds);

  bool live() const { return display_.live(); }
  // One event line: "isda-run: [N done, N running, N failed, N pending, elapsed] text".
  void log(const std::string& text);
  // Redraws the live block (and queries the GPUs every few seconds) for the running runs and the queue.
  void refresh(const std::vector<Running>& running, const std::deque<std::string>& queue);

 private:
  using Clock = std::chrono::steady_clock;
  ProgressSnapshot snapshot(const std::vector<Running>& running, const std::deque<std::string>& queue);
  double seconds_per_epoch_of(const std::string& id, double measured);
  double eta(const std::vector<Running>& running, const std::deque<std::string>& queue);

  const SweepOptions& options_;
  results::ResultsStore& store_;
  ProgressDisplay& display_;
  size_t slots_;
  const SweepPlan* plan_ = nullptr;
  std::map<std::string, int64_t> epochs_of_run_;
  std::map<std::string, const train::TrainConfig*> config_of_run_;  // into *plan_
  std::map<std::string, std::string> what_of_run_;
  std::optional<CostModel> cost_model_;
  Clock::time_point cost_model_built_{};
  Clock::time_point started_;
  Clock::time_point last_gpu_query_{};
  Clock::duration gpu_query_interval_ = std::chrono::seconds(5);
  Clock::time_point last_gpu_log_{};
  std::vector<std::string> gpu_use_;
  double epoch_seconds_sum_ = 0;
  int64_t epoch_seconds_count_ = 0;
};

}  // namespace isda::runner
