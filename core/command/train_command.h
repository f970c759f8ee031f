#pragma once
// isda-train's command line: one table of options generated from the run config's keys, parsed
// into a TrainConfig, and the command itself. The binary's main only forwards to run_train_command.

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::command {

// Exit codes of isda-train (documented in its --help).
enum ExitCode : int {
  kExitOk = 0,
  kExitTrainingFailed = 1,  // NaN loss, device unavailable
  kExitUsage = 2,           // bad flag, bad config key or value
  kExitData = 3,            // missing or malformed data
  kExitCheckpoint = 4,      // unusable checkpoint in the run directory (corrupt, other config)
  kExitBusy = 5,            // another isda-train works in the run directory
  // 128 + signal: stopped by SIGINT, SIGTERM or SIGUSR1 after checkpointing; rerun to resume
};

// Runs isda-train with `args` (without the program name). Results go to `out`, one-line
// errors ("isda-train: error: ...") to `err`. Returns an ExitCode.
// SIGINT, SIGTERM and SIGUSR1 ask the run to stop at the next step (see install_stop_handlers).
int run_train_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// Installs handlers for SIGINT, SIGTERM and SIGUSR1 that only record the signal for
// run_train_command to act on. For isda-train's main.
void install_stop_handlers();

}  // namespace isda::command
