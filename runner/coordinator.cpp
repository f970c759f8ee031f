#include "runner/coordinator.h"

#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "common/run_events.h"
#include "common/run_files.h"
#include "common/system.h"
#include "results/ingest.h"
#include "results/lambda0_choices.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"
#include "runner/attempt_outcome.h"
#include "runner/cost_estimate.h"
#include "runner/gpu_use.h"
#include "runner/progress.h"
#include "runner/spec.h"
#include "runner/stall.h"
#include "runner/sweep.h"
#include "runner/sweep_view.h"
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
// How often one invocation resumes a run whose worker something else killed (the OOM killer, a
// user): beyond that it stays interrupted for the next invocation, and the exit code says so.
constexpr int kResumesAfterOutsideKills = 2;

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
      : o_(o), spec_(spec), store_(store), stop_requests_(stop_requests) {
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
    view_.emplace(o, store, display, slots_.size());
  }

  // Runs every run of `plan` that is not done (retrying failures within the spec's budget) until
  // none is left or a stop is requested.
  void run(const SweepPlan& plan) {
    view_->set_plan(plan);
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
      const auto seen = ingest_events(store_, info.id, run_files::path(run_dir, run_files::kEvents));
      const auto tail = tail_of_file(run_files::path(run_dir, run_files::kWorkerLog), kLogTailLines);
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
        common::write_file_atomically(run_files::path(run_dir, run_files::kRunConfig), nlohmann::json::parse(info->config_json).dump(2) + "\n");
        a.worker = std::make_unique<Worker>(
            o_.worker_binary,
            std::vector<std::string>{"--config", run_files::path(run_dir, run_files::kRunConfig), "--run-dir", run_dir, "--threads",
                                     std::to_string(threads_)},
            worker_environment(slots), run_files::path(run_dir, run_files::kWorkerLog), claim->descriptor());
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
      provenance.command_line = o_.worker_binary + " --config " + run_files::path(run_dir, run_files::kRunConfig) + " --run-dir " + run_dir;
      provenance.started = now_seconds();
      provenance.ended = std::nan("");
      record_provenance(store_, id, provenance);
      a.last_heartbeat = now_seconds();
      a.stall_watch.emplace(run_dir, launch_keys.stall_limit);
      for (const auto s : slots) busy_[s] = true;
      log(fmt::format("started {} on {} {}", id, label_of(slots), view_->what_of(id)));
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
    const auto seen = ingest_events(store_, a.run_id, run_files::path(a.run_dir, run_files::kEvents));
    if (seen.last_epoch <= a.last_epoch) return;
    a.last_epoch = seen.last_epoch;
    const auto epochs = epochs_of(store_, a.run_id);
    if (!epochs.empty() && epochs.back().seconds > 0) {
      a.seconds_per_epoch = epochs.back().seconds;
      view_->epoch_measured(a.seconds_per_epoch);
    }
    if (!view_->live()) log(fmt::format("{} epoch {}/{}", a.run_id, a.last_epoch, view_->epochs_of(a.run_id)));
  }

  // Sets the state of a run whose worker exited from what this attempt logged and its exit code
  // (runner/attempt_outcome.h decides; this applies it).
  void finish(Active& a, std::deque<std::string>& queue) {
    const int code = a.worker->exit_code();
    AttemptEvidence evidence;
    evidence.seen = ingest_events(store_, a.run_id, run_files::path(a.run_dir, run_files::kEvents), a.log_start);
    evidence.exit_code = code;
    if (a.stall_watch->stalled()) evidence.stalled = a.stall_watch->stalled_reason();
    evidence.ended = fmt::format("isda-train exited with code {}", code);
    const auto outcome = attempt_outcome(evidence);
    const auto tail = tail_of_file(run_files::path(a.run_dir, run_files::kWorkerLog), kLogTailLines);
    auto provenance = provenance_of(store_, a.run_id).value_or(results::Provenance{});
    provenance.ended = now_seconds();
    record_provenance(store_, a.run_id, provenance);
    switch (outcome.kind) {
      case AttemptOutcome::Kind::done:
        set_state(store_, a.run_id, RunState::done);
        log(fmt::format("done {}", a.run_id));
        return;
      case AttemptOutcome::Kind::failed:
      case AttemptOutcome::Kind::lost:  // (only under Slurm, where the exit is unknown)
        fail(a.run_id, outcome.fault, outcome.reason, tail, queue);
        return;
      case AttemptOutcome::Kind::interrupted:
        break;
    }
    const int signal = outcome.signal;
    const auto info = find_run(store_, a.run_id);
    const auto reached = info && info->last_epoch > 0 ? fmt::format(", {} epochs done", info->last_epoch) : std::string();
    set_state(store_, a.run_id, RunState::interrupted,
              fmt::format("stopped by signal {}{}", signal, outcome.checkpointed ? " after checkpointing" : ""), tail);
    // A Ctrl-C reaches the workers (the terminal's process group) as it reaches isda-run, which may
    // not have handled it yet: a stop asked of isda-run is a stop, not a kill from outside.
    if (stopped() || stop_requests_.load() > 0) {
      log(fmt::format("interrupted {}{}{}; rerun to resume it", a.run_id, reached, outcome.checkpointed ? ", checkpointed" : ""));
    } else if (++outside_kills_[a.run_id] <= kResumesAfterOutsideKills) {
      set_state(store_, a.run_id, RunState::pending);
      queue.push_back(a.run_id);
      log(fmt::format("interrupted {} (signal {}, not sent by isda-run); resuming it", a.run_id, signal));
    } else {
      log(fmt::format("interrupted {} (signal {}) again; left interrupted, rerun to resume it", a.run_id, signal));
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
      log(fmt::format("failed {} ({}); its log: {}", id, why, run_files::path(o_.runs_root + "/" + id, run_files::kWorkerLog)));
    }
  }

  static std::string first_line(const std::string& text) { return text.substr(0, text.find('\n')); }

  void refresh_display(const std::deque<std::string>& queue) {
    std::vector<SweepView::Running> running;
    for (const auto& a : active_) running.push_back({a.run_id, label_of(a.slots), a.slots, a.last_epoch, a.seconds_per_epoch});
    view_->refresh(running, queue);
  }

  void log(const std::string& text) { view_->log(text); }

  const SweepOptions& o_;
  const Spec& spec_;
  results::ResultsStore& store_;
  const std::atomic<int>& stop_requests_;
  std::vector<Slot> slots_;
  std::vector<bool> busy_;
  int threads_ = 1;
  std::vector<Active> active_;
  std::optional<SweepView> view_;  // the display, the event lines and the ETA
  std::map<std::string, int> outside_kills_;  // per run, in this invocation
  std::set<std::string> retried_;              // failed runs already given their retry here
  int handled_stop_ = 0;
  bool first_plan_ = true;
};

}  // namespace

int run_sweep(const SweepOptions& o, const std::atomic<int>& stop_requests, std::ostream& out, std::ostream& err) {
  const auto spec = load_spec(o.spec_path);
  auto expanded = expand(spec, o.profile);  // a bad profile or grid fails before the store is touched
  if (o.dry_run) return list_sweep_plan(o, spec, std::move(expanded), out);
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

}  // namespace isda::runner
