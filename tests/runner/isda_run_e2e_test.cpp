// Drives isda-run on a small Fashion-MNIST-format sweep with the CPU backend.
#include "results/lambda0_choices.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"
#include "support/idx_files.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <regex>
#include <cctype>
#include <iostream>
#include <fmt/format.h>
#include <thread>

namespace isda {
namespace {

using ::testing::HasSubstr;

class IsdaRun : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.file("data");
    std::filesystem::create_directories(data_);
    testing::write_synthetic_fashion_mnist(data_, 384, 100, 9);
    spec_ = dir_.file("sweep.json");
    std::ofstream(spec_) << nlohmann::json{
        {"name", "e2e"},
        {"base", {{"data_root", data_}, {"model", "resnet8"}, {"epochs", 3}, {"batch_size", 32}, {"lr", 0.05},
                  {"lr_milestones", {2}}, {"augment", "standard"}}},
        {"grid", {{"method", {"ce", "isda"}}}},
        {"seeds", {1, 2}}}.dump();
  }

  std::vector<std::string> command(const std::string& name) const {
    return {ISDA_RUN_BINARY, spec_, "--db", dir_.file(name + ".db"), "--runs-dir", dir_.file(name + "-runs"),
            "--gpus", "none", "--cpu-slots", "2", "--threads", "1", "--worker", ISDA_TRAIN_BINARY};
  }

  testing::ScratchDir dir_;
  std::string data_;
  std::string spec_;
};

struct Summary {
  std::map<std::string, std::vector<double>> losses;  // run id -> train loss per epoch
  std::map<std::string, double> last10;
  int done = 0;
};

Summary summarise(const std::string& db) {
  auto store = results::ResultsStore::open(db, results::ResultsStore::Mode::reader);
  Summary s;
  for (const auto& sweep : list_sweeps(store)) {
    std::vector<std::string> ids;
    for (const auto& run : runs_of_sweep(store, sweep.id)) {
      s.done += run.state == results::RunState::done;
      for (const auto& e : epochs_of(store, run.id)) s.losses[run.id].push_back(e.train_loss);
      ids.push_back(run.id);
    }
    for (const auto& f : finals_of(store, ids)) s.last10[f.run_id] = f.last10_test_error;
  }
  return s;
}

TEST_F(IsdaRun, DryRunListsTheRunsWithTheirIds) {
  const auto fresh = testing::run_process({ISDA_RUN_BINARY, spec_, "--db", dir_.file("a.db"), "--dry-run"});
  ASSERT_EQ(fresh.exit_code, 0) << fresh.err;  // no store yet: every run is new, and none is created
  EXPECT_THAT(fresh.out, ::testing::ContainsRegex("[0-9a-f]{16}  new         .*\"method\":\"isda\""));
  EXPECT_FALSE(std::filesystem::exists(dir_.file("a.db")));
  ASSERT_EQ(testing::run_process(command("a")).exit_code, 0);
  const auto listed = testing::run_process({ISDA_RUN_BINARY, spec_, "--db", dir_.file("a.db"), "--dry-run"});
  EXPECT_EQ(listed.exit_code, 0) << listed.err;
  EXPECT_THAT(listed.out, HasSubstr("4 runs"));
  EXPECT_THAT(listed.out, ::testing::ContainsRegex("[0-9a-f]{16}  done        .*\"method\":\"isda\""));
  const auto status = testing::run_process({ISDA_RUN_BINARY, "status", "--db", dir_.file("a.db")});
  EXPECT_THAT(status.out, HasSubstr("e2e"));
  EXPECT_THAT(status.out, HasSubstr("4 done"));
}

// "3m05s" / "42s" / "2h07m" -> seconds (format_duration's output).
double seconds_of(const std::string& text) {
  double total = 0, number = 0;
  for (const char c : text) {
    if (std::isdigit(static_cast<unsigned char>(c))) {
      number = number * 10 + (c - '0');
      continue;
    }
    total += number * (c == 'd' ? 86400 : c == 'h' ? 3600 : c == 'm' ? 60 : 1);
    number = 0;
  }
  return total;
}

