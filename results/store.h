#pragma once
// ResultsStore: the SQLite database of sweeps, runs, per-epoch metrics, final metrics and
// provenance. One process writes (the coordinator, holding an exclusive lock file); any number may
// read. Workers never open it: the coordinator ingests their event logs (core/train/README.md).
//
// Times are Unix seconds (REAL). Metrics that a run does not have (no test set, no hold-out) are
// NaN in this API and NULL in the database. Not thread-safe: one thread per ResultsStore.

#include "common/run_events.h"
#include "results/sqlite.h"

#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace isda::results {

inline constexpr char kDefaultDatabasePath[] = "results/isda.db";

// The run lifecycle (ARCHITECTURE.md):
//   pending -> running -> done | failed | interrupted;  interrupted -> pending | running;
//   failed -> pending (a retry);  done is final.
enum class RunState { pending, running, done, failed, interrupted };

const char* to_string(RunState state);
// Throws StoreError for a name that is not a state.
RunState run_state_from_string(const std::string& name);
bool transition_allowed(RunState from, RunState to);

// A run to register: `config_json` is the canonical resolved config whose hash is `id`.
struct RunRecord {
  std::string id;
  std::string config_json;
  std::string run_dir;  // may be empty and is then left as it is
};

struct RegisterResult {
  int64_t added = 0;     // runs new to the store
  int64_t existing = 0;  // runs already there (their state is untouched)
};

struct SweepInfo {
  int64_t id = 0;
  std::string name;
  std::string spec_path;
  std::string spec_hash;
  std::string spec_json;
  double created = 0;
  int64_t runs = 0;
};

// Whether sweep `a` is newer than `b`: created later, or registered after it in the same instant.
// Of several sweeps that declare one table, isda-report shows the newest; isda-run's notes on a
// changed spec use the same rule.
bool is_newer(const SweepInfo& a, const SweepInfo& b);

struct RunInfo {
  std::string id;
  std::string config_json;
  RunState state = RunState::pending;
  int64_t attempts = 0;  // attempts started
  int64_t failures = 0;  // failed attempts charged to the spec's retries (not the machine's faults)
  std::string fault;     // of the last failure: "run", "environment", or "" when it never failed
  int64_t last_epoch = 0;  // highest epoch in the store, 0 before the first
  std::string run_dir;
  std::string lease_owner;  // empty when no lease is held
  double lease_heartbeat = 0;  // NaN when no lease is held
  std::string error;
  std::string log_tail;
  double created = 0;
  double updated = 0;
};

struct StateCounts {
  int64_t pending = 0, running = 0, done = 0, failed = 0, interrupted = 0;
  int64_t total() const { return pending + running + done + failed + interrupted; }
};

// One epoch as isda-train logs it (train::EpochMetrics).
struct EpochRow {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_error = 0, test_error = 0, validation_error = 0;
  double lambda = 0, lr = 0, seconds = 0, images_per_second = 0;
  double test_top5_error = 0;  // NaN for runs logged before it was recorded
};

struct FinalRow {
  std::string run_id;
  double final_test_error = 0, best_test_error = 0, last10_test_error = 0, last10_validation_error = 0;
  int64_t epochs = 0;
  double last10_test_top5_error = 0;  // NaN for runs logged before it was recorded
};

struct Provenance {
  std::string git_commit;
  bool git_dirty = false;
  std::string host, gpu_model, driver, libtorch, cuda, cudnn, command_line;
  double started = 0;  // NaN when unknown
  double ended = 0;    // NaN while running
};

// The lambda0 chosen for one group of a sweep's runs by its hold-out search (runner/spec.h).
struct Lambda0Choice {
  std::string group_key;  // canonical JSON of the group's keys, e.g. {"dataset":"cifar10","model":"resnet32"}
  double lambda0 = 0;
  std::string metric;     // what was minimised, e.g. last10_validation_error
  std::string evidence;   // JSON: per candidate, the search runs' ids and metric values and their mean
  double decided = 0;
};

// A throughput measured by `isda-bench calibrate` (schema 8): one per (device, model, resolution,
// method, precision); a new measurement replaces the old.
struct Calibration {
  std::string device;  // "cuda: NVIDIA H200" or "cpu: <model name> (N threads)"
  std::string model;
  int64_t resolution = 0;  // image side in pixels
  std::string method;      // ce | isda (the training step measured)
  std::string precision;   // fp32 | bf16
  int64_t batch_size = 0;
  int64_t threads = 0;
  double train_images_per_second = 0;  // training steps (forward, loss, backward, SGD)
  double test_images_per_second = 0;   // evaluation (forward only)
  int64_t steps = 0;                   // measured steps
  double measured = 0;                 // Unix seconds
};

