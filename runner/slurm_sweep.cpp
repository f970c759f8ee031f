// isda-run's commands on Slurm (runner/slurm_backend.h): run a sweep as job arrays and follow it,
// sync, cancel, and the status of runs out on the cluster. The backend itself (submission,
// reconciling the store with the scheduler) is slurm_backend.cpp.
#include "runner/slurm_backend.h"

#include "common/durable_file.h"
#include "common/process.h"
#include "common/run_events.h"
#include "common/system.h"

#include "results/run_metrics.h"
#include "runner/attempt_outcome.h"
#include "runner/progress.h"
#include "runner/spec.h"
#include "runner/sweep.h"
#include "runner/worker.h"
#include "train/run_directory.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

namespace isda::runner {

namespace fs = std::filesystem;
using common::absolute_path;

constexpr double kCancelWaitSeconds = 180;

namespace {

std::string absolute_worker(const std::string& worker) {
  if (worker.find('/') != std::string::npos) return absolute_path(worker);
  const auto found = common::find_in_path(worker);
  return found.empty() ? worker : found;
}

bool sleep_unless_stopped(double seconds, const std::atomic<int>& stop_requests) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    if (stop_requests.load() > 0) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return stop_requests.load() == 0;
}

}  // namespace

int run_slurm_sweep(const SweepOptions& o, const SlurmOptions& slurm, Scheduler& scheduler,
                    const std::atomic<int>& stop_requests, std::ostream& out, std::ostream& err) {
  const auto spec = load_spec(o.spec_path);
  expand(spec, o.profile);  // a bad profile or grid fails before the store is touched
  auto store = results::ResultsStore::open(o.db_path, results::ResultsStore::Mode::writer);
  const auto started = std::chrono::steady_clock::now();
  SweepPlan plan;
  const auto log = [&](const std::string& text) {
    const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (plan.sweep_id == 0) {
      err << "isda-run: " << text << std::endl;
      return;
    }
    const auto c = counts_by_state(store, plan.sweep_id);
    err << fmt::format("isda-run: [{} done, {} running, {} failed, {} pending, {}] {}", c.done, c.running, c.failed,
                       c.pending + c.interrupted, format_duration(elapsed), text)
        << std::endl;
  };
  SlurmBackend backend(store, scheduler, log);
  SubmitSettings settings{slurm, absolute_worker(o.worker_binary)};
  std::set<std::string> notes_shown;
  bool stopped = false;
  for (bool first = true;; first = false) {
    backend.sync(0);
    plan = plan_sweep(spec, o.profile, &store, o.runs_root, /*dry_run=*/false);
    if (first) {
      log(fmt::format("{}: {} runs ({} new){}, Slurm backend", plan.name, plan.runs.size(), plan.added,
                      plan.waiting_runs > 0 ? fmt::format(", {} more after the runs they depend on", plan.waiting_runs)
                                            : std::string()));
    }
    for (const auto& note : plan.notes) {
      if (notes_shown.insert(note).second) log(note);
    }
    const auto submitted = backend.submit(plan.sweep_id, plan.name, spec.retries, settings);
    if (!slurm.wait) break;
    const auto c = counts_by_state(store, plan.sweep_id);
    const bool idle = backend.queued_runs(plan.sweep_id).empty() && submitted == 0 &&
                      c.pending + c.interrupted + c.running == 0;
    if (idle) break;  // finished, or only failures beyond their retries (and the finals they block)
    if (!sleep_unless_stopped(slurm.poll_seconds, stop_requests)) {
      stopped = true;
      log(fmt::format("stopped waiting; the jobs keep running (isda-run status / sync to follow them, isda-run cancel {} "
                      "to cancel them)",
                      o.spec_path));
      break;
    }
  }
  print_finals(plan, store, out);
  const auto c = counts_by_state(store, plan.sweep_id);
  const auto queued = backend.queued_runs(plan.sweep_id).size();
  out << fmt::format("{}: {} done, {} running, {} failed, {} interrupted, {} pending of {} runs ({} in Slurm jobs){}\n",
                     plan.name, c.done, c.running, c.failed, c.interrupted, c.pending, c.total(), queued,
                     plan.waiting_runs > 0 ? fmt::format(" ({} more wait for runs they depend on)", plan.waiting_runs) : "");
  if (stopped) return 130;
  if (!slurm.wait) return 0;
  return c.failed > 0 || plan.waiting_runs > 0 ? 1 : 0;
}

