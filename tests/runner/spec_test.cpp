#include "runner/spec.h"

#include "json_expand.h"
#include "support/idx_files.h"  // ScratchDir

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <set>

namespace isda::runner {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

nlohmann::json base_spec() {
  return nlohmann::json::parse(R"({
    "name": "t",
    "base": {"dataset": "cifar10", "epochs": 10},
    "grid": {"model": ["resnet32", "resnet110"], "method": ["ce", "isda"]},
    "zip": [{"lambda0": [0.25, 0.5], "covariance": ["full", "diagonal"]}],
    "exclude": [{"method": "ce", "covariance": "diagonal"}],
    "when": [{"if": {"model": "resnet110"}, "set": {"recipe": "resnet"}}],
    "seeds": [0, 1, 2],
    "profiles": {"smoke": {"epochs": 2, "train_limit": 2000}}
  })");
}

std::string error_of(const nlohmann::json& source, const std::string& profile = "") {
  try {
    expand(parse_spec(source, "x.json"), profile);
  } catch (const SpecError& e) {
    return e.what();
  }
  return "";
}

TEST(Spec, ExpandsTheProductOfAxesZipsAndSeedsLessExclusions) {
  const auto runs = expand(parse_spec(base_spec(), "x.json"));
  // 2 models x 2 methods x 2 zipped values x 3 seeds = 24, less ce+diagonal (2 models x 3 seeds).
  EXPECT_EQ(runs.size(), 18u);
  std::set<std::string> ids;
  for (const auto& r : runs) ids.insert(r.id);
  EXPECT_EQ(ids.size(), runs.size());
  for (const auto& r : runs) {
    EXPECT_FALSE(r.config.method == "ce" && r.config.covariance == "diagonal");
    if (r.config.model == "resnet110") {
      EXPECT_EQ(r.config.epochs, 10);  // explicit base key beats the recipe
      EXPECT_EQ(r.config.lr_milestones, (std::vector<int64_t>{80, 120}));
    }
    EXPECT_EQ(r.config_json, train::to_json(r.config).dump());
    EXPECT_EQ(r.id, run_id(train::to_json(r.config)));
  }
  // The first axis varies slowest, the seed fastest.
  EXPECT_EQ(runs[0].varying, R"({"covariance":"full","lambda0":0.25,"method":"ce","model":"resnet32","seed":0})");
  EXPECT_EQ(runs[1].varying, R"({"covariance":"full","lambda0":0.25,"method":"ce","model":"resnet32","seed":1})");
  EXPECT_EQ(runs[3].varying, R"({"covariance":"full","lambda0":0.25,"method":"ce","model":"resnet110","seed":0})");
}

TEST(Spec, ProfilesOverrideLast) {
  const auto runs = expand(parse_spec(base_spec(), "x.json"), "smoke");
  for (const auto& r : runs) {
    EXPECT_EQ(r.config.epochs, 2);
    EXPECT_EQ(r.config.train_limit, 2000);
  }
  EXPECT_THAT(error_of(base_spec(), "fast"), HasSubstr("x.json: profiles: no profile \"fast\" (known: paper, smoke)"));
}

// expand() resolves runs without building JSON objects; the straightforward expansion (a JSON
// object per run, config_from_json, dump) is the definition it must match run for run.
void expect_same_runs(const Spec& spec, const std::string& profile, const std::string& what) {
  const auto fast = expand(spec, profile);
  const auto oracle = bench::expand_with_json(spec, profile);
  ASSERT_EQ(fast.size(), oracle.size()) << what;
  for (size_t i = 0; i < fast.size(); ++i) {
    EXPECT_EQ(fast[i].id, oracle[i].id) << what << " run " << i;
    EXPECT_EQ(fast[i].config_json, oracle[i].config_json) << what << " run " << i;
    EXPECT_EQ(train::to_json(fast[i].config), train::to_json(oracle[i].config)) << what << " run " << i;
    EXPECT_EQ(fast[i].varying, oracle[i].varying) << what << " run " << i;
  }
}

