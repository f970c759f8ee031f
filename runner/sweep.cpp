#include "runner/sweep.h"

#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "train/train_config.h"

#include <fmt/format.h>

#include <cmath>
#include <limits>
#include <map>
#include <ostream>
#include <string_view>
#include <unordered_set>
#include <stdexcept>

namespace isda::runner {
namespace {

double metric_of(const results::FinalRow& row, const std::string& metric) {
  if (metric == "last10_validation_error") return row.last10_validation_error;
  if (metric == "last10_test_error") return row.last10_test_error;
  if (metric == "final_test_error") return row.final_test_error;
  if (metric == "best_test_error") return row.best_test_error;
  return std::nan("");
}

// The choice for one group once all its search runs have finals, else nullopt; `problem` says why
// no choice can be made (a metric the runs do not have).
std::optional<results::Lambda0Choice> decide(const Lambda0Search& search, const SearchGroup& group,
                                             const std::map<std::string, results::FinalRow>& finals,
                                             std::string& problem) {
  nlohmann::json evidence = nlohmann::json::array();
  double best_mean = std::numeric_limits<double>::infinity();
  double best = 0;
  size_t next = 0;
  for (const double lambda0 : search.candidates) {
    nlohmann::json candidate = {{"lambda0", lambda0}, {"runs", nlohmann::json::array()}};
    double sum = 0;
    for (size_t s = 0; s < search.seeds.size(); ++s) {
      const auto& run = group.search_runs[next++];
      const auto it = finals.find(run.id);
      if (it == finals.end()) return std::nullopt;
      const double value = metric_of(it->second, search.metric);
      if (std::isnan(value)) {
        problem = fmt::format("search run {} has no {} (does its config hold out a validation split?)", run.id,
                              search.metric);
        return std::nullopt;
      }
      candidate["runs"].push_back({{"id", run.id}, {"seed", run.config.seed}, {"value", value}});
      sum += value;
    }
    const double mean = sum / static_cast<double>(search.seeds.size());
    candidate["mean"] = mean;
    evidence.push_back(candidate);
    if (mean < best_mean) {
      best_mean = mean;
      best = lambda0;
    }
  }
  results::Lambda0Choice choice;
  choice.group_key = group.key.dump();
  choice.lambda0 = best;
  choice.metric = search.metric;
  choice.evidence = evidence.dump();
  return choice;
}

// The newest sweep of this name (a dry run does not register, so it has no id of its own).
int64_t find_sweep_id(results::ResultsStore& store, const std::string& name) {
  int64_t id = 0;
  for (const auto& sweep : list_sweeps(store)) {
    if (sweep.name == name) id = sweep.id;
  }
  return id;
}

// Says so when the spec is not the one this sweep name last ran with: a changed spec is a new
// sweep (its runs are compared with those of the newest earlier version), and a spec changed back
// to an earlier version is that version's sweep, while isda-report shows the newest one. `before`
// holds the sweeps of this name as they were before this plan registered its own.
void note_other_versions(SweepPlan& plan, const std::vector<results::SweepInfo>& before, results::ResultsStore& store) {
  const results::SweepInfo* current = nullptr;
  const results::SweepInfo* newest_other = nullptr;
  for (const auto& sweep : before) {
    if (sweep.id == plan.sweep_id) {
      current = &sweep;
    } else if (newest_other == nullptr || results::is_newer(sweep, *newest_other)) {
      newest_other = &sweep;
    }
  }
  if (newest_other == nullptr) return;
  if (current != nullptr) {
    if (!results::is_newer(*current, *newest_other)) {
      plan.notes.push_back(fmt::format("this spec is the one that sweep {} of {} ran with, not its newest version "
                                       "(sweep {}, {} runs), which isda-report shows unless told --sweep {}",
                                       plan.sweep_id, plan.name, newest_other->id, newest_other->runs, plan.sweep_id));
    }
    return;
  }
  std::unordered_set<std::string_view> now;
  for (const auto& run : plan.runs) now.insert(run.id);
  int64_t kept = 0, left_out = 0;
  for (const auto& run : runs_of_sweep(store, newest_other->id)) ++(now.count(run.id) > 0 ? kept : left_out);
  plan.notes.push_back(fmt::format(
      "the spec of {} changed since it last ran (sweep {}): {} of its runs carried over, {} new, {} left out (their "
      "results stay in the store, under sweep {}){}",
      plan.name, newest_other->id, kept, static_cast<int64_t>(plan.runs.size()) - kept, left_out, newest_other->id,
      plan.waiting_runs > 0 ? fmt::format("; {} more wait for runs they depend on", plan.waiting_runs) : ""));
}

}  // namespace

std::string sweep_name(const Spec& spec, const std::string& profile) {
  return profile.empty() || profile == "paper" ? spec.name : spec.name + ":" + profile;
}

SweepPlan plan_sweep(const Spec& spec, const std::string& profile, results::ResultsStore* store,
                     const std::string& runs_root, bool dry_run) {
  return plan_sweep(spec, expand(spec, profile), profile, store, runs_root, dry_run);
}

SweepPlan plan_sweep(const Spec& spec, std::vector<PlannedRun> finals_planned, const std::string& profile,
                     results::ResultsStore* store, const std::string& runs_root, bool dry_run) {
  SweepPlan plan;
  plan.name = sweep_name(spec, profile);
  // Runs that depend on runs: each final run waits until every group it is in is resolved. A
  // generator group is resolved when its generator run is done; a lambda0 group when its search runs
  // are, and its choice is recorded. Their prerequisite runs run first.
  const auto generators = generator_groups(spec, finals_planned);
  const auto groups = lambda0_groups(spec, finals_planned);
  if (!dry_run && store == nullptr) throw std::logic_error("plan_sweep: a sweep to run needs a store");
  std::vector<results::SweepInfo> same_name;  // the sweeps of this name before this call
  if (store != nullptr && dry_run) {
    plan.sweep_id = find_sweep_id(*store, plan.name);
  } else if (store != nullptr) {
    for (auto& sweep : list_sweeps(*store)) {
      if (sweep.name == plan.name) same_name.push_back(std::move(sweep));
    }
    plan.sweep_id = register_sweep(*store, plan.name, spec.path, spec.source.dump());
  }

  struct Dependency {
    bool resolved = false;
    std::optional<double> lambda0;  // a lambda0 group's choice
  };
  std::vector<Dependency> dependencies;
  std::vector<std::vector<size_t>> dependencies_of(finals_planned.size());
  std::vector<std::string> prerequisite_ids;
  for (const auto& group : generators) {
    plan.runs.push_back(group.generator);
    prerequisite_ids.push_back(group.generator.id);
  }
  for (const auto& group : groups) {
    for (const auto& run : group.search_runs) {
      plan.runs.push_back(run);
      prerequisite_ids.push_back(run.id);
    }
  }
  std::map<std::string, results::FinalRow> finals;
  if (store != nullptr) {
    for (const auto& row : finals_of(*store, prerequisite_ids)) finals[row.run_id] = row;
  }
  std::map<std::string, results::Lambda0Choice> recorded;
  if (plan.sweep_id != 0) {
    for (const auto& choice : lambda0_choices(*store, plan.sweep_id)) recorded[choice.group_key] = choice;
  }

  for (const auto& group : generators) {
    Dependency dependency;
    dependency.resolved = finals.count(group.generator.id) > 0;
    if (!dependency.resolved) {
      plan.notes.push_back(fmt::format("{} runs wait for their generator run {} ({} on {}, seed {})",
                                       group.final_runs.size(), group.generator.id, group.generator.config.task,
                                       group.generator.config.dataset, group.generator.config.seed));
    }
    for (const auto i : group.final_runs) dependencies_of[i].push_back(dependencies.size());
    dependencies.push_back(dependency);
  }
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto i : groups[g].final_runs) {
      if (!dependencies_of[i].empty()) {
        throw SpecError(spec.path + ": lambda0_search: run " + finals_planned[i].varying +
                        " mixes in generated images (gan); its lambda0 cannot be searched on the hold-out");
      }
      dependencies_of[i].push_back(dependencies.size());
    }
    Dependency dependency;
    const auto key = groups[g].key.dump();
    if (const auto it = recorded.find(key); it != recorded.end()) {
      dependency = {true, it->second.lambda0};
      plan.choices.push_back(it->second);
      dependencies.push_back(dependency);
      continue;
    }
    std::string problem;
    auto choice = decide(*spec.lambda0_search, groups[g], finals, problem);
    if (!choice) {
      plan.notes.push_back(problem.empty()
                               ? fmt::format("{} final runs of {} wait for their lambda0 search",
                                             groups[g].final_runs.size(), key)
                               : fmt::format("lambda0 for {} cannot be chosen: {}", key, problem));
      dependencies.push_back(dependency);
      continue;
    }
    if (dry_run) {
      plan.notes.push_back(fmt::format("lambda0 for {} would be {} (search done, not yet recorded)", key, choice->lambda0));
    } else {
      *choice = record_lambda0_choice(*store, plan.sweep_id, *choice);
      plan.notes.push_back(fmt::format("lambda0 for {}: {} (lowest mean {} of the hold-out search)", key,
                                       choice->lambda0, choice->metric));
    }
    dependency = {true, choice->lambda0};
    plan.choices.push_back(*choice);
    dependencies.push_back(dependency);
  }
  if (dependencies.empty()) {
    plan.runs = std::move(finals_planned);  // no prerequisite runs either
  } else {
    train::CanonicalJsonWriter writer;
    for (size_t i = 0; i < finals_planned.size(); ++i) {
      bool ready = true;
      std::optional<double> lambda0;
      for (const auto d : dependencies_of[i]) {
        ready = ready && dependencies[d].resolved;
        if (dependencies[d].lambda0) lambda0 = dependencies[d].lambda0;
      }
      if (!ready) {
        ++plan.waiting_runs;
      } else if (lambda0) {
        plan.runs.push_back(with_lambda0(finals_planned[i], *lambda0, writer));
      } else {
        plan.runs.push_back(std::move(finals_planned[i]));
      }
    }
  }

  // A prerequisite run can coincide with a final run (same config), and so can final runs that
  // differed only in lambda0 once their group's choice is set: each is one run. (expand() alone never
  // gives two runs one id.)
  if (!dependencies.empty()) {
    std::unordered_set<std::string_view> seen;
    seen.reserve(plan.runs.size());
    std::vector<PlannedRun> unique;
    unique.reserve(plan.runs.size());
    for (auto& run : plan.runs) {
      if (seen.count(run.id) > 0) continue;
      unique.push_back(std::move(run));
      seen.insert(unique.back().id);  // a view into the kept run (reserved: never reallocated)
    }
    plan.runs = std::move(unique);
  }
  if (!dry_run) {
    std::vector<results::RunRecord> records;
    records.reserve(plan.runs.size());
    for (const auto& run : plan.runs) records.push_back({run.id, run.config_json, runs_root + "/" + run.id});
    std::vector<std::string> execution_keys;
    for (const auto& key : train::config_keys()) {
      if (train::is_execution_key(key.key)) execution_keys.push_back(key.key);
    }
    plan.added = register_runs(*store, plan.sweep_id, records, execution_keys).added;
    note_other_versions(plan, same_name, *store);
  }
  return plan;
}

void print_finals(const SweepPlan& plan, results::ResultsStore& store, std::ostream& out) {
  std::vector<std::string> ids;
  for (const auto& run : plan.runs) ids.push_back(run.id);
  std::map<std::string, results::FinalRow> finals;
  for (const auto& f : finals_of(store, ids)) finals[f.run_id] = f;
  const auto percent = [](double v) { return std::isnan(v) ? std::string("n/a") : fmt::format("{:.2f}%", v); };
  for (const auto& run : plan.runs) {
    const auto it = finals.find(run.id);
    if (it == finals.end()) continue;
    out << fmt::format("{}  {:<40} test_err {}  last10_test_err {}", run.id, run.varying,
                       percent(it->second.final_test_error), percent(it->second.last10_test_error));
    if (!std::isnan(it->second.last10_validation_error)) out << "  last10_val_err " << percent(it->second.last10_validation_error);
    out << '\n';
  }
}

}  // namespace isda::runner