// The dry-run estimate against a sweep actually run: a first sweep leaves measured epochs in the
// store, then another sweep of the same model is estimated and run on 2 CPU slots. The ratio
// estimate / actual is printed (and recorded as a test property); the bound is loose because the
// machine may be shared.
TEST_F(IsdaRun, DryRunEstimatesTheWallTimeOfASweepFromEarlierRuns) {
  const auto write_spec = [&](const std::string& path, const std::string& name, const nlohmann::json& seeds) {
    std::ofstream(path) << nlohmann::json{
        {"name", name},
        {"base", {{"data_root", data_}, {"model", "resnet8"}, {"epochs", 3}, {"batch_size", 32}, {"lr", 0.05},
                  {"lr_milestones", {2}}, {"augment", "none"}, {"train_limit", 384}, {"test_limit", 100}}},
        {"grid", {{"method", {"ce", "isda"}}}},
        {"seeds", seeds}}.dump();
  };
  const auto first = dir_.file("first.json"), second = dir_.file("second.json");
  write_spec(first, "estimate-first", {1});
  write_spec(second, "estimate-second", {2, 3, 4});
  const std::vector<std::string> common = {"--db", dir_.file("e.db"), "--runs-dir", dir_.file("e-runs"), "--gpus", "none",
                                           "--cpu-slots", "2", "--threads", "1", "--worker", ISDA_TRAIN_BINARY};
  const auto with = [&](std::vector<std::string> head, const std::vector<std::string>& tail) {
    head.insert(head.end(), tail.begin(), tail.end());
    return head;
  };
  // Nothing measured yet: the model is named, not guessed.
  const auto blind = testing::run_process(with({ISDA_RUN_BINARY, second, "--dry-run"}, common));
  ASSERT_EQ(blind.exit_code, 0) << blind.err;
  EXPECT_THAT(blind.out, HasSubstr("device time unknown"));
  EXPECT_THAT(blind.out, HasSubstr("no calibration or measured epochs for resnet8 at 28 px (isda)"));

  ASSERT_EQ(testing::run_process(with({ISDA_RUN_BINARY, first}, common)).exit_code, 0);
  const auto dry = testing::run_process(with({ISDA_RUN_BINARY, second, "--dry-run"}, common));
  ASSERT_EQ(dry.exit_code, 0) << dry.err;
  EXPECT_THAT(dry.out, HasSubstr("estimate (2 CPU slots):"));
  EXPECT_THAT(dry.out, HasSubstr("from measured: 1 run of resnet8 (isda)"));
  std::smatch match;
  ASSERT_TRUE(std::regex_search(dry.out, match, std::regex("total: 6 runs, 18 epochs, device time (\\S+), wall time (\\S+)\n")))
      << dry.out;
  const double estimate = seconds_of(match[2].str());

  const auto start = std::chrono::steady_clock::now();
  const auto run = testing::run_process(with({ISDA_RUN_BINARY, second}, common));
  const double actual = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ASSERT_EQ(run.exit_code, 0) << run.err;
  const double ratio = estimate / actual;
  std::cout << fmt::format("estimate {:.0f} s, actual {:.1f} s, estimate/actual {:.2f}\n", estimate, actual, ratio);
  RecordProperty("estimate_over_actual", fmt::format("{:.2f}", ratio));
  EXPECT_GT(ratio, 0.3);
  EXPECT_LT(ratio, 3.0);
  // Done runs cost nothing any more.
  const auto after = testing::run_process(with({ISDA_RUN_BINARY, second, "--dry-run"}, common));
  EXPECT_THAT(after.out, HasSubstr("total: 0 runs, 0 epochs"));
}