TEST(Spec, ExpandsEveryShippedSpecAsTheJsonExpansionDoes) {
  int specs = 0;
  for (const auto& entry : std::filesystem::directory_iterator(std::string(ISDA_SOURCE_DIR) + "/experiments")) {
    if (entry.path().extension() != ".json") continue;
    ++specs;
    const auto spec = load_spec(entry.path().string());
    expect_same_runs(spec, "", entry.path().string());
    for (const auto& [profile, keys] : spec.profiles) expect_same_runs(spec, profile, entry.path().string() + " " + profile);
  }
  EXPECT_GE(specs, 7);
  auto seeded = base_spec();  // rules that look at the seed
  seeded["exclude"].push_back({{"seed", 1}, {"model", "resnet32"}});
  seeded["when"].push_back({{"if", {{"seed", 2}}}, {"set", {{"lr", 0.05}}}});
  seeded["when"].push_back({{"if", {{"lr", 0.05}}}, {"set", {{"seed", 9}}}});  // rules see the ones before
  expect_same_runs(parse_spec(seeded, "x.json"), "", "seeded rules");
  expect_same_runs(parse_spec(seeded, "x.json"), "smoke", "seeded rules, smoke");
}

// Random specs: keys and values from pools of valid ones, so that every run resolves; rules that
// match given keys (not defaults), overlapping axes, recipes set by rules, execution keys.
nlohmann::json random_spec(std::mt19937_64& random) {
  const std::vector<std::pair<std::string, nlohmann::json>> pool = {
      {"model", {"resnet8", "resnet32", "wrn16_8"}},  {"method", {"ce", "isda", "focal", "lq"}},
      {"lambda0", {0.1, 0.25, 1, 7.5}},              {"covariance", {"full", "diagonal", "single"}},
      {"lr", {0.1, 0.05, 1e-3, 0.3333333333333333}}, {"weight_decay", {1e-4, 5e-4, 0}},
      {"dropout", {0, 0.3}},                         {"recipe", {"", "resnet", "wrn", "shake_shake"}},
      {"epochs", {1, 3, 160}},                       {"augment", {"none", "standard", "cutout"}},
      {"dataset", {"cifar10", "cifar100", "fashion-mnist"}},
      {"lr_milestones", {nlohmann::json::array(), {2}, {80, 120}}},
      {"device", {"cpu", "cuda:1"}},                 {"data_root", {"/data", "d\u00e9j\u00e0 \"vu\"/\\x"}},
      {"split_seed", {0, 18446744073709551615ULL}},  {"nesterov", {true, false}},
  };
  const auto pick = [&](size_t n) { return static_cast<size_t>(random() % n); };
  const auto value_of = [&](size_t key) { return pool[key].second[pick(pool[key].second.size())]; };
  nlohmann::json spec = {{"name", "random"}};
  nlohmann::json base = nlohmann::json::object();
  for (int i = 0, n = static_cast<int>(pick(4)); i < n; ++i) {
    const auto key = pick(pool.size());
    base[pool[key].first] = value_of(key);
  }
  spec["base"] = base;
  nlohmann::json grid = nlohmann::json::object();
  for (int i = 0, n = 1 + static_cast<int>(pick(3)); i < n; ++i) {
    const auto key = pick(pool.size());
    const auto& values = pool[key].second;
    grid[pool[key].first] = nlohmann::json::array();
    for (size_t v = 0, count = 1 + pick(values.size()); v < count; ++v) grid[pool[key].first].push_back(values[v]);
  }
  spec["grid"] = grid;
  if (pick(2) == 0) {
    const auto a = pick(pool.size()), b = pick(pool.size());
    if (pool[a].first != pool[b].first) {
      spec["zip"] = {{{pool[a].first, {value_of(a), value_of(a)}}, {pool[b].first, {value_of(b), value_of(b)}}}};
    }
  }
  const auto condition = [&] {
    nlohmann::json c = nlohmann::json::object();
    for (int i = 0, n = 1 + static_cast<int>(pick(2)); i < n; ++i) {
      if (pick(4) == 0) {
        c["seed"] = static_cast<uint64_t>(pick(3));
      } else {
        const auto key = pick(pool.size());
        c[pool[key].first] = value_of(key);
      }
    }
    return c;
  };
  spec["exclude"] = nlohmann::json::array();
  for (int i = 0, n = static_cast<int>(pick(3)); i < n; ++i) spec["exclude"].push_back(condition());
  spec["when"] = nlohmann::json::array();
  for (int i = 0, n = static_cast<int>(pick(4)); i < n; ++i) {
    spec["when"].push_back({{"if", condition()}, {"set", condition()}});
  }
  spec["seeds"] = {0, 1, 2};
  spec["profiles"] = {{"smoke", condition()}};
  return spec;
}

