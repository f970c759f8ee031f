// What isda-run says of a sweep without running it: `--dry-run` (the runs, their states and the
// estimate) and `isda-run status` (runs per state, lambda0 choices, the runs that need a look).
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
#include "runner/attempt_outcome.h"
#include "runner/cost_estimate.h"
#include "runner/gpu_use.h"
#include "runner/progress.h"
#include "runner/spec.h"
#include "runner/stall.h"
#include "runner/sweep.h"
#include "runner/worker.h"
#include "train/estimator_memory.h"
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

using common::now_seconds;
using results::RunState;

int list_sweep_plan(const SweepOptions& o, const Spec& spec, std::vector<PlannedRun> expanded, std::ostream& out) {
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
  // What each run's ISDA estimator will hold, per rank, before anything is allocated.
  std::map<std::string, int64_t> estimators;
  std::set<std::string> counted;
  for (const auto* runs : {&plan.runs, &final_runs}) {
    for (const auto& run : *runs) {
      if (!counted.insert(run.id).second) continue;
      if (const auto memory = train::estimator_memory(run.config)) ++estimators[train::describe(*memory)];
    }
  }
  for (const auto& [text, runs] : estimators) out << fmt::format("{} run(s): {}\n", runs, text);
  print_sweep_estimate(o, spec, plan, final_runs, store ? &*store : nullptr, out);
  return 0;
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
