#pragma once
// The store the golden-file, command and browser tests report from: a Table 5 sweep with cells in
// every condition (finished, partly finished, unfinished, mixed configs, one seed, no runs, a
// hold-out run the table's match leaves out), an older sweep of the same table, a Table 3-style
// sweep with spanning column and row groups and rows of classifiers trained with generated images
// (their generator runs with and without a recorded class consistency), a Figure 2 sweep, and a
// sweep without layouts.

#include "report_test_support.h"

#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace isda::report::testing {

using nlohmann::json;
using results::RunState;

inline json run_config(const std::string& dataset, const std::string& method, const std::string& covariance, int seed) {
  return {{"model", "wrn28_10"}, {"dataset", dataset}, {"method", method}, {"covariance", covariance},
          {"holdout", false},    {"epochs", 3},         {"lr", 0.1},        {"seed", seed},
          {"lr_milestones", {2}}};
}

inline json with(json config, const std::string& key, const json& value) {
  config[key] = value;
  return config;
}

// Three epochs that end near `last10` (the store takes the finals from the done event as given).
inline std::vector<double> curve_to(double last10) { return {last10 + 20.0, last10 + 6.0, last10}; }

inline FakeRun done(const json& config, double last10) { return {config, RunState::done, last10, curve_to(last10)}; }
inline FakeRun in_state(const json& config, RunState state) { return {config, state, kNoValue, {}}; }

inline json table5_layout(const std::string& title) {
  return {{"id", "5"},
          {"title", title},
          {"note", "WRN-28-10, smoke profile: 3 epochs"},
          {"metric", "last10_test_error"},
          {"match", {{"holdout", false}}},
          {"baseline", {{"row", "Basic"}}},
          {"columns", {{{"label", "CIFAR-10"}, {"match", {{"dataset", "cifar10"}}}},
                       {{"label", "CIFAR-100"}, {"match", {{"dataset", "cifar100"}}}}}},
          {"rows",
           {{{"label", "Basic"}, {"match", {{"method", "ce"}}}, {"paper", {{3.82, 0.15}, {18.58, 0.10}}}},
            {{"label", "Identity"},
             {"match", {{"method", "isda"}, {"covariance", "identity"}}},
             {"paper", {{3.63, 0.12}, {18.53, 0.02}}}},
            {{"label", "Diagonal"}, {"match", {{"method", "isda"}, {"covariance", "diagonal"}}}, {"paper", {{3.70, 0.15}, 18.23}}},
            {{"label", "ISDA"},
             {"match", {{"method", "isda"}, {"covariance", "full"}}},
             {"paper", {{3.58, 0.15}, {17.98, 0.15}}}}}}};
}

inline std::vector<FakeRun> table5_runs() {
  return {
      // Basic: finished; CIFAR-10 within two of the paper's std, CIFAR-100 not.
      done(run_config("cifar10", "ce", "full", 0), 3.90),
      done(run_config("cifar10", "ce", "full", 1), 3.70),
      done(run_config("cifar10", "ce", "full", 2), 3.80),
      done(run_config("cifar100", "ce", "full", 0), 18.90),
      done(run_config("cifar100", "ce", "full", 1), 19.30),
      done(run_config("cifar100", "ce", "full", 2), 19.10),
      // Identity: two of three seeds on CIFAR-10; nothing finished on CIFAR-100.
      done(run_config("cifar10", "isda", "identity", 0), 3.60),
      done(run_config("cifar10", "isda", "identity", 1), 3.64),
      {run_config("cifar10", "isda", "identity", 2), RunState::running, kNoValue, {25.0, 12.0}},
      in_state(run_config("cifar100", "isda", "identity", 0), RunState::pending),
      in_state(run_config("cifar100", "isda", "identity", 1), RunState::running),
      in_state(run_config("cifar100", "isda", "identity", 2), RunState::failed),
      // Diagonal: CIFAR-10 runs that differ in lr (not averaged); one seed on CIFAR-100.
      done(run_config("cifar10", "isda", "diagonal", 0), 3.75),
      done(with(run_config("cifar10", "isda", "diagonal", 1), "lr", 0.05), 3.95),
      done(run_config("cifar100", "isda", "diagonal", 0), 18.40),
      // ISDA: best on CIFAR-10; a hold-out run the table's match leaves out; no CIFAR-100 runs.
      done(run_config("cifar10", "isda", "full", 0), 3.50),
      done(run_config("cifar10", "isda", "full", 1), 3.56),
      done(run_config("cifar10", "isda", "full", 2), 3.62),
      done(with(run_config("cifar10", "isda", "full", 0), "holdout", true), 1.00),
  };
}

