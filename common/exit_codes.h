#pragma once
// One table of exit codes for every binary of the suite (isda-train, isda-run, isda-report,
// isda-data), so that a code means the same thing whichever tool returned it. Each tool's --help
// lists the ones it uses (common/options.h's help_text, from the tool's Command). 128 + N: stopped
// by signal N (after a checkpoint, where the tool has one).

#include <stdexcept>
#include <string>
#include <vector>

namespace isda {

enum ExitCode : int {
  kExitOk = 0,
  kExitFailed = 1,       // the work failed: training diverged, runs of a sweep not done, a download failed
  kExitUsage = 2,        // bad flag, spec, config key or value (the message names it)
  kExitData = 3,         // missing or malformed data set files or archives
  kExitCheckpoint = 4,   // an unusable checkpoint (corrupt, truncated, another config or format)
  kExitBusy = 5,         // a run directory or results store in use by another live process
  kExitStore = 6,        // the results store cannot be opened, read or written
  kExitScheduler = 7,    // a Slurm command failed (its message is printed)
  kExitEnvironment = 8,  // disk full, I/O error, device lost: not the run's fault; rerun once fixed
  kExitSignal = 128,     // 128 + N: stopped by signal N; in a tool's list of codes it stands for them all ("128+N")
};

// Every code above, for the test that checks each tool's help against this table.
inline constexpr ExitCode kExitCodes[] = {kExitOk,    kExitFailed, kExitUsage,     kExitData,        kExitCheckpoint,
                                          kExitBusy,  kExitStore,  kExitScheduler, kExitEnvironment, kExitSignal};

// A code a tool returns, in its own words ("training failed"); the number comes from the table.
struct ExitCodeUse {
  int code;
  const char* meaning;
};
// The "exit codes: ..." paragraph of a tool's --help, wrapped at 100 columns, so that no help can
// name a code the tool does not return (isda-run's once said 4 for a failed Slurm command, 7).
// kExitSignal is written "128+N".
std::string exit_codes_help(const std::vector<ExitCodeUse>& uses);

// A bad command line, spec or config; what() is one line that names the flag, file, key or value.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

}  // namespace isda
