// A generator run in the run harness: it honours the execution keys it can (deterministic), refuses
// the ones it cannot in one line, and two runs with one seed are the same bit for bit.
#include "gan/gan_trainer.h"

#include "common/durable_file.h"
#include "common/run_files.h"
#include "support/idx_files.h"

#include <ATen/Context.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

namespace isda::gan {
namespace {

class GeneratorRunTest : public ::testing::Test {
 protected:
  void SetUp() override {
    data_ = dir_.file("data");
    std::filesystem::create_directories(data_);
    testing::write_synthetic_fashion_mnist(data_, 256, 10, 1);
  }
  void TearDown() override { at::globalContext().setDeterministicAlgorithms(false, false); }

  train::TrainConfig tiny() const {
    train::TrainConfig c;
    c.task = "cgan";
    c.data_root = data_;
    c.gan_width = 8;
    c.batch_size = 64;
    c.epochs = 1;
    c.device = "cpu";
    c.threads = 1;
    return c;
  }

  testing::ScratchDir dir_;
  std::string data_;
};

TEST_F(GeneratorRunTest, ADeterministicRunIsDeterministicAndRepeatsBitForBit) {
  auto config = tiny();
  config.deterministic = true;
  at::globalContext().setDeterministicAlgorithms(false, false);
  train::TrainOptions options;
  options.run_dir = dir_.file("a");
  const auto a = train_generator(config, options);
  EXPECT_TRUE(at::globalContext().deterministicAlgorithms()) << "the harness applied deterministic to a generator run";
  options.run_dir = dir_.file("b");
  const auto b = train_generator(config, options);
  ASSERT_EQ(a.epochs.size(), 1u);
  EXPECT_EQ(a.epochs[0].train_loss, b.epochs[0].train_loss);
  EXPECT_EQ(common::read_file(dir_.file("a") + "/" + run_files::kSamples),
            common::read_file(dir_.file("b") + "/" + run_files::kSamples));
}

TEST_F(GeneratorRunTest, ExecutionKeysAGeneratorCannotHonourAreRefusedInOneLine) {
  const auto refused = [&](train::TrainConfig config) {
    try {
      train_generator(config);
    } catch (const train::RunFailure& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
      return std::string(e.what());
    }
    return std::string("not refused");
  };
  auto bf16 = tiny();
  bf16.precision = "bf16";
  EXPECT_THAT(refused(bf16), ::testing::StartsWith("config: precision: \"bf16\" is for classifier runs; a generator run (task \"cgan\")"));
  auto channels_last = tiny();
  channels_last.channels_last = true;
  EXPECT_THAT(refused(channels_last), ::testing::StartsWith("config: channels_last: true is for classifier runs"));
  auto graph = tiny();
  graph.cuda_graph = true;
  EXPECT_THAT(refused(graph), ::testing::StartsWith("config: cuda_graph: true is for classifier runs"));
}

}  // namespace
}  // namespace isda::gan