inline json table3_layout() {
  const auto column = [](const std::string& group, const std::string& label, const std::string& model,
                         const std::string& dataset) {
    return json{{"group", group}, {"label", label}, {"match", {{"model", model}, {"dataset", dataset}}}};
  };
  return {{"id", "3"},
          {"title", "Table 3: ISDA & other losses, test error (%)"},
          {"match", {{"task", nullptr}}},
          {"columns", {column("ResNet-110", "CIFAR-10", "resnet110", "cifar10"),
                       column("ResNet-110", "CIFAR-100", "resnet110", "cifar100"),
                       column("WRN-28-10", "CIFAR-10", "wrn28_10", "cifar10")}},
          {"rows",
           {{{"group", "losses"}, {"label", "Focal Loss"}, {"match", {{"method", "focal"}}},
             {"paper", {{6.68, 0.22}, {28.28, 0.32}, {3.62, 0.07}}}},
            {{"group", "losses"}, {"label", "Lq_Loss"}, {"match", {{"method", "lq"}}},
             {"paper", {{6.69, 0.07}, {28.78, 0.35}, nullptr}}},
            {{"group", "generated images"}, {"label", "CGAN"}, {"match", {{"gan", "cgan"}}},
             {"paper", {{6.56, 0.14}, {28.25, 0.36}, {3.84, 0.07}}}},
            {{"group", "generated images"}, {"label", "ACGAN"}, {"match", {{"gan", "acgan"}}},
             {"paper", {{6.32, 0.12}, {28.48, 0.44}, {3.81, 0.11}}}},
            {{"group", "augmentation"}, {"label", "ISDA"}, {"match", {{"method", "isda"}}},
             {"paper", {{6.33, 0.19}, {27.57, 0.46}, {3.58, 0.15}}}}}}};
}

// A generator run (core/gan) of one data set, as isda-run derives it: seed 0, its own run directory.
inline json generator_config(const std::string& task, const std::string& dataset) {
  return {{"task", task}, {"dataset", dataset}, {"epochs", 3}, {"seed", 0}};
}

// A done generator run whose done record has `shares` (class_consistency, judge_test_accuracy;
// none for a run of a version that did not record them).
inline FakeRun generator_done(const json& config, const json& shares) {
  FakeRun run{config, RunState::done, kNoValue, {}};
  run.done_extra = shares;
  run.run_dir = "results/runs/" + StoreBuilder::id_of(config);
  return run;
}

// A classifier config that mixes in the images of `generator` (isda-run sets generator_run so).
inline json using_generator(json config, const json& generator) {
  config["gan"] = generator["task"];
  config["generator_run"] = StoreBuilder::id_of(generator);
  return config;
}

