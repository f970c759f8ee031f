#pragma once
// Workers that stop making progress: a worker notes each finished training step in its run
// directory's `progress` file (train/run_directory.h); one whose last note is older than its stall
// limit is stalled (a stuck file system, a GPU that stopped answering, a deadlocked loader). This
// holds what isda-run reads and writes about it; the coordinator decides what to do. No LibTorch.

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

// `pid` and every process below it (the ranks of a data-parallel worker), parents first.
std::vector<int> process_tree(int pid);

// For each process of the tree: its command, state and kernel wait channel, its threads' kernel
// stacks where /proc shows them, and every thread's backtrace from gdb when gdb is installed (at
// most `gdb_seconds` per process). What a stalled worker's stall.txt holds.
std::string describe_process_tree(int pid, int gdb_seconds = 20);

}  // namespace isda::runner
