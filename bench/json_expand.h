#pragma once
// The straightforward expansion of a spec: a JSON object per run, merged key by key, resolved with
// train::config_from_json and serialised with dump() (how the suite expanded grids until
// 2026-12). The peer that `isda-bench sweep` runs beside runner::expand, and the oracle the runner's
// tests compare it against: for a valid spec it gives the same runs in the same order.

#include "runner/spec.h"

#include <string>
#include <vector>

namespace isda::bench {

// Throws runner::SpecError for an unknown profile or a run whose config is invalid.
std::vector<runner::PlannedRun> expand_with_json(const runner::Spec& spec, const std::string& profile = "");

}  // namespace isda::bench