inline std::vector<FakeRun> table3_runs() {
  const auto config = [](const std::string& model, const std::string& dataset, const std::string& method, int seed) {
    return json{{"model", model}, {"dataset", dataset}, {"method", method}, {"epochs", 3}, {"seed", seed}};
  };
  const auto cgan10 = generator_config("cgan", "cifar10"), cgan100 = generator_config("cgan", "cifar100");
  const auto acgan10 = generator_config("acgan", "cifar10");
  auto infogan10 = generator_done(generator_config("infogan", "cifar10"), json::object());
  infogan10.state = RunState::running;  // its classifiers wait for it: they are not registered yet
  return {
      generator_done(cgan10, {{"class_consistency", 0.64}, {"judge_test_accuracy", 0.81}}),
      generator_done(cgan100, {{"class_consistency", 0.41}, {"judge_test_accuracy", 0.52}}),
      generator_done(acgan10, json::object()),  // an older version recorded neither
      infogan10,
      done(using_generator(config("resnet110", "cifar10", "ce", 0), cgan10), 6.55),
      done(using_generator(config("resnet110", "cifar10", "ce", 1), cgan10), 6.65),
      done(using_generator(config("resnet110", "cifar100", "ce", 0), cgan100), 28.30),
      done(using_generator(config("wrn28_10", "cifar10", "ce", 0), cgan10), 3.85),
      done(using_generator(config("resnet110", "cifar10", "ce", 0), acgan10), 6.50),
      done(config("resnet110", "cifar10", "focal", 0), 6.80),  done(config("resnet110", "cifar10", "focal", 1), 6.60),
      done(config("resnet110", "cifar100", "focal", 0), 28.10), done(config("wrn28_10", "cifar10", "focal", 0), 3.70),
      done(config("resnet110", "cifar10", "lq", 0), 6.75),     done(config("resnet110", "cifar100", "lq", 0), 28.90),
      done(config("wrn28_10", "cifar10", "lq", 0), 3.80),      done(config("resnet110", "cifar10", "isda", 0), 6.30),
      done(config("resnet110", "cifar10", "isda", 1), 6.40),   done(config("resnet110", "cifar100", "isda", 0), 27.70),
      in_state(config("wrn28_10", "cifar10", "isda", 0), RunState::interrupted),
  };
}

inline json figure2_layout() {
  return {{"id", "2"},
          {"title", "Figure 2: test error of WRN-28-10 on CIFAR-100"},
          {"metric", "test_error"},
          {"series", {{{"label", "WRN-28-10"}, {"match", {{"method", "ce"}}}},
                      {{"label", "WRN-28-10 + ISDA"}, {"match", {{"method", "isda"}}}}}}};
}

inline std::vector<FakeRun> figure2_runs() {
  const auto config = [](const std::string& method, int seed) {
    return json{{"model", "wrn28_10"}, {"dataset", "cifar100"}, {"method", method}, {"epochs", 4}, {"seed", seed}};
  };
  return {
      {config("ce", 0), RunState::done, 19.0, {60.0, 40.0, 25.0, 19.0}},
      {config("ce", 1), RunState::done, 19.4, {62.0, 41.0, 26.0, 19.4}},
      {config("isda", 0), RunState::done, 18.0, {58.0, 37.0, 23.0, 18.0}},
      {config("isda", 1), RunState::done, 18.2, {57.0, 38.0, 24.0, 18.2}},
      {config("isda", 2), RunState::running, kNoValue, {59.0}},
  };
}

// Builds the example store at `db_path` (event logs under `logs_dir`). Sweep ids: 1 quickstart,
// 2 the older table5:smoke, 3 table5:smoke, 4 table3:smoke, 5 figure2:smoke.
inline void build_example_store(const std::string& db_path, const std::string& logs_dir) {
  StoreBuilder builder(db_path, logs_dir);
  builder.add_sweep("quickstart", {{"name", "quickstart"}, {"grid", {{"method", {"ce"}}}}},
                    {done({{"model", "resnet8"}, {"dataset", "fashion-mnist"}, {"method", "ce"}, {"seed", 1}}, 12.0)});
  builder.add_sweep("table5:smoke", {{"name", "table5"}, {"table", table5_layout("Table 5 (an older spec)")}},
                    {done(run_config("cifar10", "ce", "full", 7), 9.99)});
  builder.add_sweep("table5:smoke",
                    {{"name", "table5"}, {"table", table5_layout("Table 5: ablation of ISDA's components, WRN-28-10, test error (%)")}},
                    table5_runs());
  builder.add_sweep("table3:smoke", {{"name", "table3"}, {"table", table3_layout()}}, table3_runs());
  builder.add_sweep("figure2:smoke", {{"name", "figure2"}, {"figure", figure2_layout()}}, figure2_runs());
}

}  // namespace isda::report::testing
