#pragma once
// isda-run's command line; its main only forwards here.

#include "common/options.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::runner {

// Runs `isda-run SPEC [options]` or `isda-run status [SPEC]`. Exit codes (common/exit_codes.h):
// 0 every run of the spec done, 1 runs not all done, 2 bad usage or spec, 6 results store error,
// 7 a Slurm command failed, 130 stopped by Ctrl-C (rerun to resume).
int run_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// isda-run's option table and exit codes, from which its parsing and --help come.
const Command& run_command_line();

// SIGINT and SIGTERM handlers that count stop requests for run_command.
void install_interrupt_handlers();

}  // namespace isda::runner
