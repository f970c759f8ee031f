#include "runner/attempt_outcome.h"

#include "common/exit_codes.h"

#include <fmt/format.h>

namespace isda::runner {

AttemptOutcome attempt_outcome(const AttemptEvidence& evidence) {
  using Outcome = results::IngestResult::Outcome;
  using Kind = AttemptOutcome::Kind;
  const auto& seen = evidence.seen;
  const auto failed = [](events::Fault fault, std::string reason) {
    AttemptOutcome o;
    o.kind = Kind::failed;
    o.fault = fault;
    o.reason = std::move(reason);
    return o;
  };
  if (seen.outcome == Outcome::done) {
    AttemptOutcome done;
    done.kind = Kind::done;
    return done;
  }
  if (evidence.stalled) return failed(events::Fault::stalled, *evidence.stalled);  // however it ended after being stopped
  if (seen.outcome == Outcome::unreadable) return failed(events::Fault::run, seen.reason);
  const bool signalled = evidence.exit_code && *evidence.exit_code > 128;
  if (seen.outcome == Outcome::interrupted || signalled) {
    AttemptOutcome o;
    o.kind = Kind::interrupted;
    o.checkpointed = seen.outcome == Outcome::interrupted;
    o.signal = o.checkpointed ? seen.signal : *evidence.exit_code - 128;
    return o;
  }
  const auto before_logging = fmt::format("{} before logging why", evidence.ended);
  const bool logged_failure = seen.outcome == Outcome::failed;
  if ((evidence.exit_code && *evidence.exit_code == kExitEnvironment) ||
      (logged_failure && seen.fault == events::Fault::environment)) {
    return failed(events::Fault::environment, seen.reason.empty() ? evidence.ended : seen.reason);
  }
  if (logged_failure) return failed(seen.fault, seen.reason.empty() ? before_logging : seen.reason);
  if (evidence.exit_code) return failed(events::Fault::run, before_logging);
  AttemptOutcome o;
  o.kind = evidence.has_checkpoint ? Kind::interrupted : Kind::lost;
  o.reason = fmt::format("{} {}", evidence.ended,
                         evidence.has_checkpoint ? "without a final event" : "before its first checkpoint");
  return o;
}

}  // namespace isda::runner
