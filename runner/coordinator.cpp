#include "runner/coordinator.h"

#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "common/run_events.h"
#include "common/system.h"
#include "results/ingest.h"
#include "results/lambda0_choices.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"
#include "runner/cost_estimate.h"
#include "runner/gpu_use.h"
#include "runner/progress.h"
#include "runner/spec.h"
#include "runner/stall.h"
#include "runner/sweep.h"
#include "runner/worker.h"
#include "train/run_directory.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <ostream>
#include <set>
#include <thread>

namespace isda::runner {
namespace {

using results::RunState;
using common::host_name;
using common::now_seconds;
using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(200);
constexpr double kHeartbeatSeconds = 10;
constexpr int kLogTailLines = 20;
// How long an orphaned worker may take to checkpoint and exit after its SIGTERM before it is killed.
constexpr auto kOrphanGrace = std::chrono::seconds(30);
// How often one invocation resumes a run whose worker something else killed (the OOM killer, a
// user): beyond that it stays interrupted for the next invocation, and the exit code says so.
constexpr int kResumesAfterOutsideKills = 2;

bool is_isda_train(int pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return text.find("isda-train") != std::string::npos;
}

// Waits until nobody holds `run_dir`'s lock or `deadline` passes; true when it is free.
bool wait_for_release(const std::string& run_dir, Clock::time_point deadline) {
  while (train::RunDirectory::lock_holder(run_dir) != 0) {
    if (Clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

// A worker that a dead coordinator left behind holds its run directory's lock (its pid is in it).
// It got SIGTERM when that coordinator died (see Worker), so it is checkpointing: give it time to
// finish, then kill it. Only a process whose command line is isda-train is signalled. Returns true
// once the directory is free, false if something else holds it.
bool release_orphan(const std::string& run_dir) {
  // A holder is recognised by its command line, which for a moment it does not show: a claim being
  // handed to a starting worker has no pid yet, a child between fork and exec still shows isda-run's
  // command line, and an exiting worker shows none while it still holds the lock. Look again for up
  // to 3 s before deciding that something else holds the directory.
  int holder = train::RunDirectory::lock_holder(run_dir);
  for (int i = 0; i < 150 && (holder < 0 || (holder > 0 && holder != ::getpid() && !is_isda_train(holder))); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    holder = train::RunDirectory::lock_holder(run_dir);
  }
  if (holder == 0) return true;
  if (holder < 0 || holder == ::getpid() || !is_isda_train(holder)) return false;
  ::kill(holder, SIGTERM);
  if (wait_for_release(run_dir, Clock::now() + kOrphanGrace)) return true;
  ::kill(holder, SIGKILL);
  return wait_for_release(run_dir, Clock::now() + std::chrono::seconds(5));
}

struct Slot {
  std::string gpu;    // CUDA_VISIBLE_DEVICES of a worker on it: "" on a CPU slot
  std::string label;  // "cpu0", "gpu1"
};

struct Active {
  std::string run_id;
  std::string run_dir;
  std::string owner;
  std::vector<size_t> slots;  // one per rank of the run (config key `ranks`), on distinct GPUs
  std::unique_ptr<Worker> worker;
  int64_t log_start = 0;  // the event log's size at launch: this attempt's records come after it
  double last_heartbeat = 0;
  int64_t last_epoch = 0;
  double seconds_per_epoch = 0;
  std::optional<StallWatch> stall_watch;  // runner/stall.h
};

}  // namespace

namespace {

// The local backend's state for one sweep: its slots, the running workers, the display.
class LocalSweep {
 public:
  LocalSweep(const SweepOptions& o, const Spec& spec, results::ResultsStore& store, const std::atomic<int>& stop_requests,
             ProgressDisplay& display)
      : o_(o), spec_(spec), store_(store), stop_requests_(stop_requests), display_(display), started_(Clock::now()) {
    if (o.gpus.empty()) {
      for (int i = 0; i < std::max(1, o.cpu_slots); ++i) slots_.push_back({"", fmt::format("cpu{}", i)});
    } else {
      for (const int gpu : o.gpus) {
        for (int k = 0; k < std::max(1, o.per_gpu); ++k) {
          slots_.push_back({std::to_string(gpu), fmt::format("gpu{}", gpu)});
        }
      }
    }
    threads_ = o.threads_per_worker > 0
                   ? o.threads_per_worker
                   : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / static_cast<int>(slots_.size()));
    busy_.assign(slots_.size(), false);
  }

  // Runs every run of `plan` that is not done (retrying failures within the spec's budget) until
  // none is left or a stop is requested.
  void run(const SweepPlan& plan) {
    plan_ = &plan;
    config_of_run_.clear();  // the previous stage's plan is gone
    for (const auto& run : plan.runs) {
      config_of_run_[run.id] = &run.config;
      epochs_of_run_[run.id] = run.config.epochs;
      what_of_run_[run.id] = run.varying;
    }
    if (first_plan_) {
      recover_orphans(plan.sweep_id);
      first_plan_ = false;
    }
    std::deque<std::string> queue;
    for (const auto& info : runs_of_sweep(store_, plan.sweep_id)) {
      if (info.state == RunState::pending || info.state == RunState::interrupted) {
        queue.push_back(info.id);
      } else if (info.state == RunState::failed && retried_.insert(info.id).second) {
        if (info.fault == events::to_string(events::Fault::environment)) {
          log(fmt::format("retrying {}: its last attempt failed for the machine ({}); that does not count against "
                          "its retries",
                          info.id, first_line(info.error)));
        } else if (info.failures <= spec_.retries) {
          log(fmt::format("retrying {} (failed {} of {} allowed times: {})", info.id, info.failures, spec_.retries + 1,
                          first_line(info.error)));
        } else {
          continue;
        }
        set_state(store_, info.id, RunState::pending);
        queue.push_back(info.id);
      }
    }
    while ((!queue.empty() && !stopped()) || !active_.empty()) {
      handle_stop_requests(queue);
      launch(queue);
      std::this_thread::sleep_for(kPollInterval);
      poll(queue);
      refresh_display(queue);
    }
  }

  bool stopped() const { return handled_stop_ > 0; }

 private:
  // Runs left `running` by a coordinator that died: stop their orphaned workers, take in what they
  // logged, and mark them interrupted so they resume from their checkpoints.
  void recover_orphans(int64_t sweep_id) {
    for (const auto& info : runs_of_sweep(store_, sweep_id)) {
      if (info.state != RunState::running) continue;
      const auto run_dir = info.run_dir.empty() ? o_.runs_root + "/" + info.id : info.run_dir;
      if (!release_orphan(run_dir)) {
        log(fmt::format("{}: held by a process that is not an isda-train worker of this sweep; {} is left as it is",
                        run_dir, info.id));
        continue;
      }
      const auto seen = ingest_events(store_, info.id, run_dir + "/" + events::kLogFile);
      const auto tail = tail_of_file(run_dir + "/worker.log", kLogTailLines);
      if (seen.outcome == results::IngestResult::Outcome::done) {
        set_state(store_, info.id, RunState::done);
      } else if (seen.outcome == results::IngestResult::Outcome::unreadable) {
        record_failure(store_, info.id, events::Fault::run, seen.reason, tail);
      } else {
        set_state(store_, info.id, RunState::interrupted, "coordinator lost", tail);
      }
    }
  }

  // Ctrl-C: the first asks workers to checkpoint and stop, the second kills them.
  void handle_stop_requests(std::deque<std::string>& queue) {
    const int stops = stop_requests_.load();
    if (stops <= handled_stop_) return;
    handled_stop_ = stops;
    queue.clear();
    for (auto& a : active_) a.worker->signal(stops >= 2 ? SIGKILL : SIGTERM);
    log(stops >= 2 ? "stopping now (workers killed)" : "stopping: workers checkpoint and exit (Ctrl-C again to kill)");
  }

  // Starts workers on free slots. Each launch is recorded (the run goes `running`) before its
  // worker exists, and the run directory is claimed before that and handed to the worker, so a
  // coordinator killed at any instant leaves either no worker or one the next coordinator finds.
  void launch(std::deque<std::string>& queue) {
    while (!queue.empty() && !stopped()) {
      const auto id = queue.front();
      const auto info = find_run(store_, id);
      const auto launch_keys = launch_keys_of(info->config_json);
      const int ranks = launch_keys.ranks;
      const auto slots = free_slots(ranks);
      if (slots.empty()) {
        if (ranks > distinct_slots()) {  // can never start here: say so rather than wait forever
          queue.pop_front();
          const auto reason = fmt::format("needs {} {} (config key ranks), isda-run has {} ({})", ranks,
                                          o_.gpus.empty() ? "CPU slots" : "GPUs", distinct_slots(),
                                          o_.gpus.empty() ? "--cpu-slots" : "--gpus");
          start_attempt(store_, id, fmt::format("{}:{}", host_name(), ::getpid()));  // pending -> running -> failed
          record_failure(store_, id, events::Fault::run, reason);
          log(fmt::format("failed {} ({})", id, reason));
          continue;
        }
        break;  // waits, in order, for enough slots to free up
      }
      queue.pop_front();
      const auto run_dir = o_.runs_root + "/" + id;
      auto claim = claim_run_directory(id, run_dir);
      if (!claim) continue;
      Active a;
      a.run_id = id;
      a.run_dir = run_dir;
      a.slots = slots;
      a.last_epoch = info->last_epoch;
      a.owner = fmt::format("{}:{}", host_name(), ::getpid());
      a.log_start = train::RunDirectory::event_log_size(run_dir);
      start_attempt(store_, id, a.owner);
      try {
        common::write_file_atomically(run_dir + "/run.json", nlohmann::json::parse(info->config_json).dump(2) + "\n");
        a.worker = std::make_unique<Worker>(
            o_.worker_binary,
            std::vector<std::string>{"--config", run_dir + "/run.json", "--run-dir", run_dir, "--threads",
                                     std::to_string(threads_)},
            worker_environment(slots), run_dir + "/worker.log", claim->descriptor());
      } catch (const std::exception& e) {
        const auto* file = dynamic_cast<const common::FileError*>(&e);
        const bool machine = file != nullptr && common::is_environment_fault(file->error_number);
        record_failure(store_, id, machine ? events::Fault::environment : events::Fault::run, e.what());
        log(fmt::format("failed {} ({})", id, e.what()));
        continue;
      }
      claim.reset();  // the worker holds the lock now
      // What an earlier attempt's worker recorded of its environment stays until this one's start
      // event is taken in.
      auto provenance = provenance_of(store_, id).value_or(results::Provenance{});
      if (provenance.host.empty()) provenance.host = host_name();
      provenance.command_line = o_.worker_binary + " --config " + run_dir + "/run.json --run-dir " + run_dir;
      provenance.started = now_seconds();
      provenance.ended = std::nan("");
      record_provenance(store_, id, provenance);
      a.last_heartbeat = now_seconds();
      a.stall_watch.emplace(run_dir, launch_keys.stall_limit);
      for (const auto s : slots) busy_[s] = true;
      log(fmt::format("started {} on {} {}", id, label_of(slots), what_of_run_[id]));
      active_.push_back(std::move(a));
    }
  }

  // What launching a run needs of its config, read once: its ranks (the slots it takes, one per
  // rank) and its stall limit (0: the default).
  struct LaunchKeys {
    int ranks = 1;
    double stall_limit = 0;
  };
  static LaunchKeys launch_keys_of(const std::string& config_json) {
    const auto config = nlohmann::json::parse(config_json);
    LaunchKeys keys;
    if (const auto it = config.find("ranks"); it != config.end() && it->is_number_integer()) keys.ranks = std::max(1, it->get<int>());
    if (const auto it = config.find("stall_limit"); it != config.end() && it->is_number()) keys.stall_limit = it->get<double>();
    return keys;
  }

  // How many slots a run can take at once: one per GPU (its ranks need distinct GPUs), or per CPU slot.
  int distinct_slots() const {
    return o_.gpus.empty() ? static_cast<int>(slots_.size()) : static_cast<int>(o_.gpus.size());
  }

  // `ranks` free slots on distinct GPUs (any free CPU slots), or none if there are not enough.
  std::vector<size_t> free_slots(int ranks) const {
    std::vector<size_t> chosen;
    for (size_t s = 0; s < slots_.size() && static_cast<int>(chosen.size()) < ranks; ++s) {
      if (busy_[s]) continue;
      const bool same_gpu = !slots_[s].gpu.empty() && std::any_of(chosen.begin(), chosen.end(), [&](size_t c) {
        return slots_[c].gpu == slots_[s].gpu;
      });
      if (!same_gpu) chosen.push_back(s);
    }
    if (static_cast<int>(chosen.size()) < ranks) chosen.clear();
    return chosen;
  }

  // CUDA_VISIBLE_DEVICES: the GPUs of the slots, in order (rank r drives the r-th); "" on CPU slots.
  std::vector<std::pair<std::string, std::string>> worker_environment(const std::vector<size_t>& slots) const {
    std::string gpus;
    for (const auto s : slots) {
      if (slots_[s].gpu.empty()) continue;
      gpus += (gpus.empty() ? "" : ",") + slots_[s].gpu;
    }
    return {{"CUDA_VISIBLE_DEVICES", gpus}};
  }

  std::string label_of(const std::vector<size_t>& slots) const {
    std::string label;
    for (const auto s : slots) label += (label.empty() ? "" : "+") + slots_[s].label;
    return label;
  }

  // The run directory's lock for a new worker; an orphan that holds it is stopped first. Empty
  // (said in the log) when something else holds it: no second worker ever starts on a claimed
  // directory, and the run stays as it is for a later invocation.
  std::optional<train::RunDirectoryClaim> claim_run_directory(const std::string& id, const std::string& run_dir) {
    for (int attempt = 0; attempt < 2; ++attempt) {
      try {
        return std::optional<train::RunDirectoryClaim>(std::in_place, run_dir);
      } catch (const train::RunDirectoryBusy& e) {
        if (attempt == 1 || !release_orphan(run_dir)) {
          log(fmt::format("not starting {}: {}", id, e.what()));
          return std::nullopt;
        }
      }
    }
    return std::nullopt;
  }

  // Heartbeats and progress of running workers; the outcome of finished ones.
  void poll(std::deque<std::string>& queue) {
    for (auto it = active_.begin(); it != active_.end();) {
      auto& a = *it;
      if (!a.worker->finished()) {
        if (now_seconds() - a.last_heartbeat > kHeartbeatSeconds) {
          heartbeat(store_, a.run_id, a.owner);
          take_in_epochs(a);
          a.last_heartbeat = now_seconds();
        }
        const auto verdict = a.stall_watch->check(a.worker->pid());
        if (verdict.kind != StallWatch::Verdict::Kind::quiet) log(fmt::format("{}: {}", a.run_id, verdict.message));
        ++it;
        continue;
      }
      finish(a, queue);
      for (const auto s : a.slots) busy_[s] = false;
      it = active_.erase(it);
    }
  }

  void take_in_epochs(Active& a) {
    const auto seen = ingest_events(store_, a.run_id, a.run_dir + "/events.jsonl");
    if (seen.last_epoch <= a.last_epoch) return;
    a.last_epoch = seen.last_epoch;
    const auto epochs = epochs_of(store_, a.run_id);
    if (!epochs.empty() && epochs.back().seconds > 0) {
      a.seconds_per_epoch = epochs.back().seconds;
      epoch_seconds_sum_ += a.seconds_per_epoch;
      ++epoch_seconds_count_;
    }
    if (!display_.live()) log(fmt::format("{} epoch {}/{}", a.run_id, a.last_epoch, epochs_of_run_[a.run_id]));
  }

  // Sets the state of a run whose worker exited from what this attempt logged and its exit code.
  void finish(Active& a, std::deque<std::string>& queue) {
    using Outcome = results::IngestResult::Outcome;
    const int code = a.worker->exit_code();
    const auto seen = ingest_events(store_, a.run_id, a.run_dir + "/" + events::kLogFile, a.log_start);
    const auto tail = tail_of_file(a.run_dir + "/worker.log", kLogTailLines);
    auto provenance = provenance_of(store_, a.run_id).value_or(results::Provenance{});
    provenance.ended = now_seconds();
    record_provenance(store_, a.run_id, provenance);
    if (seen.outcome == Outcome::done) {  // complete, even if the worker was killed right after
      set_state(store_, a.run_id, RunState::done);
      log(fmt::format("done {}", a.run_id));
    } else if (a.stall_watch->stalled()) {  // however it ended after the stall watch stopped it
      fail(a.run_id, events::Fault::stalled, a.stall_watch->stalled_reason(), tail, queue);
    } else if (seen.outcome == Outcome::unreadable) {
      fail(a.run_id, events::Fault::run, seen.reason, tail, queue);
    } else if (seen.outcome == Outcome::interrupted || code > 128) {
      const int signal = seen.outcome == Outcome::interrupted ? seen.signal : code - 128;
      const auto info = find_run(store_, a.run_id);
      const auto reached = info && info->last_epoch > 0 ? fmt::format(", {} epochs done", info->last_epoch) : std::string();
      set_state(store_, a.run_id, RunState::interrupted,
                fmt::format("stopped by signal {}{}", signal,
                            seen.outcome == Outcome::interrupted ? " after checkpointing" : ""),
                tail);
      // A Ctrl-C reaches the workers (the terminal's process group) as it reaches isda-run, which may
      // not have handled it yet: a stop asked of isda-run is a stop, not a kill from outside.
      if (stopped() || stop_requests_.load() > 0) {
        log(fmt::format("interrupted {}{}{}; rerun to resume it", a.run_id, reached,
                        seen.outcome == Outcome::interrupted ? ", checkpointed" : ""));
      } else if (++outside_kills_[a.run_id] <= kResumesAfterOutsideKills) {
        set_state(store_, a.run_id, RunState::pending);
        queue.push_back(a.run_id);
        log(fmt::format("interrupted {} (signal {}, not sent by isda-run); resuming it", a.run_id, signal));
      } else {
        log(fmt::format("interrupted {} (signal {}) again; left interrupted, rerun to resume it", a.run_id, signal));
      }
    } else if (code == kExitEnvironment || (seen.outcome == Outcome::failed && seen.fault == events::Fault::environment)) {
      const auto why = !seen.reason.empty() ? seen.reason : fmt::format("isda-train exited with code {}", code);
      fail(a.run_id, events::Fault::environment, why, tail, queue);
    } else {
      const auto why = seen.outcome == Outcome::failed && !seen.reason.empty()
                           ? seen.reason
                           : fmt::format("isda-train exited with code {} before logging why", code);
      fail(a.run_id, seen.outcome == Outcome::failed ? seen.fault : events::Fault::run, why, tail, queue);
    }
  }

  // Records a failure; a run fault is retried while the spec's retries last, a fault of the
  // machine is left for a rerun (retrying at once would meet the same full disk) and not charged.
  void fail(const std::string& id, events::Fault fault, const std::string& why, const std::string& tail,
            std::deque<std::string>& queue) {
    record_failure(store_, id, fault, why, tail);
    const auto info = find_run(store_, id);
    if (fault == events::Fault::environment) {
      log(fmt::format("failed {} for the machine ({}); not counted against its retries: rerun once it is fixed", id, why));
    } else if (!stopped() && info && info->failures <= spec_.retries) {
      set_state(store_, id, RunState::pending);
      queue.push_back(id);
      retried_.insert(id);
      log(fmt::format("failed {} ({}), retrying", id, why));
    } else {
      log(fmt::format("failed {} ({}); its log: {}/worker.log", id, why, o_.runs_root + "/" + id));
    }
  }

  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  ProgressSnapshot snapshot(const std::deque<std::string>& queue) {
    ProgressSnapshot p;
    p.sweep = plan_->name;
    p.counts = counts_by_state(store_, plan_->sweep_id);
    p.waiting = plan_->waiting_runs;
    p.elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    for (const auto& a : active_) {
      p.active.push_back({label_of(a.slots), a.run_id, what_of_run_[a.run_id], a.last_epoch, epochs_of_run_[a.run_id],
                          a.seconds_per_epoch});
    }
    p.eta = eta(queue);
    p.gpu_use = gpu_use_;
    return p;
  }

  // Seconds per epoch of a run: its own last epoch's once it has one, else the cost model's estimate
  // (runner/cost_estimate.h: earlier runs of the same model, or a calibration), else the mean epoch
  // of this sweep so far; 0 when none is known.
  double seconds_per_epoch_of(const std::string& id, double measured) {
    if (measured > 0) return measured;
    const auto now = Clock::now();
    if (!cost_model_ || now - cost_model_built_ > std::chrono::seconds(60)) {  // takes in the epochs since
      cost_model_.emplace(CostModel::from_store(&store_, !o_.gpus.empty()));
      cost_model_built_ = now;
    }
    if (const auto found = config_of_run_.find(id); found != config_of_run_.end()) {
      if (const auto cost = cost_model_->epoch_cost(*found->second)) return cost->seconds;
    }
    return epoch_seconds_count_ > 0 ? epoch_seconds_sum_ / static_cast<double>(epoch_seconds_count_) : 0;
  }

  // The ETA: the running runs' rest, then the queue in order on the slot that frees first, then the
  // runs waiting for their lambda0; negative when a run's epoch time is unknown.
  double eta(const std::deque<std::string>& queue) {
    std::vector<double> loads(slots_.size(), 0.0);
    for (const auto& a : active_) {
      const double seconds = seconds_per_epoch_of(a.run_id, a.seconds_per_epoch);
      if (!(seconds > 0)) return -1;
      const double rest = seconds * static_cast<double>(std::max<int64_t>(0, epochs_of_run_[a.run_id] - a.last_epoch));
      for (const auto slot : a.slots) loads[slot] = rest;  // a data-parallel run holds all its slots
    }
    std::vector<WideRun> runs;
    double known = 0;
    for (const auto& id : queue) {
      const double seconds = seconds_per_epoch_of(id, 0);
      if (!(seconds > 0)) return -1;
      const auto config = config_of_run_.find(id);
      runs.push_back({seconds * static_cast<double>(epochs_of_run_[id]),
                      config != config_of_run_.end() ? config->second->ranks : 1});
      known += runs.back().seconds;
    }
    if (plan_->waiting_runs > 0) {  // like the runs known so far, on average
      if (runs.empty()) return -1;
      for (int64_t i = 0; i < plan_->waiting_runs; ++i) runs.push_back({known / static_cast<double>(queue.size()), 1});
    }
    return list_schedule(loads, runs);
  }

  void refresh_display(const std::deque<std::string>& queue) {
    const auto now = Clock::now();
    if (!o_.gpus.empty() && now - last_gpu_query_ > gpu_query_interval_) {
      gpu_use_ = query_gpu_use();
      last_gpu_query_ = now;
      // A hung nvidia-smi costs its whole time limit: ask it far less often while it is slow.
      gpu_query_interval_ = Clock::now() - now > std::chrono::seconds(1) ? std::chrono::seconds(60) : std::chrono::seconds(5);
      if (!display_.live() && now - last_gpu_log_ > std::chrono::minutes(1)) {
        for (const auto& line : gpu_use_) log(line);
        last_gpu_log_ = now;
      }
    }
    if (display_.live()) display_.update(snapshot(queue));
  }

  void log(const std::string& text) {
    const auto counts = counts_by_state(store_, plan_->sweep_id);
    const double elapsed = std::chrono::duration<double>(Clock::now() - started_).count();
    display_.event(fmt::format("isda-run: [{} done, {} running, {} failed, {} pending, {}] {}", counts.done, counts.running,
                               counts.failed, counts.pending + counts.interrupted, format_duration(elapsed), text));
  }

  const SweepOptions& o_;
  const Spec& spec_;
  results::ResultsStore& store_;
  const std::atomic<int>& stop_requests_;
  ProgressDisplay& display_;
  const SweepPlan* plan_ = nullptr;
  std::vector<Slot> slots_;
  std::vector<bool> busy_;
  int threads_ = 1;
  std::vector<Active> active_;
  std::map<std::string, int64_t> epochs_of_run_;
  std::map<std::string, const train::TrainConfig*> config_of_run_;  // into *plan_
  std::optional<CostModel> cost_model_;
  Clock::time_point cost_model_built_{};
  std::map<std::string, std::string> what_of_run_;
  Clock::time_point started_;
  Clock::time_point last_gpu_query_{};
  Clock::duration gpu_query_interval_ = std::chrono::seconds(5);
  Clock::time_point last_gpu_log_{};
  std::vector<std::string> gpu_use_;
  double epoch_seconds_sum_ = 0;
  int64_t epoch_seconds_count_ = 0;
  std::map<std::string, int> outside_kills_;  // per run, in this invocation
  std::set<std::string> retried_;              // failed runs already given their retry here
  int handled_stop_ = 0;
  bool first_plan_ = true;
};

// --dry-run: the runs and their states, from a store that may not exist yet.
int list_plan(const SweepOptions& o, const Spec& spec, std::vector<PlannedRun> expanded, std::ostream& out) {
  std::optional<results::ResultsStore> store;
  if (std::filesystem::exists(o.db_path)) store = results::ResultsStore::open(o.db_path, results::ResultsStore::Mode::reader);
  const auto final_runs = expanded;  // what the final stage runs, also while its lambda0 is undecided
  const auto plan =
      plan_sweep(spec, std::move(expanded), o.profile, store ? &*store : nullptr, o.runs_root, /*dry_run=*/true);
  out << fmt::format("{}: sweep {}: {} runs{} (profile {})\n", o.spec_path, plan.name, plan.runs.size() + plan.waiting_runs,
                     plan.waiting_runs > 0 ? fmt::format(", {} of them after the runs they depend on", plan.waiting_runs) : "",
                     o.profile.empty() ? "paper" : o.profile);
  for (const auto& run : plan.runs) {
    const auto info = store ? find_run(*store, run.id) : std::nullopt;
    out << fmt::format("{}  {:<11} {}\n", run.id, info ? results::to_string(info->state) : "new", run.varying);
  }
  for (const auto& note : plan.notes) out << note << '\n';
  print_sweep_estimate(o, spec, plan, final_runs, store ? &*store : nullptr, out);
  return 0;
}

}  // namespace

int run_sweep(const SweepOptions& o, const std::atomic<int>& stop_requests, std::ostream& out, std::ostream& err) {
  const auto spec = load_spec(o.spec_path);
  auto expanded = expand(spec, o.profile);  // a bad profile or grid fails before the store is touched
  if (o.dry_run) return list_plan(o, spec, std::move(expanded), out);
  auto store = results::ResultsStore::open(o.db_path, results::ResultsStore::Mode::writer);

  const bool live = o.live_display && stderr_is_terminal();
  ProgressDisplay display(err, live, live ? terminal_width() : 100);
  LocalSweep sweep(o, spec, store, stop_requests, display);
  // Stage by stage: the prerequisite runs (lambda0 searches, generators) first; once they are done,
  // the runs that depend on them join.
  SweepPlan plan;
  for (bool first = true;; first = false) {
    const auto previous_waiting = plan.waiting_runs;
    // Each stage after the first expands again (in a fraction of the time its runs take).
    plan = plan_sweep(spec, first ? std::move(expanded) : expand(spec, o.profile), o.profile, &store, o.runs_root,
                      /*dry_run=*/false);
    if (first) {
      display.event(fmt::format("isda-run: {}: {} runs ({} new){}", plan.name, plan.runs.size(), plan.added,
                                plan.waiting_runs > 0 ? fmt::format(", {} more after the runs they depend on", plan.waiting_runs)
                                                      : std::string()));
    }
    for (const auto& note : plan.notes) display.event("isda-run: " + note);
    if (!first && plan.waiting_runs == previous_waiting && plan.added == 0) break;  // nothing new to run
    sweep.run(plan);
    if (sweep.stopped() || plan.waiting_runs == 0) break;
  }
  display.finish();
  print_finals(plan, store, out);
  const auto counts = counts_by_state(store, plan.sweep_id);
  out << fmt::format("{}: {} done, {} failed, {} interrupted, {} pending of {} runs{}\n", plan.name, counts.done,
                     counts.failed, counts.interrupted, counts.pending, counts.total(),
                     plan.waiting_runs > 0 ? fmt::format(" ({} more wait for runs they depend on)", plan.waiting_runs) : "");
  if (sweep.stopped()) return 130;
  // 0 only when every run of the spec (under this profile) is done.
  return counts.done == counts.total() && plan.waiting_runs == 0 ? kExitOk : kExitFailed;
}

int print_status(const std::string& db_path, const std::string& spec_path, std::ostream& out) {
  auto store = results::ResultsStore::open(db_path, results::ResultsStore::Mode::reader);
  std::string only;
  if (!spec_path.empty()) only = load_spec(spec_path).name;
  const auto sweeps = list_sweeps(store);
  if (sweeps.empty()) out << db_path << ": no sweeps yet\n";
  for (const auto& sweep : sweeps) {
    if (!only.empty() && sweep.name != only && sweep.name.rfind(only + ":", 0) != 0) continue;
    const auto c = counts_by_state(store, sweep.id);
    out << fmt::format("{:<24} {:>5} runs: {} done, {} running, {} failed, {} interrupted, {} pending\n", sweep.name,
                       c.total(), c.done, c.running, c.failed, c.interrupted, c.pending);
    for (const auto& choice : lambda0_choices(store, sweep.id)) {
      out << fmt::format("  lambda0 {} for {} (lowest mean {})\n", choice.lambda0, choice.group_key, choice.metric);
    }
    for (const auto& run : runs_of_sweep(store, sweep.id)) {
      if (run.state != RunState::running && run.state != RunState::failed && run.state != RunState::interrupted) continue;
      const auto config = nlohmann::json::parse(run.config_json, nullptr, false);
      const auto epochs = config.is_object() && config.contains("epochs") ? config["epochs"].dump() : "?";
      std::string line = fmt::format("  {} {:<8} epoch {}/{}", run.id, results::to_string(run.state), run.last_epoch, epochs);
      if (run.state == RunState::running && !std::isnan(run.lease_heartbeat)) {
        line += fmt::format(", heartbeat {} ago", format_duration(now_seconds() - run.lease_heartbeat));
      }
      if (!run.error.empty()) line += "  " + run.error.substr(0, run.error.find('\n'));
      out << line << '\n';
    }
  }
  return 0;
}

}  // namespace isda::runner