// The paper's protocol in one command: the hold-out search runs first, lambda0 is chosen and
// recorded with its evidence, then the final ISDA run trains with it.
TEST(IsdaRunTwoStage, ChoosesLambda0OnTheHoldOutThenRunsTheFinalRunsWithIt) {
  testing::ScratchDir dir;
  const auto data = dir.file("data");
  std::filesystem::create_directories(data);
  testing::write_synthetic_fashion_mnist(data, 5200, 100, 9);  // the hold-out takes 5,000 of them
  const auto spec = dir.file("two_stage.json");
  std::ofstream(spec) << nlohmann::json{
      {"name", "two_stage"},
      {"base", {{"data_root", data}, {"model", "resnet8"}, {"epochs", 2}, {"batch_size", 32}, {"lr", 0.05},
                {"lr_milestones", {1}}, {"augment", "none"}, {"train_limit", 192}, {"test_limit", 96}}},
      {"grid", {{"method", {"ce", "isda"}}}},
      {"seeds", {1}},
      {"lambda0_search", {{"candidates", {0.1, 1.0}}}}}.dump();
  const auto db = dir.file("isda.db");
  const auto r = testing::run_process({ISDA_RUN_BINARY, spec, "--db", db, "--runs-dir", dir.file("runs"), "--gpus", "none",
                                       "--cpu-slots", "2", "--threads", "1", "--worker", ISDA_TRAIN_BINARY});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.err, HasSubstr("1 more after the runs they depend on"));
  EXPECT_THAT(r.err, HasSubstr("lambda0 for {\"dataset\":\"fashion-mnist\",\"model\":\"resnet8\"}: "));

  auto store = results::ResultsStore::open(db, results::ResultsStore::Mode::reader);
  const auto sweeps = list_sweeps(store);
  ASSERT_EQ(sweeps.size(), 1u);
  const auto choices = lambda0_choices(store, sweeps[0].id);
  ASSERT_EQ(choices.size(), 1u);
  const auto evidence = nlohmann::json::parse(choices[0].evidence);
  ASSERT_EQ(evidence.size(), 2u);
  const double best = std::min(evidence[0]["mean"].get<double>(), evidence[1]["mean"].get<double>());
  EXPECT_EQ(choices[0].lambda0, evidence[0]["mean"] == best ? 0.1 : 1.0);
  const auto runs = runs_of_sweep(store, sweeps[0].id);
  ASSERT_EQ(runs.size(), 4u);  // two search runs, the ce run, the final isda run
  int finals_with_choice = 0;
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  for (const auto& run : runs) {
    EXPECT_EQ(run.state, results::RunState::done) << run.id << " " << run.error;
    // Provenance: the coordinator's command line and times, the worker's environment.
    const auto provenance = provenance_of(store, run.id);
    ASSERT_TRUE(provenance.has_value()) << run.id;
    EXPECT_EQ(provenance->host, host);
    EXPECT_FALSE(provenance->libtorch.empty());
    EXPECT_EQ(provenance->git_commit.size() % 40, 0u) << provenance->git_commit;  // a full hash, or none (a tarball)
    EXPECT_EQ(provenance->gpu_model, "");  // on the CPU
    EXPECT_THAT(provenance->command_line, HasSubstr(run.id + "/run.json"));
    EXPECT_LE(provenance->started, provenance->ended);
    const auto config = nlohmann::json::parse(run.config_json);
    const auto final_row = finals_of(store, {run.id}).at(0);
    EXPECT_LE(final_row.last10_test_top5_error, final_row.last10_test_error) << "top-5 can only be lower";
    if (config["holdout"] == true) {
      EXPECT_FALSE(std::isnan(final_row.last10_validation_error));
    } else if (config["method"] == "isda") {
      EXPECT_EQ(config["lambda0"].get<double>(), choices[0].lambda0);
      ++finals_with_choice;
    }
  }
  EXPECT_EQ(finals_with_choice, 1);
  const auto status = testing::run_process({ISDA_RUN_BINARY, "status", "--db", db});
  EXPECT_THAT(status.out, HasSubstr("lambda0 "));
  // A rerun has nothing left to do and keeps the choice.
  const auto rerun = testing::run_process({ISDA_RUN_BINARY, spec, "--db", db, "--runs-dir", dir.file("runs"), "--gpus",
                                           "none", "--worker", ISDA_TRAIN_BINARY});
  EXPECT_EQ(rerun.exit_code, 0) << rerun.err;
  EXPECT_THAT(rerun.err, HasSubstr("4 runs (0 new)"));
}

