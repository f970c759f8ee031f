#pragma once
// The run ledger: sweeps, the runs registered in them, and each run's lifecycle (state, attempts,
// failures, the worker's lease), in tables `sweeps`, `runs` and `sweep_runs`. The runner writes it
// (registration, transitions, heartbeats); the runner and the report read it.
//
// Every function throws StoreError (results/sqlite.h) for a database failure, naming the database
// file and what was being done; writes throw it too on a store opened as a reader.

#include "common/run_events.h"
#include "results/store.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace isda::results {

// The run lifecycle (ARCHITECTURE.md):
//   pending -> running -> done | failed | interrupted;  interrupted -> pending | running;
//   failed -> pending (a retry);  done is final.
enum class RunState { pending, running, done, failed, interrupted };

const char* to_string(RunState state);
// Throws StoreError for a name that is not a state.
RunState run_state_from_string(const std::string& name);
// Whether the lifecycle allows `from -> to` (never `x -> x`).
bool transition_allowed(RunState from, RunState to);

// A run to register: `config_json` is the canonical resolved config whose hash is `id`.
struct RunRecord {
  std::string id;
  std::string config_json;
  std::string run_dir;  // may be empty and is then left as it is
};

struct RegisterResult {
  int64_t added = 0;     // runs new to the store
  int64_t existing = 0;  // runs already there (their state is untouched)
};

struct SweepInfo {
  int64_t id = 0;
  std::string name;
  std::string spec_path;
  std::string spec_hash;
  std::string spec_json;
  double created = 0;
  int64_t runs = 0;
};

// Whether sweep `a` is newer than `b`: created later, or registered after it in the same instant.
// Of several sweeps that declare one table, isda-report shows the newest; isda-run's notes on a
// changed spec use the same rule.
bool is_newer(const SweepInfo& a, const SweepInfo& b);

struct RunInfo {
  std::string id;
  std::string config_json;
  RunState state = RunState::pending;
  int64_t attempts = 0;  // attempts started
  int64_t failures = 0;  // failed attempts charged to the spec's retries (not the machine's faults)
  std::string fault;     // of the last failure: "run", "environment", or "" when it never failed
  int64_t last_epoch = 0;  // highest epoch in the store, 0 before the first
  std::string run_dir;
  std::string lease_owner;  // empty when no lease is held
  double lease_heartbeat = 0;  // NaN when no lease is held
  std::string error;
  std::string log_tail;
  double created = 0;
  double updated = 0;
};

struct StateCounts {
  int64_t pending = 0, running = 0, done = 0, failed = 0, interrupted = 0;
  int64_t total() const { return pending + running + done + failed + interrupted; }
};

// Registration.

// Returns the id of the sweep with this name and spec (the spec hashed after canonicalizing its
// JSON), created on first call. Throws StoreError when `spec_json` is not JSON.
int64_t register_sweep(ResultsStore& store, const std::string& name, const std::string& spec_path,
                       const std::string& spec_json);

// Adds the runs that are new as `pending` and makes every run a member of the sweep (in the
// given order), in one transaction; returns how many were added and how many existed. A run
// already registered keeps its state and results; one registered with a config that differs in
// other keys than `execution_keys` (those that say where and how a run executes, not what it
// computes, and that its id leaves out) is a StoreError (nothing is registered then); one that
// differs in those only takes the new config, so that its next attempt runs with today's settings
// (a moved data root, a key a newer version added). StoreError for an unknown sweep.
RegisterResult register_runs(ResultsStore& store, int64_t sweep_id, const std::vector<RunRecord>& runs,
                             const std::vector<std::string>& execution_keys = {});

// The lifecycle. Each throws StoreError for an unknown run or a transition the lifecycle refuses
// (naming both states).

// Moves a run to `to`. `error` and `log_tail`, when non-empty, replace the stored ones; leaving
// `running` drops the lease; `done` clears the error; `failed` is a failure of the run itself
// (record_failure with a `run` fault); `running` is start_attempt without an owner.
void set_state(ResultsStore& store, const std::string& run_id, RunState to, const std::string& error = "",
               const std::string& log_tail = "");
// running -> failed with its fault: a `run` fault is charged to the spec's retries (failures + 1),
// an `environment` fault (disk full, device lost) is not.
void record_failure(ResultsStore& store, const std::string& run_id, events::Fault fault, const std::string& error,
                    const std::string& log_tail = "");
// pending or interrupted -> running, attempts + 1, lease to `owner` with a heartbeat now.
void start_attempt(ResultsStore& store, const std::string& run_id, const std::string& owner);
// Renews the lease; returns false when `owner` no longer holds it (the run left `running` or
// changed hands).
bool heartbeat(ResultsStore& store, const std::string& run_id, const std::string& owner);

// Queries.

// Every sweep, by id, with its number of runs.
std::vector<SweepInfo> list_sweeps(ResultsStore& store);
// The run, or nullopt when no run has this id.
std::optional<RunInfo> find_run(ResultsStore& store, const std::string& run_id);
// Whether a run with this id is registered; `purpose` names the caller's operation in a StoreError.
bool run_exists(ResultsStore& store, const std::string& run_id, const std::string& purpose);
// The sweep's runs in registration (grid) order; empty for an unknown sweep.
std::vector<RunInfo> runs_of_sweep(ResultsStore& store, int64_t sweep_id);
// How many of the sweep's runs are in each state.
StateCounts counts_by_state(ResultsStore& store, int64_t sweep_id);
// Running runs whose heartbeat is older than `older_than_seconds` (or missing), by id.
std::vector<RunInfo> stale_runs(ResultsStore& store, double older_than_seconds);

}  // namespace isda::results
