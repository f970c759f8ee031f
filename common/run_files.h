#pragma once
// The names of the files in a run's directory, defined once for every part that reads or writes
// them: isda-train (core/train/run_directory.h says what each holds), isda-run and the Slurm job
// script (runner/), the results store's ingest (results/) and the report (report/).

#include <string>

namespace isda::run_files {

inline constexpr char kLock[] = "lock";                  // flock'ed by the one process working in the directory
inline constexpr char kConfig[] = "config.json";         // the resolved config
inline constexpr char kRunConfig[] = "run.json";         // the config isda-run hands its worker
inline constexpr char kEvents[] = "events.jsonl";        // the event log (common/run_events.h)
inline constexpr char kCheckpoint[] = "checkpoint.pt";   // the latest checkpoint
inline constexpr char kResult[] = "result.json";         // the final metrics of a finished run
// Present while the run's last attempt stopped on a signal after checkpointing (it holds the
// signal number); removed when the next attempt starts. The Slurm job script tests for it to tell
// a checkpointed SIGUSR1 from a worker killed by one before it could checkpoint.
inline constexpr char kInterrupted[] = "interrupted";
inline constexpr char kProgress[] = "progress";          // "<epoch> <step> <stall limit>", for the stall watch
inline constexpr char kStallReport[] = "stall.txt";      // what isda-run learnt of a worker it found stalled
inline constexpr char kWorkerLog[] = "worker.log";       // the worker's stdout and stderr (isda-run, Slurm)
inline constexpr char kSamples[] = "samples.png";        // a generator run's samples, one row per class
inline constexpr char kRendezvous[] = "rendezvous";      // folder where a Slurm job's ranks meet
inline constexpr char kSlurmJobMark[] = "slurm-job";     // "<job name> <array task> <restart>" of the job running it

// The file `name` (one of the above) of the run directory `run_dir`.
inline std::string path(const std::string& run_dir, const char* name) { return run_dir + "/" + name; }

// The environment variable through which a coordinator tells isda-train which inherited file
// descriptor already holds its run directory's lock.
inline constexpr char kInheritedLockVariable[] = "ISDA_RUN_DIR_LOCK_FD";

}  // namespace isda::run_files
