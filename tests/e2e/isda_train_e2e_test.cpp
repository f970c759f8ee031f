// Drives the real isda-train binary.
#include "support/idx_files.h"
#include "support/run_logs.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

namespace isda {
namespace {

using ::testing::HasSubstr;
using testing::run_process;

class IsdaTrainBinary : public ::testing::Test {
 protected:
  testing::ProcessResult train(std::vector<std::string> args) {
    args.insert(args.begin(), ISDA_TRAIN_BINARY);
    return run_process(args);
  }
  testing::ScratchDir dir_;
};

TEST_F(IsdaTrainBinary, TrainsAndPrintsOneLinePerEpochAndAResult) {
  testing::write_synthetic_fashion_mnist(dir_.path().string(), 256, 100, 2);
  const auto r = train({"--data-root", dir_.path().string(), "--model", "resnet8", "--epochs", "2", "--batch-size",
                        "64", "--device", "cpu", "--method", "isda", "--lr-milestones", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 1/2 loss "));
  EXPECT_THAT(r.out, HasSubstr("epoch 2/2 loss "));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("lambda 0.250 lr 0.01 time [0-9.]+s [0-9]+ img/s"));
  EXPECT_THAT(r.out, HasSubstr("result: method isda test_err "));
}

TEST_F(IsdaTrainBinary, ReadsAConfigFileThatFlagsOverride) {
  testing::write_synthetic_fashion_mnist(dir_.path().string(), 64, 32, 2);
  const auto config = dir_.file("run.json");
  std::ofstream(config) << R"({"model": "resnet8", "epochs": 5, "method": "ce"})";
  const auto r = train({"--config", config, "--epochs", "1", "--dump-config"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("\"epochs\": 1"));
  EXPECT_THAT(r.out, HasSubstr("\"method\": \"ce\""));
}

TEST_F(IsdaTrainBinary, BadInputIsOneLineAndANonzeroExit) {
  struct Case {
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const auto bad_json = dir_.file("bad.json");
  std::ofstream(bad_json) << R"({"epochs": 3, "lamda0": 1})";
  const std::vector<Case> cases = {
      {{"--epochs", "ten"}, 2, "isda-train: error: --epochs: expected an integer, got \"ten\""},
      {{"--optimizer", "adam"}, 2, "isda-train: error: unknown option --optimizer"},
      {{"--config", bad_json}, 2, "isda-train: error: " + bad_json + ": lamda0: unknown key"},
      {{"--config", dir_.file("absent.json")}, 2, "absent.json: cannot open file"},
      {{"--model", "resnet33", "--data-root", dir_.path().string()}, 2, "unknown model \"resnet33\""},
      {{"--data-root", dir_.file("empty")}, 3, "apt-get install dataset-fashion-mnist"},
      {{"--lambda0", "-2"}, 2, "command line: lambda0: must not be negative"},
      {{"--lr", "inf"}, 2, "command line: lr: must be a finite number, got inf"},
  };
  testing::write_synthetic_fashion_mnist(dir_.path().string(), 64, 32, 2);
  for (const auto& c : cases) {
    const auto r = train(c.args);
    EXPECT_EQ(r.exit_code, c.code) << c.args[0] << ": " << r.err;
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST_F(IsdaTrainBinary, HelpListsEveryOption) {
  const auto r = train({"--help"});
  EXPECT_EQ(r.exit_code, 0);
  for (const std::string flag : {"--model", "--lambda0", "--lambda-schedule", "--covariance", "--lr-milestones"}) {
    EXPECT_THAT(r.out, HasSubstr(flag));
  }
}

}  // namespace
}  // namespace isda

namespace isda {
namespace {

using testing::epoch_lines;
using testing::logged_epochs;

class IsdaTrainResume : public ::testing::Test {
 protected:
  void SetUp() override { testing::write_synthetic_fashion_mnist(dir_.path().string(), 640, 100, 4); }
  std::vector<std::string> command(const std::string& run_dir) const {
    return {ISDA_TRAIN_BINARY, "--data-root", dir_.path().string(), "--model", "resnet8", "--epochs", "8",
            "--batch-size", "32", "--device", "cpu", "--threads", "1", "--method", "isda", "--lr-milestones", "2",
            "--seed", "5", "--run-dir", run_dir};
  }
  testing::ScratchDir dir_;
};

// kill -9 at a random moment, several times, then resume: the per-epoch metrics (timings aside)
// equal those of a run that was never stopped, and each epoch is logged exactly once.
TEST_F(IsdaTrainResume, SigkillAndRerunEqualsAnUninterruptedRun) {
  const auto straight = testing::run_process(command(dir_.file("straight")));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;

  const auto run_dir = dir_.file("killed");
  std::mt19937 random(11);
  const auto events = run_dir + "/events.jsonl";
  for (int attempt = 0; attempt < 3; ++attempt) {
    // Killed at a random moment of the epoch after the next one it logs (never by the clock alone,
    // which a fast or a loaded machine would defeat).
    const int logged_before = logged_epochs(events);
    const auto pid = testing::start_process(command(run_dir), dir_.file("out.txt"), dir_.file("err.txt"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
    while (logged_epochs(events) <= logged_before && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(random() % 200));
    kill(pid, SIGKILL);
    EXPECT_EQ(testing::wait_process(pid), 128 + SIGKILL);
  }
  ASSERT_LT(logged_epochs(events), 8) << "the kills should have landed before the end";
  const auto finished = testing::run_process(command(run_dir));
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  EXPECT_EQ(logged_epochs(events), 8);
  // The final process printed only the epochs it ran; the event log holds them all. Compare the
  // metrics of the last epoch and the result line.
  const auto expected = epoch_lines(straight.out);
  const auto got = epoch_lines(finished.out);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), expected.back());
  EXPECT_EQ(finished.out.substr(finished.out.find("result:")), straight.out.substr(straight.out.find("result:")));
}

TEST_F(IsdaTrainResume, SigtermCheckpointsAndExitsWith143ThenResumes) {
  const auto run_dir = dir_.file("run");
  const auto pid = testing::start_process(command(run_dir), dir_.file("out.txt"), dir_.file("err.txt"));
  // Mid-training: once the first epoch is logged.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (logged_epochs(run_dir + "/events.jsonl") < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(testing::wait_process(pid), 143);
  std::ifstream err(dir_.file("err.txt"));
  std::stringstream text;
  text << err.rdbuf();
  EXPECT_THAT(text.str(), HasSubstr("interrupted by signal 15; checkpointed, rerun to resume"));
  const auto finished = testing::run_process(command(run_dir));
  ASSERT_EQ(finished.exit_code, 0) << finished.err;
  EXPECT_THAT(finished.err, HasSubstr("resuming"));
  EXPECT_EQ(logged_epochs(run_dir + "/events.jsonl"), 8);
}

TEST_F(IsdaTrainResume, ACorruptCheckpointIsExitCode4) {
  const auto run_dir = dir_.file("run");
  std::filesystem::create_directories(run_dir);
  std::ofstream(run_dir + "/checkpoint.pt") << "not a checkpoint";
  const auto r = testing::run_process(command(run_dir));
  EXPECT_EQ(r.exit_code, 4);
  EXPECT_THAT(r.err, HasSubstr("checkpoint.pt: not an isda-suite checkpoint"));
}

}  // namespace
}  // namespace isda
