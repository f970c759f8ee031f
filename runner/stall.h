#pragma once
// Workers that stop making progress: a worker notes each finished training step in its run
// directory's `progress` file (train/run_directory.h); one whose last note is older than its stall
// limit is stalled (a stuck file system, a GPU that stopped answering, a deadlocked loader). This
// holds what isda-run reads and writes about it; the coordinator decides what to do. No LibTorch.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace isda::runner {

// What a run directory's progress file says, seen from outside.
struct ProgressSeen {
  double last_progress = 0;  // wall-clock seconds of its last note (0: none yet)
  double stall_limit = 0;    // the limit the worker computed (0: not noted yet)
  long long epoch = 0, step = 0;
};
ProgressSeen read_progress(const std::string& run_dir);

// One worker's stall watch. check() (about once a second while the worker runs) compares the
// time since its last progress note (or its start) with its stall limit: the limit the worker
// noted, else `configured_limit` or the default (train::stall_limit_seconds). Halfway there it says
// so once; at the limit it writes stall.txt, sends the worker's tree SIGTERM and SIGCONT (a stopped
// worker checkpoints and exits) and, train::kStallGraceSeconds later, SIGKILL. The coordinator
// records an attempt it stopped as fault `stalled`.
class StallWatch {
 public:
  StallWatch(std::string run_dir, double configured_limit);

  struct Verdict {
    enum class Kind { quiet, slow, stalled } kind = Kind::quiet;
    std::string message;  // slow: "no step finished for ..."; stalled: stalled_reason() and what was done
  };
  Verdict check(int worker_pid);

  bool stalled() const { return !reason_.empty(); }
  // "stalled: no step finished for 10m02s (stall limit 10m00s, last at epoch 3 step 40); where it hung: DIR/stall.txt"
  const std::string& stalled_reason() const { return reason_; }

 private:
  using Clock = std::chrono::steady_clock;
  std::string run_dir_;
  double configured_limit_;
  double started_;  // wall-clock seconds
  Clock::time_point last_check_{};
  bool named_slow_ = false;
  std::string reason_;
  std::optional<Clock::time_point> kill_at_;
};

// `pid` and every process below it (the ranks of a data-parallel worker), parents first.
std::vector<int> process_tree(int pid);

// For each process of the tree: its command, state and kernel wait channel, its threads' kernel
// stacks where /proc shows them, and every thread's backtrace from gdb when gdb is installed (at
// most `gdb_seconds` per process). What a stalled worker's stall.txt holds.
std::string describe_process_tree(int pid, int gdb_seconds = 20);

}  // namespace isda::runner