// The coordinator and its workers are killed with SIGKILL at random moments several times; the
// reruns finish every run exactly once, with no epoch row lost or duplicated, and the numbers equal
// those of a sweep never interrupted.
TEST_F(IsdaRun, SurvivesSigkillOfTheCoordinatorAndEqualsAnUninterruptedSweep) {
  const auto clean = testing::run_process(command("clean"));
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  const auto expected = summarise(dir_.file("clean.db"));
  ASSERT_EQ(expected.done, 4);

  std::mt19937 random(5);
  for (int attempt = 0; attempt < 3; ++attempt) {
    const auto pid = testing::start_process(command("killed"), dir_.file("out.txt"), dir_.file("err.txt"));
    std::this_thread::sleep_for(std::chrono::milliseconds(1500 + random() % 3000));
    kill(pid, SIGKILL);  // the coordinator; its workers are orphaned and must be dealt with
    testing::wait_process(pid);
  }
  const auto finished = testing::run_process(command("killed"));
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  const auto got = summarise(dir_.file("killed.db"));
  EXPECT_EQ(got.done, 4);
  EXPECT_EQ(got.losses, expected.losses);  // every epoch once, bit-identical
  EXPECT_EQ(got.last10, expected.last10);
  // A rerun of a finished sweep runs nothing.
  const auto again = testing::run_process(command("killed"));
  EXPECT_EQ(again.exit_code, 0);
  EXPECT_THAT(again.err, ::testing::Not(HasSubstr("started")));
}

