#include "runner/spec.h"

#include "models/registry.h"
#include "train/train_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <set>

namespace isda::runner {
namespace {

constexpr const char* kTopLevelKeys[] = {"name", "description", "base", "grid", "zip", "exclude", "when",
                                         "seeds", "profiles", "retries", "table"};

[[noreturn]] void fail(const std::string& path, const std::string& where, const std::string& problem) {
  throw SpecError(path + ": " + where + ": " + problem);
}

bool is_config_key(const std::string& key) {
  const auto& keys = train::config_keys();
  return std::any_of(keys.begin(), keys.end(), [&](const train::ConfigKey& k) { return k.key == key; });
}

// Checks one key/value of a run config, reporting at `where` (a JSON path in the spec).
void check_value(const std::string& path, const std::string& where, const std::string& key, const nlohmann::json& value) {
  if (!is_config_key(key)) fail(path, where, "unknown key \"" + key + "\"");
  try {
    train::config_from_json(nlohmann::json{{key, value}}, "");
  } catch (const train::ConfigError& e) {
    std::string message = e.what();
    const auto prefix = ": " + key + ": ";
    if (message.rfind(prefix, 0) == 0) message = message.substr(prefix.size());
    fail(path, where, message);
  }
  if (key == "model") {
    const auto names = models::model_names();
    if (std::find(names.begin(), names.end(), value.get<std::string>()) == names.end()) {
      std::string known;
      for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
      fail(path, where, "unknown model \"" + value.get<std::string>() + "\" (known: " + known + ")");
    }
  }
}

void check_object(const std::string& path, const std::string& where, const nlohmann::json& object) {
  if (!object.is_object()) fail(path, where, "expected an object of run-config keys");
  for (const auto& item : object.items()) check_value(path, where + "." + item.key(), item.key(), item.value());
}

bool matches(const nlohmann::json& condition, const nlohmann::json& config) {
  for (const auto& item : condition.items()) {
    if (!config.contains(item.key()) || config.at(item.key()) != item.value()) return false;
  }
  return true;
}

uint64_t fnv1a(const std::string& text, uint64_t basis) {
  uint64_t hash = basis;
  for (const unsigned char c : text) {
    hash ^= c;
    hash *= 0x100000001b3ULL;
  }
  return hash;
}

}  // namespace

std::string run_id(const nlohmann::json& resolved_config) {
  auto canonical = resolved_config;  // nlohmann::json objects keep keys sorted: dump() is canonical
  for (const char* key : {"device", "threads", "data_root"}) canonical.erase(key);
  const auto text = canonical.dump();
  return fmt::format("{:016x}", fnv1a(text, 0xcbf29ce484222325ULL) ^ (fnv1a(text, 0x84222325cbf29ce4ULL) >> 1));
}

Spec load_spec(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw SpecError(path + ": cannot open file");
  nlohmann::json source;
  try {
    source = nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    std::string message = e.what();
    throw SpecError(path + ": invalid JSON: " + message.substr(message.find(' ') + 1));
  }
  return parse_spec(source, path);
}

Spec parse_spec(const nlohmann::json& source, const std::string& path) {
  if (!source.is_object()) fail(path, "$", "expected a JSON object");
  for (const auto& item : source.items()) {
    if (std::find(std::begin(kTopLevelKeys), std::end(kTopLevelKeys), item.key()) == std::end(kTopLevelKeys)) {
      fail(path, item.key(), "unknown key (known: name, description, base, grid, zip, exclude, when, seeds, profiles, retries, table)");
    }
  }
  Spec spec;
  spec.path = path;
  spec.source = source;
  if (!source.contains("name") || !source["name"].is_string() || source["name"].get<std::string>().empty()) {
    fail(path, "name", "expected a non-empty string");
  }
  spec.name = source["name"];
  if (source.contains("base")) {
    check_object(path, "base", source["base"]);
    spec.base = source["base"];
  }
  if (source.contains("grid")) {
    if (!source["grid"].is_object()) fail(path, "grid", "expected an object of axes");
    for (const auto& axis : source["grid"].items()) {
      const auto where = "grid." + axis.key();
      if (!axis.value().is_array() || axis.value().empty()) fail(path, where, "expected a non-empty array of values");
      for (size_t i = 0; i < axis.value().size(); ++i) {
        check_value(path, fmt::format("{}[{}]", where, i), axis.key(), axis.value()[i]);
      }
      spec.grid.emplace_back(axis.key(), axis.value());
    }
  }
  if (source.contains("zip")) {
    if (!source["zip"].is_array()) fail(path, "zip", "expected an array of {key: [values]} groups");
    for (size_t z = 0; z < source["zip"].size(); ++z) {
      const auto& group = source["zip"][z];
      const auto where = fmt::format("zip[{}]", z);
      if (!group.is_object() || group.empty()) fail(path, where, "expected an object of equally long arrays");
      size_t length = 0;
      for (const auto& axis : group.items()) {
        if (!axis.value().is_array() || axis.value().empty()) fail(path, where + "." + axis.key(), "expected a non-empty array");
        if (length != 0 && axis.value().size() != length) {
          fail(path, where + "." + axis.key(), fmt::format("has {} values, the group's other arrays {}", axis.value().size(), length));
        }
        length = axis.value().size();
        for (size_t i = 0; i < length; ++i) check_value(path, fmt::format("{}.{}[{}]", where, axis.key(), i), axis.key(), axis.value()[i]);
      }
      spec.zips.push_back(group);
    }
  }
  if (source.contains("exclude")) {
    if (!source["exclude"].is_array()) fail(path, "exclude", "expected an array of {key: value} conditions");
    for (size_t i = 0; i < source["exclude"].size(); ++i) {
      check_object(path, fmt::format("exclude[{}]", i), source["exclude"][i]);
      spec.excludes.push_back(source["exclude"][i]);
    }
  }
  if (source.contains("when")) {
    if (!source["when"].is_array()) fail(path, "when", "expected an array of {\"if\": {...}, \"set\": {...}}");
    for (size_t i = 0; i < source["when"].size(); ++i) {
      const auto& rule = source["when"][i];
      const auto where = fmt::format("when[{}]", i);
      if (!rule.is_object() || !rule.contains("if") || !rule.contains("set") || rule.size() != 2) {
        fail(path, where, "expected {\"if\": {...}, \"set\": {...}}");
      }
      check_object(path, where + ".if", rule["if"]);
      check_object(path, where + ".set", rule["set"]);
      spec.when.emplace_back(rule["if"], rule["set"]);
    }
  }
  if (source.contains("seeds")) {
    const auto& seeds = source["seeds"];
    if (!seeds.is_array() || seeds.empty()) fail(path, "seeds", "expected a non-empty array of seeds");
    spec.seeds.clear();
    for (size_t i = 0; i < seeds.size(); ++i) {
      if (!seeds[i].is_number_unsigned()) fail(path, fmt::format("seeds[{}]", i), "expected a non-negative integer");
      spec.seeds.push_back(seeds[i]);
    }
  }
  if (source.contains("profiles")) {
    if (!source["profiles"].is_object()) fail(path, "profiles", "expected an object of named profiles");
    for (const auto& profile : source["profiles"].items()) {
      check_object(path, "profiles." + profile.key(), profile.value());
      spec.profiles[profile.key()] = profile.value();
    }
  }
  if (source.contains("retries")) {
    if (!source["retries"].is_number_unsigned()) fail(path, "retries", "expected a non-negative integer");
    spec.retries = source["retries"];
  }
  if (source.contains("table")) spec.table = source["table"];
  return spec;
}

std::vector<PlannedRun> expand(const Spec& spec, const std::string& profile) {
  nlohmann::json profile_keys = nlohmann::json::object();
  if (!profile.empty() && profile != "paper") {
    const auto it = spec.profiles.find(profile);
    if (it == spec.profiles.end()) {
      std::string known = "paper";
      for (const auto& p : spec.profiles) known += ", " + p.first;
      throw SpecError(spec.path + ": profiles: no profile \"" + profile + "\" (known: " + known + ")");
    }
    profile_keys = it->second;
  }
  // The combinations of grid axes and zip groups, as partial configs.
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

  std::vector<PlannedRun> runs;
  std::map<std::string, nlohmann::json> seen;
  for (const auto& partial : combinations) {
    for (const auto seed : spec.seeds) {
      auto config = spec.base;
      config.update(partial);
      config["seed"] = seed;
      if (std::any_of(spec.excludes.begin(), spec.excludes.end(), [&](const auto& e) { return matches(e, config); })) continue;
      for (const auto& [condition, set] : spec.when) {
        if (matches(condition, config)) config.update(set);
      }
      config.update(profile_keys);
      auto varying = partial;
      varying["seed"] = seed;
      train::TrainConfig resolved;
      try {
        resolved = train::config_from_json(config, "");
      } catch (const train::ConfigError& e) {
        throw SpecError(spec.path + ": run " + varying.dump() + e.what());
      }
      PlannedRun run;
      run.config = train::to_json(resolved);
      run.id = run_id(run.config);
      run.varying = varying;
      const auto [it, inserted] = seen.emplace(run.id, varying);
      if (!inserted) {
        throw SpecError(spec.path + ": grid: runs " + it->second.dump() + " and " + varying.dump() +
                        " have the same resolved config (duplicate run)");
      }
      runs.push_back(std::move(run));
    }
  }
  if (runs.empty()) throw SpecError(spec.path + ": grid: the spec expands to no runs (everything excluded?)");
  return runs;
}

}  // namespace isda::runner
