#include "runner/spec.h"

#include "models/registry.h"
#include "train/train_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <optional>
#include <set>
#include <unordered_map>

namespace isda::runner {
namespace {

constexpr const char* kTopLevelKeys[] = {"name",  "description", "base",    "grid",  "zip",   "exclude",       "when",
                                         "seeds", "profiles",    "retries", "table", "figure", "lambda0_search"};
constexpr const char* kSearchMetrics[] = {"last10_validation_error", "last10_test_error", "final_test_error",
                                          "best_test_error"};

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

Lambda0Search parse_lambda0_search(const std::string& path, const nlohmann::json& source,
                                   const std::vector<uint64_t>& spec_seeds) {
  const std::string where = "lambda0_search";
  if (!source.is_object()) fail(path, where, "expected an object");
  Lambda0Search search;
  search.seeds = {spec_seeds.front()};
  for (const auto& item : source.items()) {
    const auto& key = item.key();
    const auto& value = item.value();
    const auto at = where + "." + key;
    if (key == "candidates") {
      if (!value.is_array() || value.size() < 2) fail(path, at, "expected an array of at least two lambda0 values");
      for (size_t i = 0; i < value.size(); ++i) {
        check_value(path, fmt::format("{}[{}]", at, i), "lambda0", value[i]);
        search.candidates.push_back(value[i].get<double>());
      }
    } else if (key == "per") {
      if (!value.is_array()) fail(path, at, "expected an array of run-config keys");
      search.per.clear();
      for (size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_string() || !is_config_key(value[i])) {
          fail(path, fmt::format("{}[{}]", at, i), "expected a run-config key, got " + value[i].dump());
        }
        search.per.push_back(value[i]);
      }
    } else if (key == "applies_to" || key == "set") {
      check_object(path, at, value);
      (key == "set" ? search.set : search.applies_to) = value;
    } else if (key == "seeds") {
      if (!value.is_array() || value.empty()) fail(path, at, "expected a non-empty array of seeds");
      search.seeds.clear();
      for (size_t i = 0; i < value.size(); ++i) {
        if (!value[i].is_number_unsigned()) fail(path, fmt::format("{}[{}]", at, i), "expected a non-negative integer");
        search.seeds.push_back(value[i]);
      }
    } else if (key == "metric") {
      const bool known = value.is_string() && std::find(std::begin(kSearchMetrics), std::end(kSearchMetrics),
                                                         value.get<std::string>()) != std::end(kSearchMetrics);
      if (!known) fail(path, at, "expected one of last10_validation_error, last10_test_error, final_test_error, best_test_error");
      search.metric = value;
    } else {
      fail(path, at, "unknown key (known: candidates, per, applies_to, set, seeds, metric)");
    }
  }
  if (search.candidates.empty()) fail(path, where + ".candidates", "missing (the lambda0 values to choose from)");
  return search;
}

// The resolved, validated form of `config`; errors name the run by what varied.
PlannedRun resolve(const std::string& path, const nlohmann::json& config, const nlohmann::json& varying) {
  train::TrainConfig resolved;
  try {
    resolved = train::config_from_json(config, "");
  } catch (const train::ConfigError& e) {
    throw SpecError(path + ": run " + varying.dump() + e.what());
  }
  PlannedRun run;
  run.config = train::to_json(resolved);
  run.id = run_id(run.config);
  run.varying = varying;
  return run;
}

}  // namespace

std::vector<SearchGroup> lambda0_groups(const Spec& spec, const std::vector<PlannedRun>& final_runs) {
  std::vector<SearchGroup> groups;
  if (!spec.lambda0_search) return groups;
  const auto& search = *spec.lambda0_search;
  std::map<std::string, size_t> index_of_key;
  for (size_t i = 0; i < final_runs.size(); ++i) {
    const auto& config = final_runs[i].config;
    if (!matches(search.applies_to, config)) continue;
    nlohmann::json key = nlohmann::json::object();
    for (const auto& k : search.per) key[k] = config.at(k);
    const auto [it, inserted] = index_of_key.emplace(key.dump(), groups.size());
    if (inserted) {
      SearchGroup group;
      group.key = key;
      // The group's first final run stands for it: its config, hold-out `set`, each candidate and seed.
      for (const double lambda0 : search.candidates) {
        for (const auto seed : search.seeds) {
          auto config_of_search = config;
          config_of_search.update(search.set);
          config_of_search["seed"] = seed;
          config_of_search["lambda0"] = lambda0;
          auto varying = key;
          varying["lambda0"] = lambda0;
          varying["seed"] = seed;
          varying["stage"] = "lambda0 search";
          group.search_runs.push_back(resolve(spec.path, config_of_search, varying));
        }
      }
      groups.push_back(std::move(group));
    }
    groups[it->second].final_runs.push_back(i);
  }
  return groups;
}