namespace {
void require_store(const std::string& db_path) {
  if (!fs::exists(db_path)) {
    throw results::StoreError(fmt::format("{}: open the results store: no such file (isda-run creates it)", db_path));
  }
}
}  // namespace

int sync_slurm(const std::string& db_path, const std::string& spec_path, Scheduler& scheduler, std::ostream& out,
               std::ostream& err) {
  require_store(db_path);
  {
    auto store = results::ResultsStore::open(db_path, results::ResultsStore::Mode::writer);
    SlurmBackend backend(store, scheduler, [&err](const std::string& text) { err << "isda-run: " << text << std::endl; });
    backend.sync(0);
  }
  return print_status(db_path, spec_path, out);
}

int cancel_slurm(const SweepOptions& o, Scheduler& scheduler, std::ostream& out, std::ostream& err) {
  const auto spec = load_spec(o.spec_path);
  require_store(o.db_path);
  auto store = results::ResultsStore::open(o.db_path, results::ResultsStore::Mode::writer);
  const auto plan = plan_sweep(spec, o.profile, &store, o.runs_root, /*dry_run=*/true);
  if (plan.sweep_id == 0) {
    out << fmt::format("{}: no sweep {} in {}; nothing to cancel\n", o.spec_path, plan.name, o.db_path);
    return 0;
  }
  SlurmBackend backend(store, scheduler, [&err](const std::string& text) { err << "isda-run: " << text << std::endl; });
  backend.set_intent_grace(0);  // this process holds the store: no sbatch of another isda-run is on its way
  backend.sync(plan.sweep_id);
  backend.cancel(plan.sweep_id);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(kCancelWaitSeconds);
  int code = 0;
  for (;;) {
    backend.sync(plan.sweep_id);
    if (backend.queued_runs(plan.sweep_id).empty()) break;
    if (std::chrono::steady_clock::now() > deadline) {
      err << "isda-run: some jobs have not ended yet; isda-run sync later settles their runs\n";
      code = 1;
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(2));
  }
  const auto c = counts_by_state(store, plan.sweep_id);
  out << fmt::format("{}: cancelled; {} done, {} running, {} failed, {} interrupted, {} pending of {} runs (rerun "
                     "isda-run {} --backend slurm to resume)\n",
                     plan.name, c.done, c.running, c.failed, c.interrupted, c.pending, c.total(), o.spec_path);
  return code;
}

int64_t runs_out_on_slurm(const SweepOptions& o) {
  if (!fs::exists(o.db_path)) return 0;
  try {
    auto store = results::ResultsStore::open(o.db_path, results::ResultsStore::Mode::reader);
    const auto plan = plan_sweep(load_spec(o.spec_path), o.profile, &store, o.runs_root, /*dry_run=*/true);
    if (plan.sweep_id == 0) return 0;
    int64_t queued = 0;
    for (const auto& submission : slurm_submissions(store, plan.sweep_id, /*open_only=*/true)) {
      for (const auto& task : submission.tasks) queued += task.finished ? 0 : 1;
    }
    return queued;
  } catch (const results::StoreError&) {
    return 0;  // an older schema (no Slurm submissions) or no access: the local backend reports it
  }
}

void sync_before_status(const std::string& db_path, Scheduler& scheduler, std::ostream& err) {
  if (!fs::exists(db_path)) return;
  try {
    auto store = results::ResultsStore::open(db_path, results::ResultsStore::Mode::writer);
    if (slurm_submissions(store, 0, /*open_only=*/true).empty()) return;
    SlurmBackend backend(store, scheduler, [&err](const std::string& text) { err << "isda-run: " << text << std::endl; });
    backend.sync(0);
  } catch (const results::StoreError& e) {
    const std::string message = e.what();
    if (message.find("another writer holds it") != std::string::npos) {
      err << "isda-run: a coordinator holds the store and syncs it with Slurm; showing its last sync\n";
    } else {
      err << "isda-run: not synced with Slurm: " << message.substr(0, message.find('\n')) << '\n';
    }
  } catch (const SlurmError& e) {
    err << "isda-run: not synced with Slurm: " << e.what() << '\n';
  }
}

}  // namespace isda::runner
