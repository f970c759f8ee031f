#pragma once
// The harness every run's task trains in, written once for the classifier (train/trainer.cpp) and
// the generators (core/gan): the execution set-up (device, threads, determinism, seed, the ranks'
// communicator), resume from a checkpoint, the run directory's records (config.json, the `start`,
// `epoch`, `interrupted` and `done` events, progress notes for isda-run's stall watch), the
// checkpoint -> event -> signal order after every epoch, and the stop handshake of the ranks. A
// task says how to train an epoch and what its checkpoint holds; it never writes a record itself.
//
// Contract of the records (ARCHITECTURE.md, run lifecycle): a checkpoint is written before the
// epoch's event, so an event is never ahead of a checkpoint; a stop checkpoints, writes the
// `interrupted` marker and record, waits for every rank, then throws Interrupted.

#include "distributed/communicator.h"
#include "train/run_log.h"
#include "train/trainer.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

namespace isda::train {

// What a run is doing, for the reason of a failure ("epoch 2, step 14 of 390: ..."). Set as the
// run goes and formatted only when it fails: nothing is built per step.
struct Activity {
  const char* phase = "starting";
  int64_t epoch = 0;  // 1-based epoch it concerns; 0: none
  int64_t step = 0;   // 1-based step while training; 0: not in a step
  int64_t steps = 0;

  void set(const char* what, int64_t in_epoch = 0) { *this = Activity{what, in_epoch}; }
  std::string describe() const;
};

class RunSession;

// What a run trains. Its objects live in the task; the harness drives them.
class RunTask {
 public:
  virtual ~RunTask() = default;
  // Trains epoch `epoch` (0-based) from step `first_step` (> 0 when resuming inside it, with the
  // partial sums load() restored) and returns its metrics. After every step it calls
  // session.step_finished(); to stop inside the epoch it calls session.stop_within_epoch().
  virtual EpochMetrics train_epoch(int64_t epoch, int64_t first_step) = 0;
  // Collective, on every rank, before a checkpoint is written (the classifier gathers the ranks'
  // generators here).
  virtual void gather_checkpoint_state() {}
  // Adds the task's state to the checkpoint of rank 0: its keys of `meta` (the partial sums of an
  // epoch in progress, anything else it needs) and its objects into `archive`.
  virtual void save(nlohmann::json& meta, torch::serialize::OutputArchive& archive) = 0;
  // Restores what save() wrote (every rank: the payload is rank 0's). Throws to refuse.
  virtual void load(const nlohmann::json& meta, torch::serialize::InputArchive& archive) = 0;
  // With a run directory, after an epoch's checkpoint and before its event (a generator's samples).
  virtual void after_checkpoint(RunDirectory& /*run_dir*/) {}
  // The final figures of `result` from its epochs.
  virtual void finish(TrainResult& result) = 0;
};

class RunSession {
 public:
  // Sets up execution for `config` (validated): checks the config's execution keys against the
  // device, sets threads, determinism and torch's seed, and joins the other ranks (ranks > 1).
  // Throws ConfigError, std::runtime_error (no such device), distributed::DistributedError.
  RunSession(const TrainConfig& config, const TrainOptions& options, RunDirectory* run_dir, Activity& activity);
  ~RunSession();

  const TrainConfig& config() const { return config_; }
  const torch::Device& device() const { return device_; }
  const distributed::World& world() const { return world_; }
  distributed::Communicator* communicator() const { return communicator_.get(); }  // null: one process
  RunDirectory* run_dir() const { return run_dir_; }  // null: none (ranks other than 0 have none)
  Activity& activity() const { return activity_; }

  // Trains `task` from the run directory's checkpoint (if any) to the config's last epoch; returns
  // every epoch's metrics and the final figures. Throws Interrupted after a stop.
  TrainResult run(RunTask& task);

  // After step `steps_done` of `epoch` (0-based): notes the progress for isda-run's stall watch and
  // returns the stop signal some rank received (0: none; collective with several ranks).
  int step_finished(int64_t epoch, int64_t steps_done);
  // Stops inside `epoch` after `steps_done` steps (the task has set its partial sums): checkpoints,
  // marks the run interrupted, waits for the other ranks and throws Interrupted(signal).
  [[noreturn]] void stop_within_epoch(int signal, int64_t epoch, int64_t steps_done);

 private:
  void note(const std::string& text) const;
  // Restores `task` and the epochs so far from rank 0's checkpoint; returns (epoch, step) to go on from.
  std::pair<int64_t, int64_t> resume(RunTask& task);
  void save_checkpoint(RunTask& task, int64_t epoch, int64_t step);
  [[noreturn]] void stop(int signal, int64_t epoch, int64_t step);

  TrainConfig config_;
  const TrainOptions& options_;
  distributed::World world_;
  Activity& activity_;
  torch::Device device_;
  RunDirectory* run_dir_;  // not owned
  std::unique_ptr<distributed::Communicator> communicator_;
  RunTask* task_ = nullptr;  // while run() runs
  TrainResult result_;       // the epochs completed so far
  std::optional<ProgressNotes> progress_notes_;
};

// Runs what `make_and_run` builds in a session for `config`: opens the run directory of `options`
// (unless already opened), validates the config, and turns any failure but Interrupted into a
// RunFailure whose reason says what the run was doing, logged as a `failed` record first (with a
// run directory and options.log_failures). One entry for every task.
TrainResult run_in_session(const TrainConfig& config, const TrainOptions& options,
                           const std::function<TrainResult(RunSession&)>& make_and_run);

}  // namespace isda::train