PlannedRun with_lambda0(const PlannedRun& run, double lambda0) {
  auto config = run.config;
  config["lambda0"] = lambda0;
  auto varying = run.varying;
  varying["lambda0"] = lambda0;
  return resolve("", config, varying);
}

std::string run_id(const nlohmann::json& resolved_config) {
  // The canonical JSON without the execution keys, written item by item: the same text as erasing
  // them from a copy and dumping it (objects keep keys sorted, dump() has no spaces), without the copy.
  std::string text = "{";
  for (const auto& item : resolved_config.items()) {
    const auto& key = item.key();
    if (key == "device" || key == "threads" || key == "data_root") continue;
    if (text.size() > 1) text += ',';
    text += nlohmann::json(key).dump();
    text += ':';
    text += item.value().dump();
  }
  text += '}';
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
      std::string known;
      for (const char* key : kTopLevelKeys) known += (known.empty() ? "" : ", ") + std::string(key);
      fail(path, item.key(), "unknown key (known: " + known + ")");
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
  if (source.contains("lambda0_search")) spec.lambda0_search = parse_lambda0_search(path, source["lambda0_search"], spec.seeds);
  if (source.contains("table")) {
    if (!source["table"].is_object()) fail(path, "table", "expected an object (layout: experiments/README.md)");
    spec.table = source["table"];
  }
  if (source.contains("figure")) {
    if (!source["figure"].is_object()) fail(path, "figure", "expected an object (layout: experiments/README.md)");
    spec.figure = source["figure"];
  }
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

  // The seed changes nothing but itself in a resolved config unless a rule or the profile looks at
  // it: then each combination is resolved (validated) once and only its seed varies.
  const auto mentions_seed = [](const nlohmann::json& object) { return object.contains("seed"); };
  const bool seed_is_inert =
      !mentions_seed(profile_keys) && std::none_of(spec.excludes.begin(), spec.excludes.end(), mentions_seed) &&
      std::none_of(spec.when.begin(), spec.when.end(),
                   [&](const auto& rule) { return mentions_seed(rule.first) || mentions_seed(rule.second); });
  std::vector<PlannedRun> runs;
  runs.reserve(combinations.size() * spec.seeds.size());
  std::unordered_map<std::string, size_t> index_of_id;
  index_of_id.reserve(runs.capacity());
  for (const auto& partial : combinations) {
    std::optional<PlannedRun> resolved_once;
    for (const auto seed : spec.seeds) {
      auto config = spec.base;
      config.update(partial);
      config["seed"] = seed;
      if (std::any_of(spec.excludes.begin(), spec.excludes.end(), [&](const auto& e) { return matches(e, config); })) continue;
      auto varying = partial;
      varying["seed"] = seed;
      PlannedRun run;
      if (seed_is_inert && resolved_once) {
        run.config = resolved_once->config;
        run.config["seed"] = seed;
        run.id = run_id(run.config);
        run.varying = std::move(varying);
      } else {
        for (const auto& [condition, set] : spec.when) {
          if (matches(condition, config)) config.update(set);
        }
        config.update(profile_keys);
        run = resolve(spec.path, config, varying);
        if (seed_is_inert) resolved_once = run;
      }
      const auto [it, inserted] = index_of_id.emplace(run.id, runs.size());
      if (!inserted) {
        throw SpecError(spec.path + ": grid: runs " + runs[it->second].varying.dump() + " and " + run.varying.dump() +
                        " have the same resolved config (duplicate run)");
      }
      runs.push_back(std::move(run));
    }
  }
  if (runs.empty()) throw SpecError(spec.path + ": grid: the spec expands to no runs (everything excluded?)");
  return runs;
}

}  // namespace isda::runner
