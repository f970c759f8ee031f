// Drives isda-train on generator runs (core/gan): kill and resume equal an uninterrupted run, a
// classifier mixes in a finished generator's images, and every bad generator input is one line.
#include "support/idx_files.h"
#include "support/run_logs.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

namespace isda {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

// The generator loss of every epoch record, as logged (JSON text, so bit for bit).
std::vector<std::string> logged_losses(const std::string& run_dir) {
  std::vector<std::string> losses;
  std::ifstream in(run_dir + "/events.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto record = nlohmann::json::parse(line);
    if (record.at("event") == "epoch") losses.push_back(record.at("train_loss").dump());
  }
  return losses;
}

class GeneratorRun : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_synthetic_fashion_mnist(dir_.path().string(), 320, 64, 4); }
  std::vector<std::string> command(const std::string& run_dir, const std::string& kind = "cgan") const {
    return {ISDA_TRAIN_BINARY, "--task", kind, "--data-root", dir_.path().string(), "--epochs", "4", "--batch-size", "32",
            "--gan-width", "8", "--device", "cpu", "--threads", "1", "--seed", "3", "--run-dir", run_dir};
  }
  testing::ScratchDir dir_;
};

// SIGKILL after an epoch, SIGTERM inside one (a checkpoint mid-epoch), then a rerun: every epoch's
// generator loss equals an uninterrupted run's, bit for bit, and each is logged once.
TEST_F(GeneratorRun, KillAndResumeEqualsAnUninterruptedRun) {
  for (const std::string kind : {"infogan", "wgan"}) {
    const auto straight = testing::run_process(command(dir_.file("straight-" + kind), kind));
    ASSERT_EQ(straight.exit_code, 0) << straight.err;
    EXPECT_THAT(straight.out, HasSubstr("result: task " + kind + " epochs 4"));
    const auto run_dir = dir_.file("stopped-" + kind);
    const auto events = run_dir + "/events.jsonl";
    for (const int signal_number : {SIGKILL, SIGTERM}) {
      const int before = testing::logged_epochs(events);
      const auto pid = testing::start_process(command(run_dir, kind), dir_.file("out.txt"), dir_.file("err.txt"));
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
      while (testing::logged_epochs(events) <= before && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
      }
      if (signal_number == SIGTERM) std::this_thread::sleep_for(std::chrono::milliseconds(30));
      kill(pid, signal_number);
      const int code = testing::wait_process(pid);
      EXPECT_TRUE(code == 128 + signal_number || code == 0) << kind << " exit " << code;
    }
    ASSERT_LT(testing::logged_epochs(events), 4) << "the signals should have landed before the end";
    const auto finished = testing::run_process(command(run_dir, kind));
    ASSERT_EQ(finished.exit_code, 0) << finished.err;
    EXPECT_THAT(finished.err, HasSubstr("resuming"));
    EXPECT_EQ(logged_losses(run_dir), logged_losses(dir_.file("straight-" + kind))) << kind;
    // The result line holds the class consistency, measured on the final generator: the same.
    EXPECT_THAT(straight.out, HasSubstr(" class_consistency 0."));
    EXPECT_EQ(finished.out.substr(finished.out.find("result:")), straight.out.substr(straight.out.find("result:")));
  }
}

TEST_F(GeneratorRun, AClassifierMixesInAFinishedGeneratorsImagesAndResumesBitForBit) {
  ASSERT_EQ(testing::run_process(command(dir_.file("runs/gen"), "acgan")).exit_code, 0);
  const std::vector<std::string> classifier = {ISDA_TRAIN_BINARY, "--data-root", dir_.path().string(), "--model", "resnet8",
                                               "--method", "ce", "--epochs", "3", "--batch-size", "32", "--device", "cpu",
                                               "--threads", "1", "--gan", "acgan", "--generated-fraction", "0.25",
                                               "--generator-run", "gen"};
  auto with_dir = [&](const std::string& name) {
    auto args = classifier;
    args.insert(args.end(), {"--run-dir", dir_.file("runs/" + name)});
    return args;
  };
  const auto straight = testing::run_process(with_dir("straight"));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  const auto config = nlohmann::json::parse(std::ifstream(dir_.file("runs/straight/config.json")));
  EXPECT_EQ(config.at("generator_run"), "gen");
  EXPECT_EQ(config.at("gan"), "acgan");
  // Stopped after its first epoch and resumed: the same epochs (the generated images come from
  // (seed, epoch, step), not from how far a process got).
  const auto events = dir_.file("runs/killed/events.jsonl");
  const auto pid = testing::start_process(with_dir("killed"), dir_.file("out.txt"), dir_.file("err.txt"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (testing::logged_epochs(events) < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  testing::wait_process(pid);
  const auto resumed = testing::run_process(with_dir("killed"));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(testing::epoch_lines(resumed.out).back(), testing::epoch_lines(straight.out).back());
  // Without the generated images the run computes something else.
  auto plain = std::vector<std::string>(classifier.begin(), classifier.end() - 6);
  const auto without = testing::run_process(plain);
  ASSERT_EQ(without.exit_code, 0) << without.err;
  EXPECT_NE(testing::epoch_lines(without.out).back(), testing::epoch_lines(straight.out).back());
}

TEST_F(GeneratorRun, BadGeneratorInputIsOneLineNamingTheKeyAndExit2) {
  const auto base = std::vector<std::string>{ISDA_TRAIN_BINARY, "--data-root", dir_.path().string(), "--model", "resnet8",
                                             "--epochs", "1", "--device", "cpu", "--threads", "1"};
  const auto with = [&](std::vector<std::string> extra) {
    auto args = base;
    args.insert(args.end(), extra.begin(), extra.end());
    return testing::run_process(args);
  };
  // A generator run that has not finished (one epoch of two, then stopped by hand: no result.json).
  std::filesystem::create_directories(dir_.file("runs/unfinished"));
  std::ofstream(dir_.file("runs/unfinished/config.json")) << R"({"task": "cgan"})";
  ASSERT_EQ(testing::run_process(command(dir_.file("runs/cgan"), "cgan")).exit_code, 0);
  const struct {
    std::vector<std::string> args;
    std::string message;
  } cases[] = {
      {{"--task", "biggan"}, "isda-train: error: command line: task: unknown value \"biggan\" (known: classify, wgan, cgan, acgan, infogan)"},
      {{"--gan", "vae"}, "isda-train: error: command line: gan: unknown value \"vae\""},
      {{"--gan", "cgan"}, "isda-train: error: generator_run: missing: gan \"cgan\" needs the finished generator run"},
      {{"--gan", "cgan", "--generator-run", dir_.file("runs/none")}, "isda-train: error: generator_run: no generator run at " + dir_.file("runs/none")},
      {{"--gan", "cgan", "--generator-run", dir_.file("runs/unfinished")}, "isda-train: error: generator_run: the generator run at " + dir_.file("runs/unfinished") + " is not done (no result.json)"},
      {{"--gan", "acgan", "--generator-run", dir_.file("runs/cgan")}, "isda-train: error: generator_run: " + dir_.file("runs/cgan") + " trained task \"cgan\", not gan \"acgan\""},
      {{"--generator-run", "abc"}, "isda-train: error: command line: generator_run: needs gan"},
  };
  for (const auto& c : cases) {
    const auto r = with(c.args);
    EXPECT_EQ(r.exit_code, 2) << c.message << "\n" << r.err;
    EXPECT_THAT(r.err, StartsWith(c.message));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

}  // namespace
}  // namespace isda
