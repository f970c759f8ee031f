// isda-train --export RUN_DIR OUT.pt, in process: what it writes for a run trained here (read back
// with torch::pickle_load, the C++ twin of torch.load; tests/python/export_check.py reads it with
// Python's torch.load), and one line with its exit code for every bad input.
#include "command/train_command.h"
#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "common/run_files.h"
#include "models/export_names.h"
#include "support/command_outcome.h"
#include "support/idx_files.h"
#include "train/network_export.h"
#include "train/train_config.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>
#include <sstream>

namespace isda::command {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

using Outcome = testing::CommandOutcome;

Outcome run(const std::vector<std::string>& args) { return testing::run_command(run_train_command, args); }

int lines_of(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// One run trained for an epoch (resnet8 with ISDA on a small synthetic Fashion-MNIST), shared by
// the tests: each copies what it breaks.
class TrainExport : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir();
    const auto data = dir_->file("data");
    fs::create_directories(data);
    testing::write_synthetic_fashion_mnist(data, 96, 32, 5);
    const auto r = run({"--model", "resnet8", "--method", "isda", "--data-root", data, "--epochs", "1", "--batch-size",
                        "32", "--augment", "none", "--device", "cpu", "--threads", "1", "--run-dir", dir_->file("run")});
    ASSERT_EQ(r.code, kExitOk) << r.err;
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }

  // A copy of the trained run directory, to break.
  static std::string copy_of_run(const std::string& name) {
    const auto copy = dir_->file(name);
    fs::create_directories(copy);
    for (const char* file : {run_files::kConfig, run_files::kCheckpoint, run_files::kResult}) {
      fs::copy_file(run_files::path(dir_->file("run"), file), run_files::path(copy, file));
    }
    return copy;
  }

  static testing::ScratchDir* dir_;
};
testing::ScratchDir* TrainExport::dir_ = nullptr;

TEST_F(TrainExport, WritesTheTrainedWeightsUnderTheAuthorsNamesAndADescription) {
  const auto out = dir_->file("resnet8.pt");
  const auto r = run({"--export", dir_->file("run"), out});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_EQ(r.err, "");
  EXPECT_EQ(r.out, "exported: resnet8 (isda-authors-resnet-cifar names, 56 tensors, epoch 1, finished) to " + out +
                       " and " + dir_->file("resnet8.json") + "\n");

  const auto network = train::load_run_network(dir_->file("run"));
  const auto expected = models::exported_tensors(*network.model);
  const auto bytes = common::read_file(out);
  const auto loaded = torch::pickle_load(std::vector<char>(bytes.begin(), bytes.end()));
  ASSERT_TRUE(loaded.isGenericDict());
  const auto dict = loaded.toGenericDict();
  ASSERT_EQ(dict.size(), expected.size());
  size_t i = 0;
  for (const auto& entry : dict) {  // in state_dict order
    SCOPED_TRACE(expected[i].name);
    EXPECT_EQ(entry.key().toStringRef(), expected[i].name);
    EXPECT_TRUE(torch::equal(entry.value().toTensor(), expected[i].value));
    EXPECT_FALSE(entry.value().toTensor().requires_grad());
    ++i;
  }
  // The trained values, not a fresh network's: BatchNorm statistics moved, the head learnt.
  EXPECT_GT(dict.at("layer3.0.downsample.1.num_batches_tracked").toTensor().item<int64_t>(), 0);
  EXPECT_EQ(dict.at("fc.weight").toTensor().sizes(), torch::IntArrayRef({10, 64}));
  EXPECT_EQ(dict.at("conv1.weight").toTensor().sizes(), torch::IntArrayRef({16, 1, 3, 3}));  // Fashion-MNIST: 1 channel

  const auto description = nlohmann::json::parse(common::read_file(dir_->file("resnet8.json")));
  EXPECT_EQ(description.at("model"), "resnet8");
  EXPECT_EQ(description.at("names"), "isda-authors-resnet-cifar");
  EXPECT_EQ(description.at("num_classes"), 10);
  EXPECT_EQ(description.at("in_channels"), 1);
  EXPECT_EQ(description.at("feature_dim"), 64);
  EXPECT_EQ(description.at("input_shape"), nlohmann::json({1, 28, 28}));
  EXPECT_EQ(description.at("tensors"), 56);
  EXPECT_EQ(description.at("config").at("dataset"), "fashion-mnist");
  EXPECT_EQ(description.at("run").at("method"), "isda");
  EXPECT_EQ(description.at("run").at("epoch"), 1);
  EXPECT_EQ(description.at("run").at("finished"), true);
}

TEST_F(TrainExport, DescriptionGoesBesideTheStateDict) {
  EXPECT_EQ(train::description_path_for("out/net.pt"), "out/net.json");
  EXPECT_EQ(train::description_path_for("net.pth"), "net.json");
  EXPECT_EQ(train::description_path_for("net.weights"), "net.weights.json");
  EXPECT_EQ(train::description_path_for(".pt"), ".pt.json");
}

