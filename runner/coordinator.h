#pragma once
// The local backend of isda-run: registers a spec's runs in the results store, runs the ones that
// are not done as isda-train workers (K per GPU, or N CPU slots), ingests their event logs, and
// leaves a resumable state whatever stops it.

#include <atomic>
#include <iosfwd>
#include <string>
#include <vector>

namespace isda::runner {

struct SweepOptions {
  std::string spec_path;
  std::string profile;                // "" = the paper profile
  std::string db_path = "results/isda.db";
  std::string runs_root = "results/runs";  // run directories: <runs_root>/<run id>
  std::string worker_binary;          // isda-train
  std::vector<int> gpus;              // empty: CPU slots
  int per_gpu = 1;
  int cpu_slots = 1;
  int threads_per_worker = 0;         // CPU threads per worker; 0: cores / slots
  bool dry_run = false;
  int slurm_array_limit = -1;         // --dry-run with --backend slurm: its --array-limit (0: none); -1 local
  bool live_display = true;           // redraw a progress block when stderr is a terminal
};

// Runs (or, with dry_run, lists) the sweep. `stop_requests` counts SIGINTs: 1 stops launching and
// asks workers to checkpoint and exit (SIGTERM), 2 kills them. Returns an exit code: 0 every run
// of the spec (profile) done, 1 not all done (failed, waiting, or left interrupted), 130 stopped.
// Throws SpecError, results::StoreError.
int run_sweep(const SweepOptions& options, const std::atomic<int>& stop_requests, std::ostream& out, std::ostream& err);

// --dry-run: the runs of `expanded` (expand(spec, options.profile)) and their states, from a store
// that may not exist yet, and the sweep's estimate. Returns 0.
struct Spec;
struct PlannedRun;
int list_sweep_plan(const SweepOptions& options, const Spec& spec, std::vector<PlannedRun> expanded, std::ostream& out);

// `isda-run status`: runs per state for every sweep in the store (or the one of `spec_path`).
int print_status(const std::string& db_path, const std::string& spec_path, std::ostream& out);

}  // namespace isda::runner
