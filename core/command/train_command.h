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
};

// Runs isda-train with `args` (without the program name). Results go to `out`, one-line
// errors ("isda-train: error: ...") to `err`. Returns an ExitCode.
int run_train_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace isda::command
