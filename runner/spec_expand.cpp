// Grid expansion and run identity (runner/spec.h): a parsed spec's runs, each with its canonical
// config JSON and its id, the lambda0 searches and generator runs they depend on. Spec parsing and
// its checks are spec.cpp.
#include "runner/spec.h"

#include "models/model_names.h"
#include "train/train_config.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <optional>
#include <set>
#include <stdexcept>

namespace isda::runner {
namespace {

size_t field_index(const std::string& key) {
  const int index = train::config_key_index(key);
  if (index < 0) throw std::logic_error("spec: \"" + key + "\" is not a config key (unchecked spec)");
  return static_cast<size_t>(index);
}

// The value of the hash behind a run id: FNV-1a from two bases, folded into 64 bits. Both run in
// one loop, so that their multiplication chains overlap.
uint64_t identity_hash(const std::string& text) {
  constexpr uint64_t kPrime = 0x100000001b3ULL;
  uint64_t first = 0xcbf29ce484222325ULL;
  uint64_t second = 0x84222325cbf29ce4ULL;
  for (const unsigned char c : text) {
    first = (first ^ c) * kPrime;
    second = (second ^ c) * kPrime;
  }
  return first ^ (second >> 1);
}

// Checks the run's config and gives the run its canonical JSON and id; returns the hash behind the
// id. Errors name the run by what varied.
uint64_t finish(const std::string& path, PlannedRun& run, train::CanonicalJsonWriter& writer) {
  try {
    train::validate(run.config, "");
  } catch (const train::ConfigError& e) {
    throw SpecError(path + ": run " + run.varying + e.what());
  }
  const uint64_t hash = identity_hash(writer.write(run.config, run.config_json));
  run.id = fmt::format("{:016x}", hash);
  return hash;
}

// Grid expansion without JSON objects per run: a run's keys are pointers to the spec's own values
// (so rules compare them exactly as JSON), resolved into a TrainConfig once at the end.
using Assignments = std::vector<std::pair<size_t, const nlohmann::json*>>;  // field index, value
using ExplicitValues = std::array<const nlohmann::json*, train::kConfigKeyCount>;  // null: not given

Assignments assignments_of(const nlohmann::json& object) {
  Assignments assignments;
  for (const auto& item : object.items()) assignments.emplace_back(field_index(item.key()), &item.value());
  return assignments;
}

void assign(const Assignments& assignments, ExplicitValues& values) {
  for (const auto& [index, value] : assignments) values[index] = value;
}

// A rule's condition holds when every key of it was given exactly that value.
bool matches(const Assignments& condition, const ExplicitValues& values) {
  return std::all_of(condition.begin(), condition.end(), [&](const auto& assignment) {
    const auto* given = values[assignment.first];
    return given != nullptr && *given == *assignment.second;
  });
}

// One grid axis or one zip group: at each of its positions, the keys it sets, and their text in
// `varying` as "key":value, by varying-key index.
struct Axis {
  std::vector<Assignments> assignments;
  std::vector<std::vector<std::pair<size_t, std::string>>> varying;
};

// What every run of a spec shares, compiled once: axes, rules, the profile, recipes.
class Expansion {
 public:
  // A sweep's runs live in memory while it is planned (~1.5 KB each) and in one store.
  static constexpr size_t kMaxRuns = 2'000'000;

  Expansion(const Spec& spec, const nlohmann::json& profile_keys) : spec_(spec) {
    base_.fill(nullptr);
    assign(assignments_of(spec.base), base_);
    std::vector<std::string> varying_keys;  // sorted, as a JSON object's
    for (const auto& [key, values] : spec.grid) varying_keys.push_back(key);
    for (const auto& group : spec.zips) {
      for (const auto& axis : group.items()) varying_keys.push_back(axis.key());
    }
    varying_keys.push_back("seed");
    std::sort(varying_keys.begin(), varying_keys.end());
    varying_keys.erase(std::unique(varying_keys.begin(), varying_keys.end()), varying_keys.end());
    const auto varying_index = [&](const std::string& key) {
      return static_cast<size_t>(std::lower_bound(varying_keys.begin(), varying_keys.end(), key) - varying_keys.begin());
    };
    const auto fragment = [](const std::string& key, const nlohmann::json& value) {
      return nlohmann::json(key).dump() + ':' + value.dump();
    };
    for (const auto& [key, values] : spec.grid) {
      Axis axis;
      for (const auto& value : values) {
        axis.assignments.push_back({{field_index(key), &value}});
        axis.varying.push_back({{varying_index(key), fragment(key, value)}});
      }
      axes_.push_back(std::move(axis));
    }
    for (const auto& group : spec.zips) {
      Axis axis;
      const size_t length = group.begin().value().size();
      axis.assignments.resize(length);
      axis.varying.resize(length);
      for (size_t i = 0; i < length; ++i) {
        for (const auto& item : group.items()) {
          axis.assignments[i].emplace_back(field_index(item.key()), &item.value()[i]);
          axis.varying[i].emplace_back(varying_index(item.key()), fragment(item.key(), item.value()[i]));
        }
      }
      axes_.push_back(std::move(axis));
    }
    for (const auto seed : spec.seeds) seed_values_.emplace_back(seed);
    for (const auto& seed : seed_values_) seed_fragments_.push_back(fragment("seed", seed));
    seed_varying_index_ = varying_index("seed");
    varying_.resize(varying_keys.size());
    for (const auto& e : spec.excludes) excludes_.push_back(assignments_of(e));
    for (const auto& [condition, set] : spec.when) when_.emplace_back(assignments_of(condition), assignments_of(set));
    profile_ = assignments_of(profile_keys);
  }

