#include "train/run_session.h"

#include "common/exit_codes.h"
#include "distributed/collectives.h"
#include "support/device.h"
#include "support/run_environment.h"
#include "support/torch_compat.h"
#include "train/checkpoint.h"

#include <fmt/format.h>

#include <chrono>
#include <cstdlib>
#include <sstream>
#include <thread>
#include <tuple>

namespace isda::train {
namespace {

// Tests only: milliseconds rank 0 waits between a stop's checkpoint and its marker.
constexpr char kStopDelayVariable[] = "ISDA_TEST_STOP_DELAY_MS";

}  // namespace

std::string Activity::describe() const {
  if (step > 0) return fmt::format("epoch {}, step {} of {}", epoch, step, steps);
  if (epoch > 0) return fmt::format("epoch {}, {}", epoch, phase);
  return phase;
}

RunSession::RunSession(const TrainConfig& config, const TrainOptions& options, RunDirectory* run_dir, Activity& activity)
    : config_(config),
      options_(options),
      world_(options.world),
      activity_(activity),
      device_(support::resolve_device(config.device, options.world)),
      run_dir_(run_dir) {
  if (config.ranks != world_.size) {
    throw ConfigError(fmt::format("config: ranks: is {} but this process is rank {} of {} ({})", config.ranks, world_.rank,
                                  world_.size, world_.source));
  }
  if (config.threads > 0) torch::set_num_threads(static_cast<int>(config.threads));
  if (config.precision == "bf16" && !device_.is_cuda()) {
    throw ConfigError("config: precision: bf16 autocast needs a CUDA device (device is " + device_.str() + ")");
  }
  if (config.cuda_graph && !device_.is_cuda()) {
    throw ConfigError("config: cuda_graph: needs a CUDA device (device is " + device_.str() + ")");
  }
  if (config.cuda_graph && !compat::kHasCudaGraphs) {
    throw ConfigError("config: cuda_graph: this build's LibTorch has no CUDA graph support");
  }
  if (config.deterministic) {
    // cuBLAS reads this when it makes its first handle (at the first product on the device, later).
    // Kernels without a deterministic version warn rather than fail.
    setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
    at::globalContext().setDeterministicCuDNN(true);
    at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
  }
  if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(!config.deterministic);
  torch::manual_seed(config.seed);
  if (world_.distributed()) {
    activity_.set("joining the other ranks");
    communicator_ = std::make_unique<distributed::Communicator>(
        world_, device_, std::chrono::milliseconds(static_cast<int64_t>(config.dist_timeout * 1000)));
  }
}

RunSession::~RunSession() = default;

void RunSession::note(const std::string& text) const {
  if (options_.on_note) options_.on_note(text);
}

TrainResult RunSession::run(RunTask& task) {
  task_ = &task;
  int64_t epoch = 0, step = 0;
  bool logged_done = false;
  activity_.set("reading the checkpoint");
  // Whether there is a checkpoint to resume from: rank 0's run directory says, for every rank.
  if (distributed::broadcast_flag(communicator(), run_dir_ && run_dir_->has_checkpoint())) {
    std::tie(epoch, step) = resume(task);
    note(step == 0 ? fmt::format("resuming after epoch {}", epoch)
                   : fmt::format("resuming epoch {} at step {}", epoch + 1, step));
    if (run_dir_) logged_done = reconcile_epoch_events(*run_dir_, result_.epochs);
  }
  if (run_dir_) {
    run_dir_->clear_interrupted_mark();
    run_dir_->write_json(run_files::kConfig, to_json(config_));
    run_dir_->append_event(start_event(epoch, step, device_.str(), config_,
                                       support::describe_environment(device_.is_cuda(), std::max<int>(0, device_.index()))));
  }
  progress_notes_.emplace(run_dir_, config_.stall_limit);
  while (epoch < config_.epochs) {
    const auto metrics = task.train_epoch(epoch, step);
    result_.epochs.push_back(metrics);
    ++epoch;
    step = 0;
    activity_.set("writing the checkpoint", epoch);
    save_checkpoint(task, epoch, 0);  // checkpoint first: an event is never ahead of it
    if (run_dir_) {
      task.after_checkpoint(*run_dir_);
      run_dir_->append_event(epoch_event(metrics));
    }
    if (options_.on_epoch) options_.on_epoch(metrics);
    const int signal = distributed::max_over_ranks(communicator(), options_.stop_signal ? options_.stop_signal->load() : 0);
    if (signal != 0 && epoch < config_.epochs) stop(signal, epoch, 0);
  }
  task.finish(result_);
  if (run_dir_ && !logged_done) log_done(*run_dir_, result_);
  task_ = nullptr;
  return result_;
}

int RunSession::step_finished(int64_t epoch, int64_t steps_done) {
  progress_notes_->step_finished(epoch + 1, steps_done);
  return distributed::max_over_ranks(communicator(), options_.stop_signal ? options_.stop_signal->load() : 0);
}

void RunSession::stop_within_epoch(int signal, int64_t epoch, int64_t steps_done) {
  activity_.set("stopping on a signal");  // also what stop() says: the checkpoint below may fail
  save_checkpoint(*task_, epoch, steps_done);
  stop(signal, epoch, steps_done);
}

void RunSession::stop(int signal, int64_t epoch, int64_t step) {
  activity_.set("stopping on a signal");
  if (run_dir_) {
    if (const char* delay = std::getenv(kStopDelayVariable)) {  // tests: widen the window below
      std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
    }
    run_dir_->mark_interrupted(signal);
    run_dir_->append_event(events::interrupted_record(signal, epoch, step));
  }
  // No rank leaves before rank 0's checkpoint and marker are durable: under `srun
  // --kill-on-bad-exit` the first rank to exit with 128 + N gets the others killed.
  if (communicator_) communicator_->barrier();
  throw Interrupted(signal);
}

// Data parallel: every rank gathers (the task's collective), rank 0 writes. The meta's keys: the
// config, where the run stands, how many ranks wrote it, the epochs' metrics, then the task's.
void RunSession::save_checkpoint(RunTask& task, int64_t epoch, int64_t step) {
  if (!run_dir_ && !communicator_) return;
  task.gather_checkpoint_state();
  if (!run_dir_) return;
  nlohmann::json meta = {{"config", to_json(config_)}, {"epoch", epoch},         {"step", step},
                         {"ranks", world_.size},       {"history", nlohmann::json::array()}};
  for (const auto& m : result_.epochs) meta["history"].push_back(to_json(m));
  torch::serialize::OutputArchive archive;
  task.save(meta, archive);
  write_checkpoint_meta(archive, meta);
  std::ostringstream bytes;
  archive.save_to(bytes);
  run_dir_->write_checkpoint(bytes.str());
}

// Rank 0's checkpoint on every rank (no file system need be shared between nodes); the meta is
// read, and a checkpoint of another config or rank count refused, before any state is restored.
std::pair<int64_t, int64_t> RunSession::resume(RunTask& task) {
  const auto path = run_dir_ ? run_dir_->file(run_files::kCheckpoint) : std::string("rank 0's checkpoint.pt");
  const auto payload = distributed::broadcast_bytes(communicator(), run_dir_ ? run_dir_->read_checkpoint() : std::string());
  std::pair<int64_t, int64_t> at;
  open_checkpoint(payload, path, [&](const nlohmann::json& meta, torch::serialize::InputArchive& archive) {
    check_same_config(meta.at("config"), config_, path);
    const int64_t ranks = meta.value("ranks", int64_t{1});
    if (ranks != world_.size) {
      throw CheckpointError(fmt::format("{}: written by a run of {} rank(s), this one has {}: resume with ranks {} (each "
                                        "rank's share of a batch and its generator depend on it)",
                                        path, ranks, world_.size, ranks));
    }
    at = {meta.at("epoch").get<int64_t>(), meta.at("step").get<int64_t>()};
    for (const auto& m : meta.at("history")) result_.epochs.push_back(epoch_metrics_from_json(m));
    task.load(meta, archive);
  });
  return at;
}

TrainResult run_in_session(const TrainConfig& config, const TrainOptions& options,
                           const std::function<TrainResult(RunSession&)>& make_and_run) {
  std::optional<RunDirectory> owned;
  RunDirectory* run_dir = options.opened_run_dir;
  Activity activity;
  try {
    if (run_dir == nullptr && options.run_dir) run_dir = &owned.emplace(*options.run_dir);
    validate(config, "config");
    RunSession session(config, options, run_dir, activity);
    return make_and_run(session);
  } catch (const Interrupted&) {
    throw;
  } catch (const RunFailure&) {
    throw;
  } catch (const std::exception& e) {
    auto failure = failure_of(e);
    // A config or a data set is wrong wherever the run stands; anything else says where it failed.
    if (failure.exit_code != kExitUsage && failure.exit_code != kExitData && failure.exit_code != kExitBusy) {
      failure.reason = activity.describe() + ": " + failure.reason;
    }
    if (run_dir != nullptr && options.log_failures) log_failure(*run_dir, failure);
    throw RunFailure(failure);
  }
}

}  // namespace isda::train
