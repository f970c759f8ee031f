#pragma once
// The records of a run directory's event log, `events.jsonl`, defined once: isda-train appends
// them (core/train/run_directory), the results store reads them (results/ingest.cpp), and the Slurm
// job script looks only at the marker file below. One JSON object per line, appended and fsynced:
//
//   {"event":"start", "epoch":E, "step":S, "device":D, "config":{...}, "environment":{...}}
//   {"event":"epoch", "epoch":E, <kEpochMetrics>...}
//   {"event":"done", "epochs":N, <kDoneMetrics>...}
//   {"event":"failed", "reason":"one line", "fault":"run"|"environment", "exit_code":C}
//   {"event":"interrupted", "signal":N, "epoch":E, "step":S}
//
// Every record also has "time" (Unix seconds). Metrics a run does not have are null. A last line
// without its '\n' is a torn append (the writer died mid-write): readers ignore it and the next
// writer drops it before appending, so it never glues onto the next record.

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

namespace isda::events {

// The log's file name and the `interrupted` marker's are in common/run_files.h.

inline constexpr char kEvent[] = "event";
inline constexpr char kTime[] = "time";
inline constexpr char kStart[] = "start";
inline constexpr char kEpoch[] = "epoch";
inline constexpr char kDone[] = "done";
inline constexpr char kFailed[] = "failed";
inline constexpr char kInterrupted[] = "interrupted";

inline constexpr char kReason[] = "reason";
inline constexpr char kFault[] = "fault";
inline constexpr char kExitCode[] = "exit_code";
inline constexpr char kSignal[] = "signal";
inline constexpr char kStep[] = "step";
inline constexpr char kEpochs[] = "epochs";
inline constexpr char kEnvironment[] = "environment";

// An epoch event's metrics, in the order of the store's `epochs` columns. test_top5_error may be
// absent in logs of older versions.
inline constexpr const char* kEpochMetrics[] = {"train_loss", "train_error", "test_error", "validation_error",
                                                "lambda",     "lr",          "seconds",    "images_per_second",
                                                "test_top5_error"};
// A done event's metrics besides "epochs"; last10_test_top5_error may be absent in older logs.
inline constexpr const char* kDoneMetrics[] = {"final_test_error", "best_test_error", "last10_test_error",
                                               "last10_validation_error", "last10_test_top5_error"};
// A generator run's done event also has these (null for a classifier, absent in older logs): the
// share of a fixed set of its generated images that an independent judge classifier assigns to the
// label they were generated for, and that judge's accuracy on the real test images (core/gan).
inline constexpr const char* kClassConsistency = "class_consistency";
inline constexpr const char* kJudgeTestAccuracy = "judge_test_accuracy";

// What a run executes on and with (the `environment` of its `start` record): isda-train describes
// it (core/support/run_environment.h), the results store keeps the last one per run as the run's
// provenance. Empty text: not known (no git checkout, no CUDA).
struct Environment {
  std::string host;
  std::string git_commit;   // empty when the build was not made from a git checkout
  bool git_dirty = false;   // the checkout had uncommitted changes to tracked files
  std::string libtorch;
  std::string cuda;         // the CUDA runtime, e.g. "12.8"; empty off CUDA
  std::string cudnn;        // e.g. "9.1.0"
  std::string gpu_model;    // e.g. "NVIDIA H200"
  std::string driver;       // the NVIDIA kernel driver, e.g. "570.124.06"
};
nlohmann::json to_json(const Environment& environment);
// The record's environment; a field that is absent or of another type (a log of another version)
// is left empty. Never throws.
Environment environment_from_json(const nlohmann::json& object);

// The `interrupted` record of a run that stopped on `signal` at (epoch, step) after checkpointing.
nlohmann::json interrupted_record(int signal, int64_t epoch, int64_t step);

// Whose fault a failure is. `environment`: the machine's (disk full, I/O error, device lost), so a
// rerun once it is fixed should succeed and is not charged to the spec's retries. `run`: anything
// else (a bad config, divergence, broken data or checkpoint). Two kinds of the run's own are said
// apart because a user acts on them differently: `hang`, a rank of a data-parallel run that stopped
// answering, and `stalled`, a worker isda-run stopped after it made no progress for its stall limit.
enum class Fault { run, environment, hang, stalled };
const char* to_string(Fault fault);
// The name to_string gives; anything else (absent in older logs) -> run.
Fault fault_from_string(const std::string& name);
// Whether a failure of this kind counts against the run's retries (every kind but environment).
inline bool is_charged(Fault fault) { return fault != Fault::environment; }

// A line of an event log that is not a record: what() names the file and line.
class EventLogError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Parses one line (without its '\n'): an object with a string "event". Throws EventLogError
// naming `file` and `line_number` otherwise.
nlohmann::json parse_record(const char* first, const char* last, const std::string& file, int64_t line_number);

}  // namespace isda::events
