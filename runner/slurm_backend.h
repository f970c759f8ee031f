#pragma once
// The Slurm backend of isda-run: a sweep's runs become job arrays over manifests of run ids (one
// array per resource class), each task runs isda-train for its run and writes only its run
// directory; the coordinator never shares the database with the cluster. It reconciles the store
// with the scheduler (squeue, sacct where accounting works) and the runs' event logs, and records
// each submission before sbatch runs, so that a coordinator killed at any moment never submits a
// run twice. Runs go through the same lifecycle as with the local backend (results/run_ledger.h).

#include "results/ingest.h"
#include "results/run_ledger.h"
#include "results/slurm_submissions.h"
#include "results/store.h"
#include "runner/coordinator.h"
#include "runner/slurm_commands.h"

#include <nlohmann/json.hpp>

#include <atomic>
#include <functional>
#include <iosfwd>
#include <set>
#include <string>
#include <vector>

namespace isda::runner {

struct SlurmOptions {
  std::string partition;                 // --partition; "" = the cluster's default
  std::string gres;                      // --gres, e.g. gpu:1; not asked for runs whose config says device cpu
  std::string time;                      // --time, e.g. 04:00:00; "" = the partition's default
  int array_limit = 0;                   // at most this many tasks of an array run at once; 0 = no limit
  int signal_lead = 300;                 // SIGUSR1 this many seconds before the time limit: checkpoint, requeue
  int cpus_per_task = 1;                 // --cpus-per-task, also isda-train's --threads
  std::vector<std::string> sbatch_args;  // passed to sbatch as they are, after the backend's own
  bool wait = false;                     // poll until the sweep is finished
  double poll_seconds = 5;               // between syncs while waiting
};

// What a run asks the scheduler for; runs with equal classes share a job array.
struct ResourceClass {
  std::string partition, gres, time;
  int cpus_per_task = 1;  // per task: per rank of a data-parallel run
  int ranks = 1;          // tasks per run (config key `ranks`): one per rank, started by srun, one GPU each
  std::string label() const;  // e.g. "partition=gpu gres=gpu:1 cpus=4 time=04:00:00" (+ " ranks=8")
};
ResourceClass resource_class_of(const nlohmann::json& config, const SlurmOptions& options);

// sbatch's arguments for one job array of `tasks` tasks (--parsable is the scheduler's): name, array
// range and limit, resources, --requeue, --signal=B:USR1@lead, output files under `slurm_dir`, then
// the passthrough arguments, then the script.
std::vector<std::string> sbatch_arguments(const SlurmOptions& options, const ResourceClass& resources,
                                          const std::string& job_name, size_t tasks, const std::string& slurm_dir,
                                          const std::string& script_path);

// The batch script of a submission (bash): maps SLURM_ARRAY_TASK_ID to the run on that line of the
// manifest, records "<job name> <array job>_<task> <restarts>" in the run directory's `slurm-job`,
// runs isda-train in the background with its output appended to worker.log, forwards SIGUSR1 and
// SIGTERM to it, and after a SIGUSR1 checkpoint (exit code 138) requeues its own task. Paths must
// be absolute (the script runs on the compute nodes).
// With ranks > 1 the worker is started by `srun` (one task per rank, killed together when one fails).
std::string job_script(const std::string& manifest_path, const std::string& runs_root, const std::string& worker_binary,
                       int ranks = 1);

// The manifest: one run id per line; array task i runs line i + 1. Written atomically.
void write_manifest(const std::string& path, const std::vector<std::string>& run_ids);
std::vector<std::string> read_manifest(const std::string& path);

// A job name no other submission has: "isda.<sweep name, sanitized>.<random hex>".
std::string new_job_name(const std::string& sweep_name);

// Where runs are submitted from and what runs them.
struct SubmitSettings {
  SlurmOptions options;
  std::string worker_binary;  // isda-train (made absolute)
};

// The backend's state machine over one store. Not thread-safe. `log` receives one line per change.
class SlurmBackend {
 public:
  SlurmBackend(results::ResultsStore& store, Scheduler& scheduler, std::function<void(const std::string&)> log);