TEST_F(TrainExport, EveryBadInputIsOneLineNamingTheFileWithItsExitCode) {
  struct Case {
    std::string name;
    std::vector<std::string> args;
    int code;
    std::string message;
  };
  const auto out = dir_->file("x.pt");

  const auto no_config = dir_->file("no-config");
  fs::create_directories(no_config);

  const auto no_checkpoint = copy_of_run("no-checkpoint");
  fs::remove(run_files::path(no_checkpoint, run_files::kCheckpoint));

  const auto corrupt = copy_of_run("corrupt");
  {
    auto bytes = common::read_file(run_files::path(corrupt, run_files::kCheckpoint));
    bytes[bytes.size() / 2] = static_cast<char>(bytes[bytes.size() / 2] ^ 0x5a);
    common::write_file_atomically(run_files::path(corrupt, run_files::kCheckpoint), bytes);
  }
  const auto truncated = copy_of_run("truncated");
  {
    const auto bytes = common::read_file(run_files::path(truncated, run_files::kCheckpoint));
    common::write_file_atomically(run_files::path(truncated, run_files::kCheckpoint), bytes.substr(0, bytes.size() / 3));
  }
  const auto other_config = copy_of_run("other-config");
  {
    auto config = nlohmann::json::parse(common::read_file(run_files::path(other_config, run_files::kConfig)));
    config["model"] = "resnet20";
    common::write_file_atomically(run_files::path(other_config, run_files::kConfig), config.dump());
  }
  const auto garbled_config = copy_of_run("garbled-config");
  common::write_file_atomically(run_files::path(garbled_config, run_files::kConfig), "{\"model\": ");

  const auto generator = dir_->file("generator");
  fs::create_directories(generator);
  {
    train::TrainConfig classifier;
    classifier.gan = "cgan";
    common::write_file_atomically(run_files::path(generator, run_files::kConfig),
                                  train::to_json(train::generator_config(classifier)).dump());
  }

  const std::vector<Case> cases = {
      {"no run directory", {"--export", dir_->file("nowhere"), out}, kExitUsage,
       dir_->file("nowhere") + ": no such run directory"},
      {"no config.json", {"--export", no_config, out}, kExitUsage,
       run_files::path(no_config, run_files::kConfig) + ": missing (not a run directory of isda-train)"},
      {"unreadable config.json", {"--export", garbled_config, out}, kExitUsage,
       run_files::path(garbled_config, run_files::kConfig) + ": "},
      {"no checkpoint", {"--export", no_checkpoint, out}, kExitCheckpoint,
       run_files::path(no_checkpoint, run_files::kCheckpoint) + ": missing (the run has not finished an epoch yet)"},
      {"corrupt checkpoint", {"--export", corrupt, out}, kExitCheckpoint,
       run_files::path(corrupt, run_files::kCheckpoint) + ": corrupt (checksum mismatch)"},
      {"truncated checkpoint", {"--export", truncated, out}, kExitCheckpoint,
       run_files::path(truncated, run_files::kCheckpoint) + ": truncated"},
      {"checkpoint of another config", {"--export", other_config, out}, kExitCheckpoint,
       run_files::path(other_config, run_files::kCheckpoint) + ": written by another config (model is \"resnet8\" there, "
                                                               "\"resnet20\" here)"},
      {"generator run", {"--export", generator, out}, kExitUsage,
       run_files::path(generator, run_files::kConfig) + ": task: \"cgan\" is a generator run, which has no classifier "
                                                        "to export"},
      {"OUT in a missing directory", {"--export", dir_->file("run"), dir_->file("missing/x.pt")}, kExitUsage,
       dir_->file("missing/x.pt") + ": cannot be written (no such directory " + dir_->file("missing") + ")"},
      {"OUT a directory", {"--export", dir_->file("run"), dir_->file("data")}, kExitUsage,
       dir_->file("data") + ": is a directory"},
      {"no OUT", {"--export", dir_->file("run")}, kExitUsage, "--export: missing OUT.pt (usage: --export RUN_DIR OUT.pt)"},
      {"two OUTs", {"--export", dir_->file("run"), out, "y.pt"}, kExitUsage, "--export: unexpected argument \"y.pt\""},
      {"another option", {"--export", dir_->file("run"), out, "--model", "resnet20"}, kExitUsage,
       "--export: takes no other option (got --model)"},
      {"no RUN_DIR", {"--export"}, kExitUsage, "--export: missing value RUN_DIR"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    const auto r = run(c.args);
    EXPECT_EQ(r.code, c.code) << r.err;
    EXPECT_THAT(r.err, StartsWith("isda-train: error: " + c.message));
    EXPECT_EQ(lines_of(r.err), 1) << r.err;
    EXPECT_EQ(r.out, "");
  }
  EXPECT_FALSE(fs::exists(out)) << "nothing is written for a refused export";
  EXPECT_FALSE(fs::exists(dir_->file("x.json")));
}

TEST_F(TrainExport, ARunInterruptedBeforeItFinishedExportsItsLastCheckpoint) {
  const auto unfinished = copy_of_run("unfinished");
  fs::remove(run_files::path(unfinished, run_files::kResult));
  const auto r = run({"--export", unfinished, dir_->file("unfinished.pt")});
  ASSERT_EQ(r.code, kExitOk) << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 1, not finished"));
  const auto description = nlohmann::json::parse(common::read_file(dir_->file("unfinished.json")));
  EXPECT_EQ(description.at("run").at("finished"), false);
}

TEST(TrainExportHelp, HelpShowsTheExportForm) {
  const auto r = run({"--help"});
  EXPECT_THAT(r.out, HasSubstr("isda-train --export RUN_DIR OUT.pt"));
  EXPECT_THAT(r.out, HasSubstr("--export RUN_DIR"));
}

}  // namespace
}  // namespace isda::command
