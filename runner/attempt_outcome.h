#pragma once
// How an attempt of a run ended, decided in one place for both backends (the local coordinator,
// runner/coordinator.cpp, and Slurm, runner/slurm_backend.cpp) from what the worker left behind: its
// event log as the store took it in, its exit status where the backend knows it, the stall watch's
// verdict, and whether a checkpoint exists. The backends only apply the outcome (state, retries,
// their log lines); they never read a worker's stderr to learn what happened.

#include "common/run_events.h"
#include "results/ingest.h"

#include <optional>
#include <string>

namespace isda::runner {

struct AttemptEvidence {
  results::IngestResult seen;            // this attempt's records
  std::optional<int> exit_code;          // the worker's exit status (local); unknown under Slurm
  std::optional<std::string> stalled;    // the stall watch stopped the worker: why
  bool has_checkpoint = false;           // the run directory holds a checkpoint
  std::string ended;                     // how the backend saw it end: "isda-train exited with code 1",
                                         // "slurm job 12_3 ended FAILED"
};

struct AttemptOutcome {
  enum class Kind {
    done,         // the run finished (even if the worker was killed right after its `done` record)
    failed,       // charged to the retries unless `fault` is the machine's (events::is_charged)
    interrupted,  // stopped by a signal, or ended without a final record but with a checkpoint
    lost,         // ended without a final record before its first checkpoint, exit unknown (Slurm)
  };
  Kind kind = Kind::failed;
  events::Fault fault = events::Fault::run;  // failed
  std::string reason;                        // failed, lost, and interrupted without a signal: why
  int signal = 0;                            // interrupted: the signal (0: not known)
  bool checkpointed = false;                 // interrupted: the worker checkpointed and logged the stop
};

// The outcome of an attempt whose worker is gone. Pure; the order of the rules: a `done` record
// wins; then the stall watch; an unreadable log; a stop (an `interrupted` record, or an exit of
// 128 + N); a failure of the machine (a `failed` record of fault environment, or exit code
// kExitEnvironment); a `failed` record; then, with no final record (none, or only a start), the
// exit code if known, else the checkpoint.
AttemptOutcome attempt_outcome(const AttemptEvidence& evidence);

}  // namespace isda::runner
