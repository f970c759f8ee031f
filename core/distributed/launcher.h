#pragma once
// `isda-train` with ranks > 1 on one node: starts one process per rank (this binary again, with
// RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and a rendezvous file set), relays their stderr (each
// line of rank N > 0 prefixed "rank N: ") and watches them. A rank that fails writes why into its
// failure file (write_rank_failure, at $ISDA_RANK_FAILURE_FILE in the launcher's private folder)
// instead of printing it; the launcher reads that file, never the rank's stderr, to say once which
// rank failed and why. When one rank fails or dies, the others are
// told to stop (SIGTERM) and killed after a grace period, so no rank outlives the run. Stop
// signals are forwarded. Free of LibTorch.

#include <atomic>
#include <chrono>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

namespace isda::distributed {

struct LaunchOptions {
  std::string binary;               // the executable each rank runs
  std::vector<std::string> args;    // its arguments (without argv[0])
  int ranks = 2;
  int run_dir_lock_descriptor = -1;  // handed to rank 0 (train/run_directory.h), which writes the run directory
  std::chrono::milliseconds grace{10000};  // from the first failure to SIGKILL of the ranks still alive
  const std::atomic<int>* stop_signal = nullptr;  // forwarded to every rank when it becomes nonzero
};

struct LaunchResult {
  int exit_code = 0;       // rank 0's, or the failed rank's (128 + N for a death by signal N)
  int failed_rank = -1;    // -1 when no rank failed
  bool killed = false;     // the failed rank died of a signal (killed from outside, or crashed)
  bool hung = false;       // the failed rank stopped answering: the others timed out waiting for it, and it
                           // ignored SIGTERM until the launcher killed it
  std::string reason;      // "rank N: <its last error line>" or "rank N: killed by signal 9 (SIGKILL)"
};

// Where a launched rank writes its failure (set by the launcher for each rank; unset otherwise).
inline constexpr char kRankFailureFileVariable[] = "ISDA_RANK_FAILURE_FILE";

// What a rank that failed says of it. `secondary`: it failed only because another rank did (a
// collective timed out or broke), so the launcher reports the other rank's reason.
struct RankFailure {
  int exit_code = 1;
  std::string fault;   // events::to_string(events::Fault) of the failure
  std::string reason;  // one line
  bool secondary = false;
};
// Writes `failure` to $ISDA_RANK_FAILURE_FILE atomically. Returns false when this process is not a
// launched rank or the file cannot be written (the caller then prints the reason instead).
bool write_rank_failure(const RankFailure& failure);
// The failure a rank wrote at `path`, if it wrote one that can be read.
std::optional<RankFailure> read_rank_failure(const std::string& path);

// Runs the ranks to the end. Throws std::runtime_error naming the binary if a rank cannot start.
LaunchResult launch_local_ranks(const LaunchOptions& options, std::ostream& err);

// A TCP port on 127.0.0.1 that was free a moment ago (rank 0's rendezvous).
int free_local_port();

}  // namespace isda::distributed