TEST(Spec, ExpandsRandomSpecsAsTheJsonExpansionDoes) {
  std::mt19937_64 random(20261202);
  int compared = 0;
  for (int trial = 0; trial < 400; ++trial) {
    const auto source = random_spec(random);
    Spec spec;
    try {
      spec = parse_spec(source, "random.json");
    } catch (const SpecError& e) {
      ADD_FAILURE() << e.what();
      continue;
    }
    for (const std::string profile : {"", "smoke"}) {
      const auto what = source.dump() + " profile \"" + profile + "\"";
      std::vector<PlannedRun> fast;
      std::string fast_error;
      try {
        fast = expand(spec, profile);
      } catch (const SpecError& e) {
        fast_error = e.what();
      }
      std::vector<PlannedRun> oracle;
      std::string oracle_error;
      try {
        oracle = bench::expand_with_json(spec, profile);
      } catch (const SpecError& e) {
        oracle_error = e.what();
      }
      if (!oracle_error.empty()) {
        EXPECT_EQ(fast_error, oracle_error) << what;  // the same bad run, named the same way
        continue;
      }
      std::set<std::string> oracle_ids;
      for (const auto& run : oracle) oracle_ids.insert(run.id);
      if (oracle.empty()) {
        EXPECT_THAT(fast_error, HasSubstr("expands to no runs")) << what;
      } else if (oracle_ids.size() < oracle.size()) {
        EXPECT_THAT(fast_error, HasSubstr("have the same resolved config (duplicate run)")) << what;
      } else {
        ASSERT_EQ(fast_error, "") << what;
        expect_same_runs(spec, profile, what);
        ++compared;
      }
    }
  }
  EXPECT_GT(compared, 300);
}

// Ids that isda-run gave before expand() was rewritten (tests/runner/golden/pinned_run_ids.txt):
// a run's id names its directory and its rows in every existing store.
TEST(Spec, RunIdsAreThoseOfEarlierVersions) {
  const auto source = nlohmann::json::parse(R"({
    "name": "pinned",
    "base": {"dataset": "cifar100", "epochs": 3, "weight_decay": 5e-4, "data_root": "/data/c100", "augment": "cutout"},
    "grid": {"model": ["resnet32", "wrn16_8"], "method": ["ce", "isda", "focal"]},
    "zip": [{"lambda0": [0.25, 7.5, 1], "covariance": ["full", "diagonal", "single"]}],
    "exclude": [{"method": "ce", "covariance": "diagonal"}, {"method": "focal", "seed": 1}],
    "when": [{"if": {"model": "wrn16_8"}, "set": {"recipe": "wrn", "lr_milestones": [2]}},
             {"if": {"method": "focal"}, "set": {"focal_gamma": 1e-3, "lr": 0.033333333333333333}}],
    "seeds": [0, 1, 18446744073709551615],
    "profiles": {"smoke": {"epochs": 2, "train_limit": 1000, "device": "cpu", "threads": 2}},
    "lambda0_search": {"candidates": [0.1, 0.5, 1], "per": ["model"], "seeds": [3, 4]}
  })");
  const auto spec = parse_spec(source, "pinned.json");
  std::vector<std::string> ours;
  for (const auto& run : expand(spec)) ours.push_back("paper " + run.id + " " + run.varying);
  for (const auto& run : expand(spec, "smoke")) ours.push_back("smoke " + run.id + " " + run.varying);
  for (const auto& group : lambda0_groups(spec, expand(spec))) {
    for (const auto& run : group.search_runs) ours.push_back("search " + run.id + " " + run.varying);
  }
  std::ifstream in(std::string(ISDA_SOURCE_DIR) + "/tests/runner/golden/pinned_run_ids.txt");
  std::vector<std::string> pinned;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line[0] != '#') pinned.push_back(line);
  }
  ASSERT_EQ(pinned.size(), 96u);
  EXPECT_EQ(ours, pinned);
}

