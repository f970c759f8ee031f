#pragma once
// What a sweep has to run: a spec's runs under a profile, registered in the results store, with the
// paper's two-stage lambda0 protocol resolved as far as the store's results allow. Shared by every
// backend (local slots, Slurm) and by --dry-run.

#include "results/lambda0_choices.h"
#include "results/store.h"
#include "runner/spec.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::runner {

// The sweep's name in the store: the spec's name, with ":<profile>" for any profile but the paper's,
// so a smoke run of a spec never mixes with its paper runs.
std::string sweep_name(const Spec& spec, const std::string& profile);

struct SweepPlan {
  int64_t sweep_id = 0;       // 0 in a dry run of a sweep never registered
  std::string name;
  std::vector<PlannedRun> runs;  // runnable now: generator and lambda0-search runs first, then the final runs
  int64_t added = 0;             // runs new to the store
  int64_t waiting_runs = 0;      // final runs that wait for runs not yet done (lambda0 search, generator)
  std::vector<std::string> notes;  // one line per decision or wait, for the user
  std::vector<results::Lambda0Choice> choices;
};

// Expands `spec` under `profile`. Runs that depend on runs are registered when these are done: final
// runs with `gan` once their generator run (generator_groups) is done; and search groups whose search runs are all done get their lambda0
// chosen (the lowest mean of the search metric; the first candidate on a tie) and recorded once;
// their final runs then carry the recorded value. With `dry_run` nothing is written: the sweep is
// looked up by name, undecided choices are only reported, and `store` may be null (no store yet).
// Throws SpecError, results::StoreError.
SweepPlan plan_sweep(const Spec& spec, const std::string& profile, results::ResultsStore* store,
                     const std::string& runs_root, bool dry_run);
// The same from the spec's runs as expand(spec, profile) returned them; moving them in saves a
// copy of every run (100,000 of them take a tenth of a second).
SweepPlan plan_sweep(const Spec& spec, std::vector<PlannedRun> expanded, const std::string& profile,
                     results::ResultsStore* store, const std::string& runs_root, bool dry_run);

// One line per run of `plan` with final metrics: what varied, and its test (and hold-out) errors.
void print_finals(const SweepPlan& plan, results::ResultsStore& store, std::ostream& out);

}  // namespace isda::runner