  std::vector<PlannedRun> runs() {
    std::vector<PlannedRun> runs;
    size_t count = seed_values_.size();
    for (const auto& axis : axes_) {
      const size_t positions = axis.assignments.size();
      if (count > kMaxRuns / positions) {
        throw SpecError(fmt::format("{}: grid: the spec expands to more than {} runs (before exclusions); split it "
                                    "into several specs",
                                    spec_.path, kMaxRuns));
      }
      count *= positions;
    }
    runs.reserve(count);
    std::vector<std::pair<uint64_t, size_t>> hashes;  // of each run's id, to find duplicates at the end
    hashes.reserve(runs.capacity());
    // The combinations in the grid's order: the first axis varies slowest, the seed fastest.
    std::vector<size_t> position(axes_.size(), 0);
    for (bool more = true; more;) {
      ExplicitValues combination = base_;
      for (size_t a = 0; a < axes_.size(); ++a) {
        assign(axes_[a].assignments[position[a]], combination);
        for (const auto& [index, text] : axes_[a].varying[position[a]]) varying_[index] = &text;
      }
      for (size_t s = 0; s < seed_values_.size(); ++s) {
        ExplicitValues values = combination;
        values[seed_index_] = &seed_values_[s];
        varying_[seed_varying_index_] = &seed_fragments_[s];
        if (std::any_of(excludes_.begin(), excludes_.end(), [&](const auto& e) { return matches(e, values); })) continue;
        for (const auto& [condition, set] : when_) {
          if (matches(condition, values)) assign(set, values);
        }
        assign(profile_, values);
        const uint64_t hash = resolve(values, runs.emplace_back());
        hashes.emplace_back(hash, runs.size() - 1);
      }
      more = false;
      for (size_t a = axes_.size(); a-- > 0;) {
        if (++position[a] < axes_[a].assignments.size()) {
          more = true;
          break;
        }
        position[a] = 0;
      }
    }
    // Of the runs that repeat an earlier one, the first in the grid's order is reported, with it.
    std::sort(hashes.begin(), hashes.end());
    std::optional<std::pair<size_t, size_t>> duplicate;  // (earlier, later)
    for (size_t i = 1, first = 0; i < hashes.size(); ++i) {
      if (hashes[i].first != hashes[i - 1].first) {
        first = i;
      } else if (!duplicate || hashes[i].second < duplicate->second) {
        duplicate = {{hashes[first].second, hashes[i].second}};
      }
    }
    if (duplicate) {
      throw SpecError(spec_.path + ": grid: runs " + runs[duplicate->first].varying + " and " +
                      runs[duplicate->second].varying + " have the same resolved config (duplicate run)");
    }
    return runs;
  }

 private:
  // Fills `run` with the config_from_json of the given keys (the defaults, the recipe's keys, then
  // the given keys), its canonical JSON and id; returns the hash behind the id.
  uint64_t resolve(const ExplicitValues& values, PlannedRun& run) {
    run.varying = "{";
    for (size_t i = 0; i < varying_.size(); ++i) {
      if (i > 0) run.varying += ',';
      run.varying += *varying_[i];
    }
    run.varying += '}';
    const auto* recipe = values[recipe_index_];
    const bool has_recipe = recipe != nullptr && recipe->is_string() && !recipe->get_ref<const std::string&>().empty();
    try {
      run.config = has_recipe ? recipe_base(recipe->get_ref<const std::string&>()) : train::TrainConfig{};
      for (size_t i = 0; i < values.size(); ++i) {
        if (values[i] != nullptr) train::set_field(run.config, i, *values[i], "");
      }
    } catch (const train::ConfigError& e) {
      throw SpecError(spec_.path + ": run " + run.varying + e.what());
    }
    return finish(spec_.path, run, writer_);
  }

  // train::recipe_defaults(name), computed once per recipe.
  const train::TrainConfig& recipe_base(const std::string& name) {
    auto it = recipe_bases_.find(name);
    if (it == recipe_bases_.end()) {
      try {
        it = recipe_bases_.emplace(name, train::recipe_defaults(name)).first;
      } catch (const train::ConfigError& e) {
        throw train::ConfigError(std::string(": recipe: ") + e.what());
      }
    }
    return it->second;
  }

