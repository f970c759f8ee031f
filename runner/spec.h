#pragma once
// Experiment specs (experiments/*.json): a base run config, grid axes whose product is taken,
// zipped axes, exclusions, conditional overrides, seeds and named profiles; expanded into runs
// whose id is a hash of the canonical resolved config.

#include "train/train_config.h"

#include <nlohmann/json.hpp>

#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace isda::runner {

// A bad spec; what() is one line: "<file>: <json path>: <problem>".
class SpecError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The paper's two-stage protocol: lambda0 is chosen per group of runs (those equal in `per` keys)
// from `candidates` by the lowest mean `metric` over `seeds` of search runs (each final run's config
// with `set` applied, e.g. the 45k/5k hold-out), then the final runs use the chosen value.
struct Lambda0Search {
  std::vector<double> candidates;
  std::vector<std::string> per = {"model", "dataset"};
  nlohmann::json applies_to = {{"method", "isda"}};  // the final runs that have a lambda0 to choose
  nlohmann::json set = {{"holdout", true}};
  std::vector<uint64_t> seeds;  // default: the spec's first seed
  std::string metric = "last10_validation_error";
};

struct Spec {
  std::string path;  // where it was read from, for messages
  std::string name;
  nlohmann::json base = nlohmann::json::object();
  std::vector<std::pair<std::string, nlohmann::json>> grid;  // key -> array of values, in file order
  std::vector<nlohmann::json> zips;                            // each: {key: [values], ...} of equal lengths
  std::vector<nlohmann::json> excludes;                        // each: {key: value, ...}
  std::vector<std::pair<nlohmann::json, nlohmann::json>> when;  // (if, set)
  std::vector<uint64_t> seeds = {0};
  std::map<std::string, nlohmann::json> profiles;  // name -> keys set last
  int retries = 1;                                 // extra attempts for a failed run
  std::optional<Lambda0Search> lambda0_search;
  nlohmann::json table;                            // layouts for isda-report, kept as they are
  nlohmann::json figure;
  nlohmann::json source;                           // the whole file
};

struct PlannedRun {
  std::string id;             // 16 hex digits of the hash of `config_json` less the execution keys
  train::TrainConfig config;  // the resolved config
  std::string config_json;    // its canonical JSON (train::to_json(config).dump()), as the store keeps it
  std::string varying;        // the grid, zip and seed values that made this run, as a JSON object, for listings
};

// Reads and validates a spec. Throws SpecError.
Spec load_spec(const std::string& path);
Spec parse_spec(const nlohmann::json& source, const std::string& path);

// Expands a spec into runs under `profile` ("" or "paper": none). Throws SpecError for an unknown
// profile, a combination whose config is invalid, an empty grid or two entries giving the same run.
std::vector<PlannedRun> expand(const Spec& spec, const std::string& profile = "");

// One group of the lambda0 search: the final runs that share the `per` keys' values, and the search
// runs (candidates x search seeds) that choose their lambda0.
struct SearchGroup {
  nlohmann::json key;                     // {per key: value}
  std::vector<size_t> final_runs;         // indices into the final runs
  std::vector<PlannedRun> search_runs;    // with "lambda0" in `varying`
};

// The groups of the spec's lambda0 search over `final_runs` (expand()'s result); empty without one.
std::vector<SearchGroup> lambda0_groups(const Spec& spec, const std::vector<PlannedRun>& final_runs);

// Runs that wait for a generator run (Table 3's generator rows): the final runs with `gan` set and no
// `generator_run` of their own share the generator run train::generator_config derives from them.
struct GeneratorGroup {
  PlannedRun generator;            // the generator run ("stage": "generator" in `varying`)
  std::vector<size_t> final_runs;  // indices into the final runs
};

// The generator groups of `final_runs`, whose runs it gives their generator run's id (`generator_run`,
// and so a new id of their own). Throws SpecError for a derived config that is invalid.
std::vector<GeneratorGroup> generator_groups(const Spec& spec, std::vector<PlannedRun>& final_runs);

// `run` with its lambda0 set to `lambda0` (a new id); `writer` is reused across calls for speed.
PlannedRun with_lambda0(const PlannedRun& run, double lambda0, train::CanonicalJsonWriter& writer);

// The id of a resolved config: a hash of its canonical JSON without the execution keys (device,
// threads, data_root), so the same experiment gets the same id on every machine.
std::string run_id(const nlohmann::json& resolved_config);
// The same from that text, train::CanonicalJsonWriter::write's result.
std::string run_id_of_identity(const std::string& canonical_json_without_execution_keys);

}  // namespace isda::runner