// A run's measured epochs (for cost estimates): its config and mean seconds per epoch.
struct EpochTiming {
  std::string run_id;
  std::string config_json;
  std::string gpu_model;  // from its provenance; empty on the CPU or when unknown
  double seconds_per_epoch = 0;
  int64_t epochs = 0;  // epochs behind the mean
  // A done run's time outside its epochs (process start, data loading, the last checkpoint): its
  // provenance's ended - started less the sum of its epoch times; NaN when not known.
  double overhead_seconds = std::numeric_limits<double>::quiet_NaN();
};

// What an event log says, for the coordinator to set the run's state.
struct IngestResult {
  // The last lifecycle event of the attempt: `none` when it logged none, `running` when the last is
  // `start` (but a logged `done` stays `done`: isda-train logs a start when rerun on a finished run
  // directory). `unreadable`: a line of the log is not a record (`reason` names the file and line);
  // nothing of the log was stored.
  enum class Outcome { none, running, done, failed, interrupted, unreadable };
  Outcome outcome = Outcome::none;
  int64_t last_epoch = 0;    // highest epoch logged, 0 when none
  int64_t epoch_events = 0;  // epoch events read (each upserted)
  std::string reason;        // of a `failed` event, or why the log is unreadable
  events::Fault fault = events::Fault::run;  // of a `failed` event
  int exit_code = 0;         // of a `failed` event (0 when it does not say)
  int signal = 0;            // of an `interrupted` event
  bool torn_line_ignored = false;
};

// The Slurm backend's record of one job array (runner/slurm_backend.h): written as an `intent`
// before sbatch runs, so a coordinator that dies mid-submission never submits the same runs twice.
//   intent -> submitted (job id known) | abandoned (sbatch never made it);  submitted -> finished
struct SlurmTaskRow {
  int64_t task = 0;  // the array index: line task + 1 of the manifest
  std::string run_id;
  bool finished = false;  // its job ended and the run's state was settled
};

struct SlurmSubmission {
  int64_t id = 0;
  int64_t sweep_id = 0;
  std::string resource_class;
  std::string manifest_path;
  std::string job_name;  // unique; how a submission whose job id was never recorded is found again
  std::string state;     // intent, submitted, abandoned or finished
  std::string job_id;    // the array's job id; empty before `submitted`
  std::vector<SlurmTaskRow> tasks;
  double created = 0, updated = 0;
};

class ResultsStore {
 public:
  enum class Mode {
    writer,  // creates and migrates the database, holds `<path>.lock`
    reader,  // an existing database at the current version; no lock, every write fails
  };

  // Opens `path`. A writer creates the parent directory and the database, takes the exclusive
  // writer lock (StoreError naming the holder's pid when another process or ResultsStore holds
  // it) and migrates an older schema in one transaction. Both modes refuse a newer schema.
  static ResultsStore open(const std::string& path = kDefaultDatabasePath, Mode mode = Mode::writer);

  ResultsStore(ResultsStore&&) noexcept;
  ResultsStore& operator=(ResultsStore&&) noexcept;
  ~ResultsStore();  // releases the lock

  const std::string& path() const;
  int schema_version();

  // The sweep with this name and spec (the spec hashed after canonicalizing its JSON), created on
  // first call. Throws StoreError when `spec_json` is not JSON.
  int64_t register_sweep(const std::string& name, const std::string& spec_path, const std::string& spec_json);

  // Adds the runs that are new as `pending` and makes every run a member of the sweep (in the
  // given order), in one transaction. A run already registered keeps its state and results; one
  // registered with a config that differs in other keys than `execution_keys` (those that say where
  // and how a run executes, not what it computes, and that its id leaves out) is a StoreError
  // (nothing is registered then); one that differs in those only takes the new config, so that its
  // next attempt runs with today's settings (a moved data root, a key a newer version added).
  RegisterResult register_runs(int64_t sweep_id, const std::vector<RunRecord>& runs,
                               const std::vector<std::string>& execution_keys = {});