  const Spec& spec_;
  const size_t seed_index_ = field_index("seed");
  const size_t recipe_index_ = field_index("recipe");
  ExplicitValues base_;
  std::vector<Axis> axes_;
  std::vector<nlohmann::json> seed_values_;
  std::vector<std::string> seed_fragments_;
  size_t seed_varying_index_ = 0;
  std::vector<const std::string*> varying_;  // the current run's "key":value texts, by varying-key index
  std::vector<Assignments> excludes_;
  std::vector<std::pair<Assignments, Assignments>> when_;
  Assignments profile_;
  std::map<std::string, train::TrainConfig> recipe_bases_;
  train::CanonicalJsonWriter writer_;
};

}  // namespace

std::vector<SearchGroup> lambda0_groups(const Spec& spec, const std::vector<PlannedRun>& final_runs) {
  std::vector<SearchGroup> groups;
  if (!spec.lambda0_search) return groups;
  const auto& search = *spec.lambda0_search;
  const auto applies_to = assignments_of(search.applies_to);
  train::CanonicalJsonWriter writer;
  std::map<std::string, size_t> index_of_key;
  for (size_t i = 0; i < final_runs.size(); ++i) {
    const auto& config = final_runs[i].config;
    const bool applies = std::all_of(applies_to.begin(), applies_to.end(), [&](const auto& condition) {
      return train::field_json(config, condition.first) == *condition.second;
    });
    if (!applies) continue;
    nlohmann::json key = nlohmann::json::object();
    for (const auto& k : search.per) key[k] = train::field_json(config, field_index(k));
    const auto [it, inserted] = index_of_key.emplace(key.dump(), groups.size());
    if (inserted) {
      SearchGroup group;
      group.key = key;
      // The group's first final run stands for it: its config, hold-out `set`, each candidate and seed.
      for (const double lambda0 : search.candidates) {
        for (const auto seed : search.seeds) {
          auto varying = key;
          varying["lambda0"] = lambda0;
          varying["seed"] = seed;
          varying["stage"] = "lambda0 search";
          PlannedRun run;
          run.varying = varying.dump();
          run.config = config;
          try {
            for (const auto& item : search.set.items()) {
              train::set_field(run.config, field_index(item.key()), item.value(), "");
            }
          } catch (const train::ConfigError& e) {
            throw SpecError(spec.path + ": run " + run.varying + e.what());
          }
          run.config.seed = seed;
          run.config.lambda0 = lambda0;
          finish(spec.path, run, writer);
          group.search_runs.push_back(std::move(run));
        }
      }
      groups.push_back(std::move(group));
    }
    groups[it->second].final_runs.push_back(i);
  }
  return groups;
}

std::vector<GeneratorGroup> generator_groups(const Spec& spec, std::vector<PlannedRun>& final_runs) {
  std::vector<GeneratorGroup> groups;
  std::map<std::string, size_t> index_of_id;
  train::CanonicalJsonWriter writer;
  for (size_t i = 0; i < final_runs.size(); ++i) {
    auto& run = final_runs[i];
    if (run.config.gan.empty() || !run.config.generator_run.empty()) continue;
    PlannedRun generator;
    generator.config = train::generator_config(run.config);
    generator.varying = nlohmann::json{{"task", generator.config.task}, {"dataset", generator.config.dataset},
                                       {"stage", "generator"}}.dump();
    finish(spec.path, generator, writer);
    const auto [it, inserted] = index_of_id.emplace(generator.id, groups.size());
    if (inserted) groups.push_back({generator, {}});
    groups[it->second].final_runs.push_back(i);
    run.config.generator_run = generator.id;
    auto varying = nlohmann::json::parse(run.varying);
    varying["generator_run"] = generator.id;
    run.varying = varying.dump();
    finish(spec.path, run, writer);
  }
  return groups;
}

PlannedRun with_lambda0(const PlannedRun& run, double lambda0, train::CanonicalJsonWriter& writer) {
  PlannedRun changed;
  changed.config = run.config;
  changed.config.lambda0 = lambda0;
  auto varying = nlohmann::json::parse(run.varying);
  varying["lambda0"] = lambda0;
  changed.varying = varying.dump();
  finish("", changed, writer);
  return changed;
}

std::string run_id(const nlohmann::json& resolved_config) {
  // The canonical JSON without the execution keys, written item by item: the same text as erasing
  // them from a copy and dumping it (objects keep keys sorted, dump() has no spaces), without the copy.
  std::string text = "{";
  for (const auto& item : resolved_config.items()) {
    const auto& key = item.key();
    if (train::is_execution_key(key)) continue;
    if (text.size() > 1) text += ',';
    text += nlohmann::json(key).dump();
    text += ':';
    text += item.value().dump();
  }
  text += '}';
  return run_id_of_identity(text);
}

std::string run_id_of_identity(const std::string& canonical_json_without_execution_keys) {
  return fmt::format("{:016x}", identity_hash(canonical_json_without_execution_keys));
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
  auto runs = Expansion(spec, profile_keys).runs();
  if (runs.empty()) throw SpecError(spec.path + ": grid: the spec expands to no runs (everything excluded?)");
  return runs;
}

}  // namespace isda::runner
