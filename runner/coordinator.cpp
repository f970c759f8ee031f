#include "runner/coordinator.h"

#include "results/store.h"
#include "runner/spec.h"
#include "runner/worker.h"
#include "train/run_directory.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <torch/version.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <csignal>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <ostream>
#include <thread>

namespace isda::runner {
namespace {

using results::RunState;
using Clock = std::chrono::steady_clock;
constexpr auto kPollInterval = std::chrono::milliseconds(200);
constexpr double kHeartbeatSeconds = 10;
constexpr int kLogTailLines = 20;

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {};
  gethostname(name, sizeof name - 1);
  return name;
}

// A worker that a dead coordinator left behind still holds its run directory's lock: stop it
// before the run starts again. Only a process whose command line is isda-train is touched.
void stop_orphan(const std::string& run_dir) {
  const int pid = train::RunDirectory::lock_holder(run_dir);
  if (pid <= 0 || pid == ::getpid()) return;
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  if (text.find("isda-train") == std::string::npos) return;
  ::kill(pid, SIGKILL);
  for (int i = 0; i < 250 && train::RunDirectory::lock_holder(run_dir) != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

struct Slot {
  std::vector<std::pair<std::string, std::string>> environment;
  std::string label;  // "cpu0", "gpu1"
};

struct Active {
  std::string run_id;
  std::string run_dir;
  std::string owner;
  size_t slot = 0;
  std::unique_ptr<Worker> worker;
  double last_heartbeat = 0;
  int64_t last_epoch = 0;
};

std::string run_dir_of(const SweepOptions& o, const std::string& id) { return o.runs_root + "/" + id; }

}  // namespace

int run_sweep(const SweepOptions& o, const std::atomic<int>& stop_requests, std::ostream& out, std::ostream& err) {
  const auto spec = load_spec(o.spec_path);
  const auto planned = expand(spec, o.profile);
  auto store = results::ResultsStore::open(o.db_path, o.dry_run ? results::ResultsStore::Mode::reader
                                                                  : results::ResultsStore::Mode::writer);
  if (o.dry_run) {
    out << fmt::format("{}: {} runs (profile {})\n", o.spec_path, planned.size(), o.profile.empty() ? "paper" : o.profile);
    for (const auto& run : planned) {
      const auto info = store.find_run(run.id);
      out << fmt::format("{}  {:<11} {}\n", run.id, info ? results::to_string(info->state) : "new", run.varying.dump());
    }
    return 0;
  }
  const auto sweep_id = store.register_sweep(spec.name, o.spec_path, spec.source.dump());
  std::vector<results::RunRecord> records;
  for (const auto& run : planned) records.push_back({run.id, run.config.dump(), run_dir_of(o, run.id)});
  const auto registered = store.register_runs(sweep_id, records);
  err << fmt::format("isda-run: {}: {} runs ({} new, {} known)\n", spec.name, planned.size(), registered.added,
                     registered.existing);

  // Runs left `running` by a coordinator that died: stop their orphaned workers, take in what they
  // logged, and mark them interrupted so they resume from their checkpoints.
  for (const auto& info : store.runs_of_sweep(sweep_id)) {
    if (info.state != RunState::running) continue;
    stop_orphan(info.run_dir);
    store.ingest_events(info.id, info.run_dir + "/events.jsonl");
    store.set_state(info.id, RunState::interrupted, "coordinator lost", tail_of_file(info.run_dir + "/worker.log", kLogTailLines));
  }

  std::deque<std::string> queue;
  for (const auto& info : store.runs_of_sweep(sweep_id)) {
    if (info.state == RunState::pending || info.state == RunState::interrupted) {
      queue.push_back(info.id);
    } else if (info.state == RunState::failed && info.attempts <= spec.retries) {
      store.set_state(info.id, RunState::pending);
      queue.push_back(info.id);
    }
  }

  std::vector<Slot> slots;
  if (o.gpus.empty()) {
    for (int i = 0; i < std::max(1, o.cpu_slots); ++i) slots.push_back({{{"CUDA_VISIBLE_DEVICES", ""}}, fmt::format("cpu{}", i)});
  } else {
    for (const int gpu : o.gpus) {
      for (int k = 0; k < std::max(1, o.per_gpu); ++k) {
        slots.push_back({{{"CUDA_VISIBLE_DEVICES", std::to_string(gpu)}}, fmt::format("gpu{}", gpu)});
      }
    }
  }
  const int threads = o.threads_per_worker > 0
                          ? o.threads_per_worker
                          : std::max(1, static_cast<int>(std::thread::hardware_concurrency()) / static_cast<int>(slots.size()));
  std::vector<bool> busy(slots.size(), false);
  std::vector<Active> active;
  std::map<std::string, int64_t> epochs_of_run;
  for (const auto& run : planned) epochs_of_run[run.id] = run.config.at("epochs").get<int64_t>();
  const auto started = Clock::now();
  int handled_stop = 0;
  bool any_failed = false;

  const auto report = [&](const std::string& text) {
    const auto counts = store.counts_by_state(sweep_id);
    const double elapsed = std::chrono::duration<double>(Clock::now() - started).count();
    err << fmt::format("isda-run: [{} done, {} running, {} failed, {} pending, {:.0f}s] {}\n", counts.done, counts.running,
                       counts.failed, counts.pending + counts.interrupted, elapsed, text);
  };

  while (!queue.empty() || !active.empty()) {
    // Ctrl-C: first asks workers to checkpoint and stop, second kills them.
    const int stops = stop_requests.load();
    if (stops > handled_stop) {
      handled_stop = stops;
      queue.clear();
      for (auto& a : active) a.worker->signal(stops >= 2 ? SIGKILL : SIGTERM);
      report(stops >= 2 ? "stopping now (workers killed)" : "stopping: workers checkpoint and exit (Ctrl-C again to kill)");
    }
    // Launch into free slots.
    for (size_t s = 0; s < slots.size() && !queue.empty(); ++s) {
      if (busy[s]) continue;
      const auto id = queue.front();
      queue.pop_front();
      const auto run_dir = run_dir_of(o, id);
      std::filesystem::create_directories(run_dir);
      stop_orphan(run_dir);
      const auto info = store.find_run(id);
      {
        std::ofstream config(run_dir + "/run.json");
        config << nlohmann::json::parse(info->config_json).dump(2) << '\n';
      }
      Active a;
      a.run_id = id;
      a.run_dir = run_dir;
      a.slot = s;
      a.worker = std::make_unique<Worker>(
          o.worker_binary,
          std::vector<std::string>{"--config", run_dir + "/run.json", "--run-dir", run_dir, "--threads", std::to_string(threads)},
          slots[s].environment, run_dir + "/worker.log");
      a.owner = fmt::format("{}:{}", host_name(), a.worker->pid());
      store.start_attempt(id, a.owner);
      results::Provenance provenance;
      provenance.host = host_name();
      provenance.libtorch = TORCH_VERSION;
      provenance.command_line = o.worker_binary + " --config " + run_dir + "/run.json --run-dir " + run_dir;
      provenance.started = now_seconds();
      provenance.ended = std::nan("");
      store.record_provenance(id, provenance);
      a.last_heartbeat = now_seconds();
      busy[s] = true;
      report(fmt::format("started {} on {}", id, slots[s].label));
      active.push_back(std::move(a));
    }
    std::this_thread::sleep_for(kPollInterval);
    // Heartbeats, progress, and finished workers.
    for (auto it = active.begin(); it != active.end();) {
      auto& a = *it;
      if (!a.worker->finished()) {
        if (now_seconds() - a.last_heartbeat > kHeartbeatSeconds) {
          store.heartbeat(a.run_id, a.owner);
          const auto seen = store.ingest_events(a.run_id, a.run_dir + "/events.jsonl");
          if (seen.last_epoch > a.last_epoch) {
            a.last_epoch = seen.last_epoch;
            report(fmt::format("{} epoch {}/{}", a.run_id, a.last_epoch, epochs_of_run[a.run_id]));
          }
          a.last_heartbeat = now_seconds();
        }
        ++it;
        continue;
      }
      const int code = a.worker->exit_code();
      const auto seen = store.ingest_events(a.run_id, a.run_dir + "/events.jsonl");
      const auto tail = tail_of_file(a.run_dir + "/worker.log", kLogTailLines);
      auto provenance = store.provenance_of(a.run_id).value_or(results::Provenance{});
      provenance.ended = now_seconds();
      store.record_provenance(a.run_id, provenance);
      if (code == 0 && seen.outcome == results::IngestResult::Outcome::done) {
        store.set_state(a.run_id, RunState::done);
        report(fmt::format("done {}", a.run_id));
      } else if (code > 128 || seen.outcome == results::IngestResult::Outcome::interrupted) {
        store.set_state(a.run_id, RunState::interrupted, fmt::format("stopped by signal {}", code > 128 ? code - 128 : seen.signal), tail);
        report(fmt::format("interrupted {}", a.run_id));
      } else {
        const auto error = !seen.reason.empty() ? seen.reason : fmt::format("isda-train exited with code {}", code);
        store.set_state(a.run_id, RunState::failed, error, tail);
        const auto info = store.find_run(a.run_id);
        if (handled_stop == 0 && info && info->attempts <= spec.retries) {
          store.set_state(a.run_id, RunState::pending);
          queue.push_back(a.run_id);
          report(fmt::format("failed {} ({}), retrying", a.run_id, error));
        } else {
          any_failed = true;
          report(fmt::format("failed {} ({})", a.run_id, error));
        }
      }
      busy[a.slot] = false;
      it = active.erase(it);
    }
  }
  // One line per finished run: what varied, and its test errors.
  std::vector<std::string> ids;
  for (const auto& run : planned) ids.push_back(run.id);
  std::map<std::string, results::FinalRow> finals;
  for (const auto& f : store.finals_of(ids)) finals[f.run_id] = f;
  const auto percent = [](double v) { return std::isnan(v) ? std::string("n/a") : fmt::format("{:.2f}%", v); };
  for (const auto& run : planned) {
    const auto it = finals.find(run.id);
    if (it == finals.end()) continue;
    out << fmt::format("{}  {:<40} test_err {}  last10_test_err {}", run.id, run.varying.dump(),
                       percent(it->second.final_test_error), percent(it->second.last10_test_error));
    if (!std::isnan(it->second.last10_validation_error)) out << "  last10_val_err " << percent(it->second.last10_validation_error);
    out << '\n';
  }
  const auto counts = store.counts_by_state(sweep_id);
  out << fmt::format("{}: {} done, {} failed, {} interrupted, {} pending of {} runs\n", spec.name, counts.done,
                     counts.failed, counts.interrupted, counts.pending, counts.total());
  if (handled_stop > 0) return 130;
  return any_failed ? 1 : 0;
}

int print_status(const std::string& db_path, const std::string& spec_path, std::ostream& out) {
  auto store = results::ResultsStore::open(db_path, results::ResultsStore::Mode::reader);
  std::string only;
  if (!spec_path.empty()) only = load_spec(spec_path).name;
  for (const auto& sweep : store.list_sweeps()) {
    if (!only.empty() && sweep.name != only) continue;
    const auto c = store.counts_by_state(sweep.id);
    out << fmt::format("{:<24} {:>5} runs: {} done, {} running, {} failed, {} interrupted, {} pending\n", sweep.name,
                       c.total(), c.done, c.running, c.failed, c.interrupted, c.pending);
    for (const auto& run : store.runs_of_sweep(sweep.id)) {
      if (run.state == RunState::running || run.state == RunState::failed) {
        out << fmt::format("  {} {:<8} epoch {} {}\n", run.id, results::to_string(run.state), run.last_epoch,
                           run.error.substr(0, run.error.find('\n')));
      }
    }
  }
  return 0;
}

}  // namespace isda::runner