  // Moves a run to `to` if the lifecycle allows it, else throws StoreError naming both states.
  // `error` and `log_tail`, when non-empty, replace the stored ones; leaving `running` drops the
  // lease; `done` clears the error; `failed` is a failure of the run itself (see record_failure).
  // Throws StoreError for an unknown run.
  void set_state(const std::string& run_id, RunState to, const std::string& error = "",
                 const std::string& log_tail = "");
  // running -> failed with its fault: a `run` fault is charged to the spec's retries (failures + 1),
  // an `environment` fault (disk full, device lost) is not. Throws as set_state.
  void record_failure(const std::string& run_id, events::Fault fault, const std::string& error,
                      const std::string& log_tail = "");

  // pending or interrupted -> running, attempts + 1, lease to `owner` with a heartbeat now.
  void start_attempt(const std::string& run_id, const std::string& owner);
  // Renews the lease; false when `owner` no longer holds it (the run left `running` or changed hands).
  bool heartbeat(const std::string& run_id, const std::string& owner);
  // Running runs whose heartbeat is older than `older_than_seconds`.
  std::vector<RunInfo> stale_runs(double older_than_seconds);

  // Reads the run's event log (a torn last line without '\n' is ignored), upserts one epochs row
  // per epoch event, on a `done` event the finals row, and from the `environment` of the last
  // `start` event that has one the worker's provenance (host, git commit and dirty flag, GPU
  // model, driver, LibTorch, CUDA, cuDNN; command line, start and end are left as they are), in
  // one transaction. Re-ingesting a log, or a longer version of it, never duplicates or loses a
  // row. The outcome is that of the records from byte `attempt_start` on (the log's size when the
  // current attempt was launched), so an attempt never inherits an earlier one's end. A line that
  // is not JSON or an event without its keys makes the outcome `unreadable` (naming the file and
  // line) and stores nothing. Throws StoreError for an unknown run or a database failure. A missing
  // log is an empty one.
  IngestResult ingest_events(const std::string& run_id, const std::string& events_jsonl_path,
                             int64_t attempt_start = 0);

  void record_provenance(const std::string& run_id, const Provenance& provenance);

  // Records a sweep's lambda0 choice for a group; a group already decided keeps its first choice
  // (returned), so a rerun never changes a choice that final runs were started with.
  Lambda0Choice record_lambda0_choice(int64_t sweep_id, const Lambda0Choice& choice);

  // Calibrations (schema 8): record upserts by its key; calibrations lists them all, by key.
  // StoreError for a non-positive throughput.
  void record_calibration(const Calibration& calibration);
  std::vector<Calibration> calibrations();
  // Every run with at least one epoch whose time was logged, with its mean seconds per epoch.
  std::vector<EpochTiming> epoch_timings();

  // Queries.
  std::vector<SweepInfo> list_sweeps();
  std::optional<RunInfo> find_run(const std::string& run_id);
  std::vector<RunInfo> runs_of_sweep(int64_t sweep_id);  // in registration order
  StateCounts counts_by_state(int64_t sweep_id);
  std::vector<EpochRow> epochs_of(const std::string& run_id);  // by epoch
  std::vector<FinalRow> finals_of(const std::vector<std::string>& run_ids);  // those that have one, in order
  std::optional<Provenance> provenance_of(const std::string& run_id);
  std::vector<Lambda0Choice> lambda0_choices(int64_t sweep_id);  // by group key

  // The Slurm backend's submissions (schema 4). record_slurm_intent stores a submission in state
  // `intent` with one task per run (task i runs run_ids[i]) and returns its id; StoreError for a
  // job name already used or an unknown run. set_slurm_submission moves it to `state` (and records
  // `job_id` when non-empty); finish_slurm_task marks one task settled. slurm_submissions lists a
  // sweep's submissions (every sweep's for sweep_id 0) by id, only those in state intent or
  // submitted when `open_only`.
  int64_t record_slurm_intent(int64_t sweep_id, const std::string& resource_class, const std::string& manifest_path,
                              const std::string& job_name, const std::vector<std::string>& run_ids);
  void set_slurm_submission(int64_t submission_id, const std::string& state, const std::string& job_id = "");
  void finish_slurm_task(int64_t submission_id, int64_t task);
  std::vector<SlurmSubmission> slurm_submissions(int64_t sweep_id, bool open_only);

 private:
  struct Impl;
  explicit ResultsStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace isda::results
