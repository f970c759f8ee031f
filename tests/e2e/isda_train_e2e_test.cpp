// Drives the real isda-train binary.
#include "support/idx_files.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <algorithm>
#include <fstream>
#include <gtest/gtest.h>

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
