#pragma once
// What isda-run shows while a sweep runs. On a terminal: a block redrawn in place (runs per state,
// each running run's epoch, the ETA, GPU use) under the log of starts, finishes and failures.
// Elsewhere (a file, CI): only plain log lines.

#include "results/run_ledger.h"

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

namespace isda::runner {

struct ActiveRun {
  std::string slot;    // "cpu0", "gpu1"
  std::string run_id;
  std::string what;    // what varies, e.g. {"method":"isda","seed":0}
  int64_t epoch = 0;   // epochs finished
  int64_t epochs = 0;  // epochs the run has in all
  double seconds_per_epoch = 0;  // of its last epoch; 0 before the first
};

struct ProgressSnapshot {
  std::string sweep;
  results::StateCounts counts;
  int64_t waiting = 0;       // final runs not yet registered (their lambda0 search is running)
  double elapsed = 0;        // seconds
  double eta = -1;           // seconds; negative when unknown
  std::vector<ActiveRun> active;
  std::vector<std::string> gpu_use;  // one line per GPU
};

// "42s", "3m05s", "2h07m", "3d04h".
std::string format_duration(double seconds);

// The lines of the live block, each cut to `width` columns.
std::vector<std::string> render_progress(const ProgressSnapshot& snapshot, size_t width);

// The remaining time: the epochs left (running runs' rest, whole pending runs; waiting runs count as
// `epochs_per_waiting_run` each) at `seconds_per_epoch`, spread over `slots` workers. Negative when
// no epoch time is known yet.
double estimate_eta(const ProgressSnapshot& snapshot, const std::vector<int64_t>& pending_epochs,
                    int64_t epochs_per_waiting_run, double seconds_per_epoch, size_t slots);

class ProgressDisplay {
 public:
  // `live`: redraw the block in place (stderr is a terminal of `width` columns).
  ProgressDisplay(std::ostream& out, bool live, size_t width = 100);
  ~ProgressDisplay();

  // A line for the log (above the block when live).
  void event(const std::string& line);
  // Redraws the block (live only; at most once a second unless `force`).
  void update(const ProgressSnapshot& snapshot, bool force = false);
  // Removes the block, leaving the log.
  void finish();

  bool live() const { return live_; }

 private:
  void clear_block();
  void draw_block();

  std::ostream& out_;
  bool live_;
  size_t width_;
  size_t drawn_lines_ = 0;
  std::vector<std::string> block_;
  std::chrono::steady_clock::time_point last_draw_{};
};

// Whether file descriptor 2 is a terminal, and its width (default 100).
bool stderr_is_terminal();
size_t terminal_width();

}  // namespace isda::runner
