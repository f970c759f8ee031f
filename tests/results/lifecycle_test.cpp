#include "results/ingest.h"
#include "results/run_ledger.h"
#include "results/store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace isda::results {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

constexpr RunState kAll[] = {RunState::pending, RunState::running, RunState::done, RunState::failed,
                             RunState::interrupted};

class Lifecycle : public ::testing::Test {
 protected:
  Lifecycle() : store_(ResultsStore::open(dir_.file("isda.db"))) {
    sweep_ = register_sweep(store_, "s", "s.json", "{}");
  }

  // A fresh run brought to `state` along allowed transitions.
  std::string run_in(RunState state) {
    const auto id = "run" + std::to_string(next_++);
    register_runs(store_, sweep_, {{id, "{}", ""}});
    if (state == RunState::pending) return id;
    start_attempt(store_, id, "coordinator");
    if (state != RunState::running) set_state(store_, id, state);
    return id;
  }

  RunState state_of(const std::string& id) { return find_run(store_, id)->state; }

  ScratchDir dir_;
  ResultsStore store_;
  int64_t sweep_ = 0;
  int next_ = 0;
};

TEST_F(Lifecycle, TheTransitionTableIsTheDocumentedLifecycle) {
  const std::set<std::pair<RunState, RunState>> allowed = {
      {RunState::pending, RunState::running},     {RunState::running, RunState::done},
      {RunState::running, RunState::failed},      {RunState::running, RunState::interrupted},
      {RunState::interrupted, RunState::pending}, {RunState::interrupted, RunState::running},
      {RunState::failed, RunState::pending}};
  for (const auto from : kAll) {
    for (const auto to : kAll) {
      EXPECT_EQ(transition_allowed(from, to), allowed.count({from, to}) == 1)
          << to_string(from) << " -> " << to_string(to);
    }
  }
}

TEST_F(Lifecycle, EveryAllowedTransitionIsStoredAndEveryForbiddenOneThrows) {
  for (const auto from : kAll) {
    for (const auto to : kAll) {
      const auto id = run_in(from);
      if (transition_allowed(from, to)) {
        set_state(store_, id, to);
        EXPECT_EQ(state_of(id), to) << to_string(from) << " -> " << to_string(to);
      } else {
        try {
          set_state(store_, id, to);
          ADD_FAILURE() << to_string(from) << " -> " << to_string(to) << " was allowed";
        } catch (const StoreError& e) {
          EXPECT_THAT(e.what(), HasSubstr(std::string(to_string(from)) + " -> " + to_string(to)));
          EXPECT_THAT(e.what(), HasSubstr(id));
        }
        EXPECT_EQ(state_of(id), from);
      }
    }
  }
}

TEST_F(Lifecycle, DoneIsFinal) {
  const auto id = run_in(RunState::done);
  for (const auto to : kAll) EXPECT_THROW(set_state(store_, id, to), StoreError) << to_string(to);
  EXPECT_THROW(start_attempt(store_, id, "c"), StoreError);
  EXPECT_EQ(state_of(id), RunState::done);
}

TEST_F(Lifecycle, AnUnknownRunIsAnError) {
  EXPECT_THROW(set_state(store_, "nope", RunState::running), StoreError);
  EXPECT_THROW(start_attempt(store_, "nope", "c"), StoreError);
  EXPECT_THROW(ingest_events(store_, "nope", dir_.file("events.jsonl")), StoreError);
}

TEST_F(Lifecycle, FailureKeepsTheErrorAndLogTailAndARetryCountsAttempts) {
  const auto id = run_in(RunState::pending);
  start_attempt(store_, id, "host:1");
  set_state(store_, id, RunState::failed, "loss is NaN at epoch 3 step 50", "line 1\nline 2\n");
  auto run = *find_run(store_, id);
  EXPECT_EQ(run.state, RunState::failed);
  EXPECT_EQ(run.error, "loss is NaN at epoch 3 step 50");
  EXPECT_EQ(run.log_tail, "line 1\nline 2\n");
  EXPECT_EQ(run.lease_owner, "");
  EXPECT_TRUE(std::isnan(run.lease_heartbeat));
  set_state(store_, id, RunState::pending);
  start_attempt(store_, id, "host:2");
  set_state(store_, id, RunState::done);
  run = *find_run(store_, id);
  EXPECT_EQ(run.attempts, 2);
  EXPECT_EQ(run.error, "");
}

// Retries are charged per failure of the run itself; starts (attempts) are counted apart, and a
// failure that is the machine's fault is recorded as such but charged nothing.
TEST_F(Lifecycle, FailuresCountOnlyTheRunsOwnFaults) {
  const auto id = run_in(RunState::pending);
  start_attempt(store_, id, "host:1");
  set_state(store_, id, RunState::interrupted, "stopped by signal 9");
  start_attempt(store_, id, "host:2");
  record_failure(store_, id, events::Fault::environment, "checkpoint.pt: write failed (No space left on device)");
  auto run = *find_run(store_, id);
  EXPECT_EQ(run.state, RunState::failed);
  EXPECT_EQ(run.attempts, 2);
  EXPECT_EQ(run.failures, 0);
  EXPECT_EQ(run.fault, "environment");
  set_state(store_, id, RunState::pending);
  start_attempt(store_, id, "host:3");
  set_state(store_, id, RunState::failed, "loss is NaN");  // a failure of the run: charged
  run = *find_run(store_, id);
  EXPECT_EQ(run.attempts, 3);
  EXPECT_EQ(run.failures, 1);
  EXPECT_EQ(run.fault, "run");
  EXPECT_THROW(record_failure(store_, id, events::Fault::run, "again"), StoreError);  // failed -> failed
}

TEST_F(Lifecycle, StartAttemptTakesALeaseThatHeartbeatsRenew) {
  const auto id = run_in(RunState::pending);
  start_attempt(store_, id, "host:42");
  auto run = *find_run(store_, id);
  EXPECT_EQ(run.state, RunState::running);
  EXPECT_EQ(run.attempts, 1);
  EXPECT_EQ(run.lease_owner, "host:42");
  EXPECT_FALSE(std::isnan(run.lease_heartbeat));
  EXPECT_TRUE(heartbeat(store_, id, "host:42"));
  EXPECT_FALSE(heartbeat(store_, id, "someone else"));
  EXPECT_GE(find_run(store_, id)->lease_heartbeat, run.lease_heartbeat);
  set_state(store_, id, RunState::interrupted);
  EXPECT_FALSE(heartbeat(store_, id, "host:42"));  // the lease went with the running state
}

TEST_F(Lifecycle, StaleRunsAreRunningRunsWithAnOldHeartbeat) {
  const auto running = run_in(RunState::running);
  run_in(RunState::pending);
  run_in(RunState::done);
  EXPECT_TRUE(stale_runs(store_, 3600).empty());
  const auto stale = stale_runs(store_, -1);  // every heartbeat is older than a second from now
  ASSERT_EQ(stale.size(), 1u);
  EXPECT_EQ(stale[0].id, running);
  EXPECT_EQ(stale[0].lease_owner, "coordinator");
}

TEST_F(Lifecycle, StateNamesRoundTrip) {
  for (const auto state : kAll) EXPECT_EQ(run_state_from_string(to_string(state)), state);
  EXPECT_THROW(run_state_from_string("finished"), StoreError);
}

}  // namespace
}  // namespace isda::results
