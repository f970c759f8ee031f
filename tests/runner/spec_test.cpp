#include "runner/spec.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <set>

namespace isda::runner {
namespace {

using ::testing::HasSubstr;

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
    EXPECT_FALSE(r.config["method"] == "ce" && r.config["covariance"] == "diagonal");
    if (r.config["model"] == "resnet110") {
      EXPECT_EQ(r.config["epochs"], 10);  // explicit base key beats the recipe
      EXPECT_EQ(r.config["lr_milestones"], nlohmann::json({80, 120}));
    }
  }
}

TEST(Spec, ProfilesOverrideLast) {
  const auto runs = expand(parse_spec(base_spec(), "x.json"), "smoke");
  for (const auto& r : runs) {
    EXPECT_EQ(r.config["epochs"], 2);
    EXPECT_EQ(r.config["train_limit"], 2000);
  }
  EXPECT_THAT(error_of(base_spec(), "fast"), HasSubstr("x.json: profiles: no profile \"fast\" (known: paper, smoke)"));
}

// Seeds are resolved once per combination unless a rule looks at them; either way the runs are the
// same as resolving every run on its own.
TEST(Spec, ResolvingEachCombinationOnceGivesTheSameRunsAsResolvingEveryRun) {
  const auto fast = expand(parse_spec(base_spec(), "x.json"));
  auto slow_spec = base_spec();
  slow_spec["exclude"].push_back({{"seed", 12345}});  // mentions the seed: every run is resolved
  const auto slow = expand(parse_spec(slow_spec, "x.json"));
  ASSERT_EQ(fast.size(), slow.size());
  for (size_t i = 0; i < fast.size(); ++i) {
    EXPECT_EQ(fast[i].id, slow[i].id);
    EXPECT_EQ(fast[i].config, slow[i].config);
    EXPECT_EQ(fast[i].varying, slow[i].varying);
  }
  auto seeded_rule = base_spec();
  seeded_rule["when"].push_back({{"if", {{"seed", 2}}}, {"set", {{"lr", 0.05}}}});
  for (const auto& run : expand(parse_spec(seeded_rule, "x.json"))) {
    EXPECT_EQ(run.config["lr"] == 0.05, run.config["seed"] == 2) << run.varying;
  }
}

TEST(Spec, RunIdIgnoresWhereARunExecutes) {
  const auto runs = expand(parse_spec(base_spec(), "x.json"));
  auto config = runs[0].config;
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
  EXPECT_THAT(error_of(s), HasSubstr("have the same resolved config (duplicate run)"));
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
  EXPECT_THAT(error_of(s), HasSubstr("x.json: name: expected a non-empty string"));
}

}  // namespace
}  // namespace isda::runner
