// The one decision of how an attempt ended, for the local and the Slurm backends alike.
#include "runner/attempt_outcome.h"

#include "common/exit_codes.h"

#include <gtest/gtest.h>

namespace isda::runner {
namespace {

using Kind = AttemptOutcome::Kind;
using Outcome = results::IngestResult::Outcome;

AttemptEvidence local(Outcome outcome, int exit_code) {
  AttemptEvidence e;
  e.seen.outcome = outcome;
  e.exit_code = exit_code;
  e.ended = "isda-train exited with code " + std::to_string(exit_code);
  return e;
}

AttemptEvidence slurm(Outcome outcome, bool has_checkpoint) {
  AttemptEvidence e;
  e.seen.outcome = outcome;
  e.has_checkpoint = has_checkpoint;
  e.ended = "slurm job 12_3 ended FAILED";
  return e;
}

TEST(AttemptOutcome, ADoneRecordWinsOverAKillAfterIt) {
  EXPECT_EQ(attempt_outcome(local(Outcome::done, 137)).kind, Kind::done);
  auto stalled = local(Outcome::done, 143);
  stalled.stalled = "no step for 600 s";
  EXPECT_EQ(attempt_outcome(stalled).kind, Kind::done);
  EXPECT_EQ(attempt_outcome(slurm(Outcome::done, false)).kind, Kind::done);
}

TEST(AttemptOutcome, AStalledWorkerFailsAsStalledHoweverItEnded) {
  auto e = local(Outcome::interrupted, 143);
  e.stalled = "no step for 600 s";
  const auto o = attempt_outcome(e);
  EXPECT_EQ(o.kind, Kind::failed);
  EXPECT_EQ(o.fault, events::Fault::stalled);
  EXPECT_EQ(o.reason, "no step for 600 s");
}

TEST(AttemptOutcome, AStopIsAnInterruptionCheckpointedOnlyWhenLogged) {
  auto logged = local(Outcome::interrupted, 143);
  logged.seen.signal = 15;
  auto o = attempt_outcome(logged);
  EXPECT_EQ(o.kind, Kind::interrupted);
  EXPECT_TRUE(o.checkpointed);
  EXPECT_EQ(o.signal, 15);
  o = attempt_outcome(local(Outcome::running, 137));  // SIGKILL mid-epoch
  EXPECT_EQ(o.kind, Kind::interrupted);
  EXPECT_FALSE(o.checkpointed);
  EXPECT_EQ(o.signal, 9);
}

TEST(AttemptOutcome, TheMachinesFaultIsAnEnvironmentFailure) {
  auto o = attempt_outcome(local(Outcome::running, kExitEnvironment));
  EXPECT_EQ(o.kind, Kind::failed);
  EXPECT_EQ(o.fault, events::Fault::environment);
  auto logged = slurm(Outcome::failed, true);
  logged.seen.fault = events::Fault::environment;
  logged.seen.reason = "checkpoint.pt: No space left on device";
  o = attempt_outcome(logged);
  EXPECT_EQ(o.fault, events::Fault::environment);
  EXPECT_EQ(o.reason, "checkpoint.pt: No space left on device");
}

TEST(AttemptOutcome, AFailureWithoutARecordSaysHowTheWorkerEnded) {
  auto o = attempt_outcome(local(Outcome::running, 1));
  EXPECT_EQ(o.kind, Kind::failed);
  EXPECT_EQ(o.fault, events::Fault::run);
  EXPECT_EQ(o.reason, "isda-train exited with code 1 before logging why");
  auto unreadable = local(Outcome::unreadable, 0);
  unreadable.seen.reason = "events.jsonl:3: not a record";
  EXPECT_EQ(attempt_outcome(unreadable).reason, "events.jsonl:3: not a record");
}

TEST(AttemptOutcome, WithoutAnExitCodeTheCheckpointDecides) {
  auto o = attempt_outcome(slurm(Outcome::none, true));
  EXPECT_EQ(o.kind, Kind::interrupted);
  EXPECT_FALSE(o.checkpointed);
  EXPECT_EQ(o.reason, "slurm job 12_3 ended FAILED without a final event");
  o = attempt_outcome(slurm(Outcome::none, false));
  EXPECT_EQ(o.kind, Kind::lost);
  EXPECT_EQ(attempt_outcome(slurm(Outcome::running, true)).kind, Kind::interrupted) << "a start only: the same";
  EXPECT_EQ(attempt_outcome(slurm(Outcome::running, false)).kind, Kind::lost);
  EXPECT_EQ(o.reason, "slurm job 12_3 ended FAILED before its first checkpoint");
}

}  // namespace
}  // namespace isda::runner