// Table 3's generator rows in one command: the generator run first, then the classifiers that mix
// in its images, with the coordinator and its workers SIGKILLed in between (once the classifiers
// have started); the rerun finishes with the store of an uninterrupted sweep.
TEST(IsdaRunGenerators, ClassifiersRunAfterTheirGeneratorRunAcrossAKill) {
  testing::ScratchDir dir;
  const auto data = dir.file("data");
  std::filesystem::create_directories(data);
  testing::write_synthetic_fashion_mnist(data, 256, 64, 9);
  const auto spec = dir.file("gans.json");
  std::ofstream(spec) << nlohmann::json{
      {"name", "gans"},
      {"base", {{"data_root", data}, {"model", "resnet8"}, {"method", "ce"}, {"epochs", 3}, {"batch_size", 32},
                {"lr", 0.05}, {"lr_milestones", {2}}, {"gan", "cgan"}, {"gan_epochs", 3}, {"gan_width", 8},
                {"generated_fraction", 0.25}}},
      {"seeds", {1, 2}}}.dump();
  const auto command = [&](const std::string& name) {
    return std::vector<std::string>{ISDA_RUN_BINARY, spec, "--db", dir.file(name + ".db"), "--runs-dir",
                                    dir.file(name + "-runs"), "--gpus", "none", "--cpu-slots", "2", "--threads", "1",
                                    "--worker", ISDA_TRAIN_BINARY};
  };
  const auto clean = testing::run_process(command("clean"));
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  EXPECT_THAT(clean.err, HasSubstr("2 runs (2 new), 2 more after the runs they depend on"));
  EXPECT_THAT(clean.err, HasSubstr("1 runs wait for their generator run"));
  EXPECT_THAT(clean.err, HasSubstr("(cgan on fashion-mnist, seed 2)"));
  const auto expected = summarise(dir.file("clean.db"));
  ASSERT_EQ(expected.done, 4);

  // Killed once a classifier has logged an epoch: the generators are done, the classifiers are midway.
  const auto runs = dir.file("killed-runs");
  const auto classifier_started = [&] {
    if (!std::filesystem::exists(runs)) return false;
    for (const auto& entry : std::filesystem::directory_iterator(runs)) {
      std::ifstream config(entry.path() / "config.json");
      std::ifstream events(entry.path() / "events.jsonl");
      const std::string text((std::istreambuf_iterator<char>(config)), std::istreambuf_iterator<char>());
      const std::string log((std::istreambuf_iterator<char>(events)), std::istreambuf_iterator<char>());
      if (text.find("\"generator_run\"") != std::string::npos && log.find("\"event\":\"epoch\"") != std::string::npos) {
        return true;
      }
    }
    return false;
  };
  const auto pid = testing::start_process(command("killed"), dir.file("out.txt"), dir.file("err.txt"),
                                          /*own_process_group=*/true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(240);
  while (!classifier_started() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_TRUE(classifier_started());
  kill(-pid, SIGKILL);
  testing::wait_process(pid);
  const auto finished = testing::run_process(command("killed"));
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  const auto got = summarise(dir.file("killed.db"));
  EXPECT_EQ(got.done, 4);
  EXPECT_EQ(got.losses, expected.losses);  // the generators' and the classifiers', every epoch once
  const auto errors = [](std::map<std::string, double> last10) {  // a generator has no test error (NaN)
    for (auto it = last10.begin(); it != last10.end();) it = std::isnan(it->second) ? last10.erase(it) : std::next(it);
    return last10;
  };
  EXPECT_EQ(errors(got.last10).size(), 2u);
  EXPECT_EQ(errors(got.last10), errors(expected.last10));

  auto store = results::ResultsStore::open(dir.file("killed.db"), results::ResultsStore::Mode::reader);
  std::map<uint64_t, std::string> generator_of_seed;
  int classifiers = 0;
  for (const auto& run : runs_of_sweep(store, list_sweeps(store).back().id)) {
    const auto config = nlohmann::json::parse(run.config_json);
    if (config.value("task", "") == "cgan") generator_of_seed[config.at("seed").get<uint64_t>()] = run.id;
  }
  ASSERT_EQ(generator_of_seed.size(), 2u);  // one generator per seed
  for (const auto& run : runs_of_sweep(store, list_sweeps(store).back().id)) {
    const auto config = nlohmann::json::parse(run.config_json);
    if (!config.contains("generator_run")) continue;
    ++classifiers;
    // Its own seed's generator; its identity is part of the classifier's.
    EXPECT_EQ(config.at("generator_run"), generator_of_seed.at(config.at("seed").get<uint64_t>()));
  }
  EXPECT_EQ(classifiers, 2);
  std::vector<std::string> generators;
  for (const auto& [seed, generator] : generator_of_seed) {
    EXPECT_TRUE(std::filesystem::exists(runs + "/" + generator + "/samples.png"));
    generators.push_back(generator);
  }
  // Each generator's class consistency is stored, as in the uninterrupted sweep.
  auto clean_store = results::ResultsStore::open(dir.file("clean.db"), results::ResultsStore::Mode::reader);
  const auto got_finals = finals_of(store, generators), expected_finals = finals_of(clean_store, generators);
  ASSERT_EQ(got_finals.size(), 2u);
  ASSERT_EQ(expected_finals.size(), 2u);
  for (size_t i = 0; i < 2; ++i) {
    EXPECT_GE(got_finals[i].class_consistency, 0.0);
    EXPECT_EQ(got_finals[i].class_consistency, expected_finals[i].class_consistency);
    EXPECT_EQ(got_finals[i].judge_test_accuracy, expected_finals[i].judge_test_accuracy);
  }
}

TEST_F(IsdaRun, ABadSpecIsOneLineAndExitCode2) {
  std::ofstream(dir_.file("bad.json")) << R"({"name": "x", "grid": {"model": ["resnet33"]}})";
  const auto r = testing::run_process({ISDA_RUN_BINARY, dir_.file("bad.json"), "--db", dir_.file("b.db")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_THAT(r.err, HasSubstr("isda-run: error: " + dir_.file("bad.json") + ": grid.model[0]: unknown model"));
}

// Data-parallel runs (ranks 2) take two CPU slots each and end with the metrics isda-train gives
// the same run by itself; with fewer slots than ranks a run fails at once, saying why.
TEST_F(IsdaRun, RunsDataParallelRunsOnTwoSlotsEach) {
  std::ofstream(spec_) << nlohmann::json{
      {"name", "ranks"},
      {"base", {{"data_root", data_}, {"model", "resnet8"}, {"epochs", 2}, {"batch_size", 32}, {"lr", 0.05},
                {"device", "cpu"}, {"ranks", 2}}},
      {"grid", {{"method", {"ce", "isda"}}}},
      {"seeds", {1}}}.dump();
  const auto swept = testing::run_process(command("ranks"));
  ASSERT_EQ(swept.exit_code, 0) << swept.err;
  const auto summary = summarise(dir_.file("ranks.db"));
  EXPECT_EQ(summary.done, 2);

  auto store = results::ResultsStore::open(dir_.file("ranks.db"), results::ResultsStore::Mode::reader);
  std::string isda_run;
  for (const auto& run : runs_of_sweep(store, list_sweeps(store).front().id)) {
    if (nlohmann::json::parse(run.config_json).value("method", "") == "isda") isda_run = run.id;
  }
  ASSERT_FALSE(isda_run.empty());
  const auto by_hand = testing::run_process({ISDA_TRAIN_BINARY, "--config", dir_.file("ranks-runs/" + isda_run + "/run.json"),
                                             "--threads", "1", "--run-dir", dir_.file("by-hand")});
  ASSERT_EQ(by_hand.exit_code, 0) << by_hand.err;
  std::vector<double> got;
  std::ifstream events(dir_.file("by-hand/events.jsonl"));
  for (std::string line; std::getline(events, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.value("event", "") == "epoch") got.push_back(record["train_loss"].get<double>());
  }
  EXPECT_EQ(got, summary.losses.at(isda_run));

  auto one_slot = command("one-slot");
  one_slot[std::find(one_slot.begin(), one_slot.end(), "--cpu-slots") - one_slot.begin() + 1] = "1";
  const auto refused = testing::run_process(one_slot);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_THAT(refused.err, HasSubstr("needs 2 CPU slots (config key ranks), isda-run has 1 (--cpu-slots)"));
}

// Ctrl-C in a terminal reaches isda-run and its workers at once (one process group): the workers
// checkpoint, and the runs are left interrupted with the epochs they reached (not resumed as if
// something else had killed them); the rerun finishes the sweep as if it had never stopped.
TEST_F(IsdaRun, CtrlCLeavesRunsInterruptedAndTheRerunFinishesThem) {
  const auto clean = testing::run_process(command("clean"));
  ASSERT_EQ(clean.exit_code, 0) << clean.err;
  auto args = command("ctrl-c");
  args.push_back("--plain");
  const pid_t pid = testing::start_process(args, dir_.file("ctrl-c.out"), dir_.file("ctrl-c.err"), /*own_process_group=*/true);
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  const auto runs = dir_.file("ctrl-c-runs");
  bool training = false;
  while (!training && std::chrono::steady_clock::now() < deadline) {
    if (std::filesystem::exists(runs)) {
      for (const auto& entry : std::filesystem::directory_iterator(runs)) {
        std::ifstream events(entry.path().string() + "/events.jsonl");
        const std::string text((std::istreambuf_iterator<char>(events)), std::istreambuf_iterator<char>());
        training = training || (text.find("\"event\":\"epoch\"") != std::string::npos &&
                                text.find("\"event\":\"done\"") == std::string::npos);
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_TRUE(training);
  ::kill(-pid, SIGINT);
  EXPECT_EQ(testing::wait_process(pid), 130);
  std::ifstream err_file(dir_.file("ctrl-c.err"));
  const std::string err((std::istreambuf_iterator<char>(err_file)), std::istreambuf_iterator<char>());
  EXPECT_THAT(err, ::testing::Not(HasSubstr("not sent by isda-run")));
  EXPECT_THAT(err, ::testing::ContainsRegex("interrupted [0-9a-f]{16}, [0-9]+ epochs done, checkpointed; rerun to resume it"));
  const auto status = testing::run_process({ISDA_RUN_BINARY, "status", "--db", dir_.file("ctrl-c.db")});
  EXPECT_THAT(status.out, ::testing::ContainsRegex("[1-9] interrupted"));
  EXPECT_THAT(status.out, ::testing::ContainsRegex("interrupted epoch [0-9]/3"));
  const auto rerun = testing::run_process(command("ctrl-c"));
  ASSERT_EQ(rerun.exit_code, 0) << rerun.err;
  const auto expected = summarise(dir_.file("clean.db"));
  const auto got = summarise(dir_.file("ctrl-c.db"));
  EXPECT_EQ(got.losses, expected.losses);
  EXPECT_EQ(got.last10, expected.last10);
}

}  // namespace
}  // namespace isda