TEST(Spec, WithLambda0GivesTheRunOfThatConfig) {
  const auto runs = expand(parse_spec(base_spec(), "x.json"));
  train::CanonicalJsonWriter writer;
  for (const auto& run : runs) {
    const auto changed = with_lambda0(run, 0.75, writer);
    auto config = train::to_json(run.config);
    config["lambda0"] = 0.75;
    EXPECT_EQ(changed.config_json, config.dump());
    EXPECT_EQ(changed.id, run_id(config));
    auto varying = nlohmann::json::parse(run.varying);
    varying["lambda0"] = 0.75;
    EXPECT_EQ(changed.varying, varying.dump());
  }
}

TEST(Spec, RunIdIgnoresWhereARunExecutes) {
  const auto runs = expand(parse_spec(base_spec(), "x.json"));
  auto config = train::to_json(runs[0].config);
  config["device"] = "cuda:3";
  config["threads"] = 7;
  config["data_root"] = "/elsewhere";
  EXPECT_EQ(run_id(config), runs[0].id);
  config["lr"] = 0.2;
  EXPECT_NE(run_id(config), runs[0].id);
  EXPECT_EQ(runs[0].id.size(), 16u);
}

TEST(Spec, ErrorsNameTheFileTheJsonPathAndTheProblem) {
  auto s = base_spec();
  s["grid"]["model"] = {"resnet32", "resnet110", "resnet33"};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: grid.model[2]: unknown model \"resnet33\" (known: resnet8"));
  s = base_spec();
  s["base"]["epohcs"] = 3;
  EXPECT_THAT(error_of(s), HasSubstr("x.json: base.epohcs: unknown key \"epohcs\""));
  s = base_spec();
  s["grid"]["lambda0"] = {0.1, "big"};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: grid.lambda0[1]: expected a number, got a string"));
  s = base_spec();
  s["grid"]["method"] = nlohmann::json::array();
  EXPECT_THAT(error_of(s), HasSubstr("x.json: grid.method: expected a non-empty array"));
  s = base_spec();
  s["zip"][0]["lambda0"] = {0.25};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: zip[0].lambda0: has 1 values, the group's other arrays 2"));
  s = base_spec();
  s["exclude"] = {{{"dataset", "cifar10"}}};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: grid: the spec expands to no runs"));
  s = base_spec();
  s["grid"]["threads"] = {1, 2};  // execution keys do not make different runs
  EXPECT_THAT(error_of(s), HasSubstr(": grid: runs {\"covariance\":\"full\",\"lambda0\":0.25,\"method\":\"ce\","
                                     "\"model\":\"resnet32\",\"seed\":0,\"threads\":1} and {\"covariance\""));
  EXPECT_THAT(error_of(s), HasSubstr("have the same resolved config (duplicate run)"));
  s = base_spec();
  s["grid"]["lr"] = nlohmann::json::array();
  for (int i = 0; i < 2000; ++i) s["grid"]["lr"].push_back(0.1 + i);
  s["grid"]["weight_decay"] = s["grid"]["lr"];  // x 2,000 x 2 models x 2 methods x 2 zips x 3 seeds
  EXPECT_THAT(error_of(s), HasSubstr("x.json: grid: the spec expands to more than 2000000 runs (before exclusions)"));
  s = base_spec();
  s["seeds"] = {3, -1};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: seeds[1]: expected a non-negative integer"));
  s = base_spec();
  s["tabel"] = {};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: tabel: unknown key"));
  s = base_spec();
  s["when"][0]["set"]["method"] = "mixup";
  EXPECT_THAT(error_of(s), HasSubstr("x.json: when[0].set.method: unknown value \"mixup\""));
  s = base_spec();
  s["base"]["epochs"] = 1;
  s["profiles"]["smoke"]["epochs"] = -2;
  EXPECT_THAT(error_of(s), HasSubstr("x.json: profiles.smoke.epochs: must be positive"));
  s = base_spec();
  s.erase("name");
  EXPECT_THAT(error_of(s), HasSubstr("x.json: name: missing"));
}

// A spec's name and its profiles' names become sweep names and the names of Slurm files: they are
// 1 to 64 of [A-Za-z0-9._-], starting with a letter or digit.
// A value in base, a grid or a rule is judged alone; how keys combine is judged per run, naming it.
TEST(Spec, KeysThatOnlyWorkTogetherAreJudgedTogether) {
  auto s = base_spec();
  s["base"]["ranks"] = 4;
  s["base"]["batch_size"] = 100;  // alone, ranks 4 with the default batch 128 would be fine; 100 / 4 too
  EXPECT_NO_THROW(expand(parse_spec(s, "x.json")));
  s["base"]["ranks"] = 3;
  s["base"]["batch_size"] = 129;  // ranks 3 alone does not split the default 128, but 129 is set too
  EXPECT_NO_THROW(expand(parse_spec(s, "x.json")));
  s["base"].erase("batch_size");
  const auto message = error_of(s);
  EXPECT_THAT(message, HasSubstr("x.json: run "));
  EXPECT_THAT(message, HasSubstr(": batch_size: the global batch 128 does not split into 3 equal shares (ranks)"));
  EXPECT_THAT(message, Not(HasSubstr(": : "))) << "no empty path segment";
}

