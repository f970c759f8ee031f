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
    sweep_ = store_.register_sweep("s", "s.json", "{}");
  }

  // A fresh run brought to `state` along allowed transitions.
  std::string run_in(RunState state) {
    const auto id = "run" + std::to_string(next_++);
    store_.register_runs(sweep_, {{id, "{}", ""}});
    if (state == RunState::pending) return id;
    store_.start_attempt(id, "coordinator");
    if (state != RunState::running) store_.set_state(id, state);
    return id;
  }

  RunState state_of(const std::string& id) { return store_.find_run(id)->state; }

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
        store_.set_state(id, to);
        EXPECT_EQ(state_of(id), to) << to_string(from) << " -> " << to_string(to);
      } else {
        try {
          store_.set_state(id, to);
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
  for (const auto to : kAll) EXPECT_THROW(store_.set_state(id, to), StoreError) << to_string(to);
  EXPECT_THROW(store_.start_attempt(id, "c"), StoreError);
  EXPECT_EQ(state_of(id), RunState::done);
}

TEST_F(Lifecycle, AnUnknownRunIsAnError) {
  EXPECT_THROW(store_.set_state("nope", RunState::running), StoreError);
  EXPECT_THROW(store_.start_attempt("nope", "c"), StoreError);
  EXPECT_THROW(store_.ingest_events("nope", dir_.file("events.jsonl")), StoreError);
}

TEST_F(Lifecycle, FailureKeepsTheErrorAndLogTailAndARetryCountsAttempts) {
  const auto id = run_in(RunState::pending);
  store_.start_attempt(id, "host:1");
  store_.set_state(id, RunState::failed, "loss is NaN at epoch 3 step 50", "line 1\nline 2\n");
  auto run = *store_.find_run(id);
  EXPECT_EQ(run.state, RunState::failed);
  EXPECT_EQ(run.error, "loss is NaN at epoch 3 step 50");
  EXPECT_EQ(run.log_tail, "line 1\nline 2\n");
  EXPECT_EQ(run.lease_owner, "");
  EXPECT_TRUE(std::isnan(run.lease_heartbeat));
  store_.set_state(id, RunState::pending);
  store_.start_attempt(id, "host:2");
  store_.set_state(id, RunState::done);
  run = *store_.find_run(id);
  EXPECT_EQ(run.attempts, 2);
  EXPECT_EQ(run.error, "");
}

// Retries are charged per failure of the run itself; starts (attempts) are counted apart, and a
// failure that is the machine's fault is recorded as such but charged nothing.
TEST_F(Lifecycle, FailuresCountOnlyTheRunsOwnFaults) {
  const auto id = run_in(RunState::pending);
  store_.start_attempt(id, "host:1");
  store_.set_state(id, RunState::interrupted, "stopped by signal 9");
  store_.start_attempt(id, "host:2");
  store_.record_failure(id, events::Fault::environment, "checkpoint.pt: write failed (No space left on device)");
  auto run = *store_.find_run(id);
  EXPECT_EQ(run.state, RunState::failed);
  EXPECT_EQ(run.attempts, 2);
  EXPECT_EQ(run.failures, 0);
  EXPECT_EQ(run.fault, "environment");
  store_.set_state(id, RunState::pending);
  store_.start_attempt(id, "host:3");
  store_.set_state(id, RunState::failed, "loss is NaN");  // a failure of the run: charged
  run = *store_.find_run(id);
  EXPECT_EQ(run.attempts, 3);
  EXPECT_EQ(run.failures, 1);
  EXPECT_EQ(run.fault, "run");
  EXPECT_THROW(store_.record_failure(id, events::Fault::run, "again"), StoreError);  // failed -> failed
}

TEST_F(Lifecycle, StartAttemptTakesALeaseThatHeartbeatsRenew) {
  const auto id = run_in(RunState::pending);
  store_.start_attempt(id, "host:42");
  auto run = *store_.find_run(id);
  EXPECT_EQ(run.state, RunState::running);
  EXPECT_EQ(run.attempts, 1);
  EXPECT_EQ(run.lease_owner, "host:42");
  EXPECT_FALSE(std::isnan(run.lease_heartbeat));
  EXPECT_TRUE(store_.heartbeat(id, "host:42"));
  EXPECT_FALSE(store_.heartbeat(id, "someone else"));
  EXPECT_GE(store_.find_run(id)->lease_heartbeat, run.lease_heartbeat);
  store_.set_state(id, RunState::interrupted);
  EXPECT_FALSE(store_.heartbeat(id, "host:42"));  // the lease went with the running state
}

TEST_F(Lifecycle, StaleRunsAreRunningRunsWithAnOldHeartbeat) {
  const auto running = run_in(RunState::running);
  run_in(RunState::pending);
  run_in(RunState::done);
  EXPECT_TRUE(store_.stale_runs(3600).empty());
  const auto stale = store_.stale_runs(-1);  // every heartbeat is older than a second from now
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
