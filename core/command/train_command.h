#pragma once
// isda-train's command line: one table of options generated from the run config's keys, parsed
// into a TrainConfig, and the command itself. The binary's main only forwards to run_train_command.

#include "common/options.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::command {

// Runs isda-train with `args` (without the program name). Results go to `out`, one-line
// errors ("isda-train: error: ...") to `err`. Returns an exit code of common/exit_codes.h (0 done,
// 1 training failed, 2 bad usage or config, 3 data, 4 checkpoint, 5 run directory in use,
// 8 environment fault) or 128 + N after a checkpoint on signal N. With --run-dir the directory is
// claimed before anything else, and a failure after that is logged there as a `failed` event.
// SIGINT, SIGTERM and SIGUSR1 ask the run to stop at the next step (see install_stop_handlers).
// `--export RUN_DIR OUT.pt` trains nothing: it writes the run's network (train/network_export.h),
// reading RUN_DIR without claiming it, and prints one line; its errors are one line (2 bad
// arguments, a missing run directory or a generator run; 4 no, a corrupt or another config's
// checkpoint; 8 a disk that refuses the file).
int run_train_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// isda-train's option table (its own flags, then one per run config key, generated from
// train::config_keys) and exit codes, from which its parsing and --help come.
const Command& train_command_line();

// Installs handlers for SIGINT, SIGTERM and SIGUSR1 that only record the signal for
// run_train_command to act on. For isda-train's main.
void install_stop_handlers();

}  // namespace isda::command