TEST(Spec, NamesAreWhatAFileNameCanHold) {
  const std::string rule = "(1 to 64 letters, digits, '.', '_' or '-', starting with a letter or digit)";
  for (const auto& name : std::vector<std::string>{"t", "table5", "cifar10_resnet32", "Run-2.b", std::string(64, 'a')}) {
    auto s = base_spec();
    s["name"] = name;
    s["profiles"][name] = {{"epochs", 1}};
    EXPECT_EQ(error_of(s), "") << name;
  }
  for (const auto& name : std::vector<std::string>{"", "../x", "a/b", "..", ".hidden", "-rf", "_x", "a b", "a:b",
                                                 "tab\tle", "caf\xc3\xa9", std::string(65, 'a')}) {
    auto s = base_spec();
    s["name"] = name;
    EXPECT_EQ(error_of(s), "x.json: name: invalid name " + nlohmann::json(name).dump() + " " + rule) << name;
    s = base_spec();
    s["profiles"][name] = {{"epochs", 1}};
    EXPECT_EQ(error_of(s), "x.json: profiles." + name + ": invalid name " + nlohmann::json(name).dump() + " " + rule)
        << name;
  }
  auto s = base_spec();
  s["name"] = 5;
  EXPECT_EQ(error_of(s), "x.json: name: expected a name " + rule + ", got 5");
  s = base_spec();
  s["profiles"]["paper"] = {{"epochs", 1}};
  EXPECT_EQ(error_of(s), "x.json: profiles.paper: \"paper\" is reserved: the spec without a profile");
  // The other string values are a config key's known names, except data_root, a path used as given.
  s = base_spec();
  s["base"]["data_root"] = "../shared/data/cifar10";
  EXPECT_EQ(error_of(s), "");
  s = base_spec();
  s["base"]["device"] = "cuda:../0";
  EXPECT_THAT(error_of(s), HasSubstr("x.json: base.device: unknown value \"cuda:../0\""));
  s = base_spec();
  s["grid"]["augment"] = {"standard", "../x"};
  EXPECT_THAT(error_of(s), HasSubstr("x.json: grid.augment[1]: unknown value \"../x\""));
}

TEST(Spec, FloatingPointValuesMustBeFinite) {
  auto s = base_spec();
  s["grid"]["lr"] = {0.1, std::numeric_limits<double>::infinity()};
  EXPECT_EQ(error_of(s), "x.json: grid.lr[1]: must be a finite number, got inf");
  testing::ScratchDir dir;
  std::ofstream(dir.file("huge.json")) << R"({"name": "t", "base": {"momentum": 1e999}})";
  try {
    load_spec(dir.file("huge.json"));
    ADD_FAILURE() << "expected a SpecError";
  } catch (const SpecError& e) {
    EXPECT_EQ(std::string(e.what()), dir.file("huge.json") + ": invalid JSON: number overflow parsing '1e999'");
  }
}

TEST(Spec, ADirectoryOrAnUnreadableFileIsOneLineNamingIt) {
  testing::ScratchDir dir;
  const auto load_error = [](const std::string& path) {
    try {
      load_spec(path);
    } catch (const SpecError& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_EQ(load_error(dir.path().string()), dir.path().string() + ": is a directory, not a JSON file");
  EXPECT_EQ(load_error(dir.file("absent.json")), dir.file("absent.json") + ": cannot open file (No such file or directory)");
  std::ofstream(dir.file("broken.json")) << R"({"name": )";
  EXPECT_THAT(load_error(dir.file("broken.json")), ::testing::StartsWith(dir.file("broken.json") + ": invalid JSON: "));
  EXPECT_EQ(load_error(dir.file("broken.json")).find('\n'), std::string::npos);
}

}  // namespace
}  // namespace isda::runner