  // An intent younger than this whose job the scheduler does not (yet) know is left alone: its
  // sbatch may still be on its way. Older ones are abandoned and their runs submitted again.
  void set_intent_grace(double seconds) { intent_grace_ = seconds; }

  // Brings the store up to date for the open submissions of `sweep_id` (0: every sweep): intents
  // whose job the scheduler knows (or whose tasks left their mark in a run directory) become
  // submitted; each unsettled task's run log is ingested and the run follows its task: running
  // when the task runs, interrupted when it was requeued, and when the task ended: done, failed
  // (with the log's tail) or interrupted (it has a checkpoint; resumable); a run whose task never
  // started stays as it was. Throws SlurmError when the scheduler cannot be asked, StoreError.
  void sync(int64_t sweep_id);

  // Submits every run of the sweep that should run and is in no open submission: pending,
  // interrupted, and failed within `retries` (set pending again). Writes each run's run.json, then
  // per resource class a manifest and a job script under <runs root>/.slurm/, records the intent,
  // runs sbatch and records the job id. Returns the number of runs submitted. Throws SlurmError
  // (the intent is then abandoned), StoreError.
  int64_t submit(int64_t sweep_id, const std::string& sweep_name, int retries, const SubmitSettings& settings);

  // Runs in unsettled tasks of the sweep's open submissions (queued, running, or not yet known).
  std::set<std::string> queued_runs(int64_t sweep_id);

  // Cancels the sweep's open submissions (scancel of their arrays; by name for intents).
  void cancel(int64_t sweep_id);

 private:
  void update_task(const results::SlurmSubmission& submission, const results::SlurmTaskRow& task, const JobTask* status);
  void settle_ended(const results::RunInfo& run, const results::IngestResult& seen, const std::string& owner,
                    const std::string& job_name, const JobTask* status);
  void start(const std::string& run_id, const std::string& owner, const std::string& node, const std::string& run_dir);

  results::ResultsStore& store_;
  Scheduler& scheduler_;
  std::function<void(const std::string&)> log_;
  double intent_grace_ = 15;
  std::string worker_binary_;  // for provenance
};

// isda-run SPEC --backend slurm: sync, plan (registering lambda0 final runs once decidable), submit;
// with `slurm.wait`, again every poll interval until the sweep is finished. Returns 0 (submitted,
// or with wait: all done), 1 (with wait: runs failed for good or wait for a lambda0 search that
// cannot finish), 130 (stopped while waiting; the jobs keep running). Throws SpecError, StoreError,
// SlurmError.
int run_slurm_sweep(const SweepOptions& sweep, const SlurmOptions& slurm, Scheduler& scheduler,
                    const std::atomic<int>& stop_requests, std::ostream& out, std::ostream& err);

// isda-run sync [SPEC]: syncs every open submission of the store, then prints the status.
int sync_slurm(const std::string& db_path, const std::string& spec_path, Scheduler& scheduler, std::ostream& out,
               std::ostream& err);

// isda-run cancel SPEC: cancels the sweep's jobs and waits (up to a few minutes) until their tasks
// ended and their runs are settled: interrupted (resumable) or still pending. Returns 0, or 1 when
// jobs outlived the wait.
int cancel_slurm(const SweepOptions& sweep, Scheduler& scheduler, std::ostream& out, std::ostream& err);

// The sweep's runs in unsettled Slurm tasks (0 without a store or a sweep): the local backend
// refuses to run a sweep whose runs are out on Slurm. Throws SpecError.
int64_t runs_out_on_slurm(const SweepOptions& sweep);

// For isda-run status: syncs first when the store has open Slurm submissions and no coordinator
// holds it; problems are reported on `err`, never thrown.
void sync_before_status(const std::string& db_path, Scheduler& scheduler, std::ostream& err);

}  // namespace isda::runner
