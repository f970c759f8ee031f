#include "runner/spec.h"

#include "models/model_names.h"
#include "train/train_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <optional>
#include <set>
#include <stdexcept>

namespace isda::runner {
namespace {

constexpr const char* kTopLevelKeys[] = {"name",  "description", "base",    "grid",  "zip",   "exclude",       "when",
                                         "seeds", "profiles",    "retries", "table", "figure", "lambda0_search"};
constexpr const char* kSearchMetrics[] = {"last10_validation_error", "last10_test_error", "final_test_error",
                                          "best_test_error"};

[[noreturn]] void fail(const std::string& path, const std::string& where, const std::string& problem) {
  throw SpecError(path + ": " + where + ": " + problem);
}

// Parsed from a file, 3 is unsigned; built in code (nlohmann::json{3}) it is signed: both count.
bool is_non_negative_integer(const nlohmann::json& value) {
  return value.is_number_unsigned() || (value.is_number_integer() && value.get<int64_t>() >= 0);
}

bool is_config_key(const std::string& key) { return train::config_key_index(key) >= 0; }

// A spec's name and its profiles' names make sweep names ("name:profile") and the names of Slurm
// jobs and their files: letters, digits, '.', '_', '-', not starting with '.', '_' or '-'.
constexpr size_t kMaxNameLength = 64;

void check_name(const std::string& path, const std::string& where, const nlohmann::json& value) {
  const auto rule = fmt::format("1 to {} letters, digits, '.', '_' or '-', starting with a letter or digit",
                                kMaxNameLength);
  if (!value.is_string()) fail(path, where, "expected a name (" + rule + "), got " + value.dump());
  const auto& name = value.get_ref<const std::string&>();
  const auto allowed = [](unsigned char c) { return std::isalnum(c) || c == '.' || c == '_' || c == '-'; };
  const bool valid = !name.empty() && name.size() <= kMaxNameLength && std::isalnum(static_cast<unsigned char>(name[0])) &&
                     std::all_of(name.begin(), name.end(), allowed);
  if (!valid) fail(path, where, "invalid name " + value.dump() + " (" + rule + ")");
}

// Checks one key/value of a run config, reporting at `where` (a JSON path in the spec).
void check_value(const std::string& path, const std::string& where, const std::string& key, const nlohmann::json& value) {
  if (!is_config_key(key)) fail(path, where, "unknown key \"" + key + "\"");
  try {
    train::check_key_value(key, value, "");  // the value alone; each run's whole config is validated when expanded
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
        if (!is_non_negative_integer(value[i])) fail(path, fmt::format("{}[{}]", at, i), "expected a non-negative integer");
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

}  // namespace

Spec load_spec(const std::string& path) {
  nlohmann::json source;
  try {
    source = train::read_json_file(path);  // a directory, an unreadable file, invalid JSON: one line naming it
  } catch (const train::ConfigError& e) {
    throw SpecError(e.what());
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
  if (!source.contains("name")) fail(path, "name", "missing (the sweep's name)");
  check_name(path, "name", source["name"]);
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
      if (!is_non_negative_integer(seeds[i])) fail(path, fmt::format("seeds[{}]", i), "expected a non-negative integer");
      spec.seeds.push_back(seeds[i]);
    }
  }
  if (source.contains("profiles")) {
    if (!source["profiles"].is_object()) fail(path, "profiles", "expected an object of named profiles");
    for (const auto& profile : source["profiles"].items()) {
      check_name(path, "profiles." + profile.key(), profile.key());
      if (profile.key() == "paper") fail(path, "profiles.paper", "\"paper\" is reserved: the spec without a profile");
      check_object(path, "profiles." + profile.key(), profile.value());
      spec.profiles[profile.key()] = profile.value();
    }
  }
  if (source.contains("retries")) {
    if (!is_non_negative_integer(source["retries"])) fail(path, "retries", "expected a non-negative integer");
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

}  // namespace isda::runner
