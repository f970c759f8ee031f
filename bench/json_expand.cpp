#include "json_expand.h"

#include "train/train_config.h"

#include <nlohmann/json.hpp>

#include <algorithm>

namespace isda::bench {
namespace {

bool matches(const nlohmann::json& condition, const nlohmann::json& config) {
  for (const auto& item : condition.items()) {
    if (!config.contains(item.key()) || config.at(item.key()) != item.value()) return false;
  }
  return true;
}

}  // namespace

std::vector<runner::PlannedRun> expand_with_json(const runner::Spec& spec, const std::string& profile) {
  nlohmann::json profile_keys = nlohmann::json::object();
  if (!profile.empty() && profile != "paper") {
    const auto it = spec.profiles.find(profile);
    if (it == spec.profiles.end()) throw runner::SpecError(spec.path + ": profiles: no profile \"" + profile + "\"");
    profile_keys = it->second;
  }
  // The combinations of grid axes and zip groups, as partial configs: the first axis varies slowest.
  std::vector<nlohmann::json> combinations = {nlohmann::json::object()};
  for (const auto& [key, values] : spec.grid) {
    std::vector<nlohmann::json> next;
    for (const auto& partial : combinations) {
      for (const auto& value : values) {
        auto c = partial;
        c[key] = value;
        next.push_back(c);
      }
    }
    combinations = std::move(next);
  }
  for (const auto& group : spec.zips) {
    const size_t length = group.begin().value().size();
    std::vector<nlohmann::json> next;
    for (const auto& partial : combinations) {
      for (size_t i = 0; i < length; ++i) {
        auto c = partial;
        for (const auto& axis : group.items()) c[axis.key()] = axis.value()[i];
        next.push_back(c);
      }
    }
    combinations = std::move(next);
  }
  std::vector<runner::PlannedRun> runs;
  for (const auto& partial : combinations) {
    for (const auto seed : spec.seeds) {
      auto config = spec.base;
      config.update(partial);
      config["seed"] = seed;
      if (std::any_of(spec.excludes.begin(), spec.excludes.end(), [&](const auto& e) { return matches(e, config); })) {
        continue;
      }
      for (const auto& [condition, set] : spec.when) {
        if (matches(condition, config)) config.update(set);
      }
      config.update(profile_keys);
      auto varying = partial;
      varying["seed"] = seed;
      runner::PlannedRun run;
      run.varying = varying.dump();
      try {
        run.config = train::config_from_json(config, "");
      } catch (const train::ConfigError& e) {
        throw runner::SpecError(spec.path + ": run " + run.varying + e.what());
      }
      const auto resolved = train::to_json(run.config);
      run.config_json = resolved.dump();
      run.id = runner::run_id(resolved);
      runs.push_back(std::move(run));
    }
  }
  return runs;
}

}  // namespace isda::bench
