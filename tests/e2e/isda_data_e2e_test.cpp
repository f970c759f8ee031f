// Drives the real isda-data binary, and isda-train on ImageNet-style folders and on a slice of the
// real CIFAR-10.
#include "data/cifar.h"
#include "data/md5.h"
#include "data/png.h"
#include "data/preview.h"
#include "support/idx_files.h"
#include "support/image_files.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace isda {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::run_process;

int lines_of(const std::string& text) { return static_cast<int>(std::count(text.begin(), text.end(), '\n')); }

// `records` CIFAR-10 records per file (label r % 10, pixels from an LCG) in `dir`.
void write_cifar10_files(const fs::path& dir, int records) {
  fs::create_directories(dir);
  uint32_t state = 7;
  for (const std::string name : {"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin", "data_batch_4.bin",
                                 "data_batch_5.bin", "test_batch.bin"}) {
    std::ofstream out(dir / name, std::ios::binary);
    for (int r = 0; r < records; ++r) {
      out.put(static_cast<char>(r % 10));
      for (int i = 0; i < 3072; ++i) {
        state = state * 1103515245u + 12345u;
        out.put(static_cast<char>(state >> 24));
      }
    }
  }
  std::ofstream(dir / "batches.meta.txt") << "airplane\n";
}

class IsdaDataBinary : public ::testing::Test {
 protected:
  testing::ProcessResult data(std::vector<std::string> args) {
    args.insert(args.begin(), ISDA_DATA_BINARY);
    return run_process(args);
  }
  // A small archive in the official CIFAR-10 layout; returns its path.
  std::string make_archive() {
    write_cifar10_files(dir_.path() / "tree" / "cifar-10-batches-bin", 3);
    const auto archive = dir_.file("cifar-10-binary.tar.gz");
    const auto r = run_process({"/usr/bin/tar", "-czf", archive, "-C", dir_.file("tree"), "cifar-10-batches-bin"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return archive;
  }
  testing::ScratchDir dir_;
};

TEST_F(IsdaDataBinary, FetchesAFileUrlIntoTheLayoutTheReadersLoad) {
  const auto archive = make_archive();
  const auto root = dir_.file("data");
  const auto r = data({"fetch", "cifar10", "--root", root, "--url", "file://" + archive, "--md5", data::md5_file(archive)});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "cifar10: fetched into " + root + "/cifar-10-batches-bin\n");
  EXPECT_THAT(r.err, HasSubstr("isda-data: downloading file://"));
  const auto train = data::load_cifar10(root, true);
  EXPECT_EQ(train.labels.size(0), 15);
  EXPECT_EQ(data::load_cifar10(root, false).labels.size(0), 3);
  EXPECT_TRUE(fs::exists(fs::path(root) / "cifar-10-batches-bin" / "batches.meta.txt"));
  EXPECT_FALSE(fs::exists(fs::path(root) / "cifar-10-binary.tar.gz"));
  EXPECT_FALSE(fs::exists(fs::path(root) / ".cifar-10-batches-bin.unpacking"));
}

TEST_F(IsdaDataBinary, AWrongMd5IsExitCode3AndLeavesNothingBehind) {
  const auto archive = make_archive();
  const auto root = dir_.file("data");
  const auto r = data({"fetch", "cifar10", "--root", root, "--url", "file://" + archive, "--md5",
                       "0123456789abcdef0123456789abcdef"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("isda-data: error: file://" + archive + ": MD5 " + data::md5_file(archive) +
                               " differs from the expected 0123456789abcdef0123456789abcdef (download removed)"));
  EXPECT_EQ(lines_of(r.err.substr(r.err.find("isda-data: error:"))), 1) << r.err;
  EXPECT_FALSE(fs::exists(root));
}

// The full table of usage errors is tests/core/command/data_command_test.cpp (in process).
TEST_F(IsdaDataBinary, BadUsageIsExitCode2MissingDataExitCode3) {
  const auto usage = data({"fetch", "svhn"});
  EXPECT_EQ(usage.exit_code, 2);
  EXPECT_EQ(usage.err, "isda-data: error: fetch: unknown data set \"svhn\" (known: cifar10, cifar100)\n");
  const auto missing = data({"preview", "--out", dir_.file("x.png"), "--root", dir_.file("nothing")});
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, StartsWith("isda-data: error: " + dir_.file("nothing")));
  EXPECT_EQ(lines_of(missing.err), 1) << missing.err;
}

TEST_F(IsdaDataBinary, PreviewWritesAGridWhoseFirstRowIsTheSourceImages) {
  const auto root = dir_.path() / "cifar10";
  write_cifar10_files(root, 4);
  const auto png = dir_.file("grid.png");
  const auto r = data({"preview", "--dataset", "cifar10", "--augment", "autoaugment", "--out", png, "--root",
                       root.string(), "--count", "4", "--copies", "3", "--scale", "1", "--seed", "5"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("wrote " + png));
  const auto grid = data::read_png(png);
  const int64_t gap = data::kPreviewGap;
  EXPECT_EQ(grid.width, gap + 4 * (32 + gap));
  EXPECT_EQ(grid.height, gap + 4 * (32 + gap));
  const auto source = data::load_cifar10(root.string(), true, 4).images;
  const auto pixels = source.accessor<uint8_t, 4>();
  for (int64_t i = 0; i < 4; ++i) {
    for (int64_t y = 0; y < 32; ++y) {
      for (int64_t x = 0; x < 32; ++x) {
        for (int k = 0; k < 3; ++k) ASSERT_EQ(grid.at(gap + y, gap + i * (32 + gap) + x)[k], pixels[i][k][y][x]);
      }
    }
  }
}

// --- isda-train on ImageNet-style folders --------------------------------------------------------

std::vector<nlohmann::json> events(const std::string& path) {
  std::vector<nlohmann::json> out;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) out.push_back(nlohmann::json::parse(line));
  return out;
}

class IsdaTrainImageFolders : public ::testing::Test {
 protected:
  testing::ProcessResult train(const std::string& root, const std::string& run_dir) {
    return run_process({ISDA_TRAIN_BINARY, "--dataset", "imagenet", "--data-root", root, "--model", "resnet8", "--epochs",
                        "1", "--batch-size", "6", "--device", "cpu", "--method", "isda", "--lr", "0.05", "--seed", "3",
                        "--run-dir", run_dir});
  }
  testing::ScratchDir dir_;
};

TEST_F(IsdaTrainImageFolders, TrainsOnJpegFoldersWithClassesFromTheFolders) {
  testing::write_image_folders(dir_.file("imagenet"), 3, 4, 2, 40, 32, 1);
  const auto r = train(dir_.path().string(), dir_.file("run"));  // the root holds imagenet/train and imagenet/val
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("epoch 1/1 loss "));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("test_err [0-9.]+%"));
  int epochs = 0;
  for (const auto& e : events(dir_.file("run") + "/events.jsonl")) {
    if (e.value("event", "") != "epoch") continue;
    ++epochs;
    EXPECT_TRUE(e.at("test_error").is_number()) << e.dump();
  }
  EXPECT_EQ(epochs, 1);
}

TEST_F(IsdaTrainImageFolders, ABrokenJpegOrAMissingFolderIsExitCode3NamingIt) {
  testing::write_image_folders(dir_.path().string(), 2, 3, 1, 24, 24, 2);
  const auto broken = (dir_.path() / "train" / "c1" / "img2.JPEG").string();
  std::ofstream(broken, std::ios::binary) << "garbage";
  const auto r = train(dir_.path().string(), dir_.file("run"));
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(r.err, HasSubstr("isda-train: error: " + broken + ": not a readable JPEG ("));
  EXPECT_EQ(lines_of(r.err), 1) << r.err;

  fs::remove_all(dir_.path() / "val");
  const auto missing = train(dir_.path().string(), dir_.file("run2"));
  EXPECT_EQ(missing.exit_code, 3);
  EXPECT_THAT(missing.err, HasSubstr((dir_.path() / "val").string() + ": image folder does not exist"));
  const auto holdout = run_process({ISDA_TRAIN_BINARY, "--dataset", "imagenet", "--holdout", "true", "--dump-config"});
  EXPECT_EQ(holdout.exit_code, 2);
  EXPECT_THAT(holdout.err, HasSubstr("holdout: imagenet has no hold-out"));
}

// --- isda-train on a slice of the real CIFAR-10 ---------------------------------------------------

TEST(IsdaTrainRealCifar, HoldoutRunRecordsTheValidationError) {
  const char* env = std::getenv("ISDA_SHARED_DATA");
  const fs::path base = env != nullptr && env[0] != '\0' ? fs::path(env) : fs::path(ISDA_DEFAULT_SHARED_DATA);
  const auto root = (base / "cifar10").string();
  if (!fs::exists(fs::path(root) / "data_batch_1.bin")) {
    GTEST_SKIP() << "real CIFAR-10 not found at " << root << " (set ISDA_SHARED_DATA)";
  }
  testing::ScratchDir dir;
  const auto run_dir = dir.file("run");
  const auto r = run_process({ISDA_TRAIN_BINARY, "--dataset", "cifar10", "--data-root", root, "--holdout", "true",
                              "--train-limit", "1000", "--test-limit", "500", "--model", "resnet8", "--epochs", "2",
                              "--batch-size", "100", "--lr-milestones", "1", "--device", "cpu", "--method", "isda",
                              "--run-dir", run_dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("val_err "));
  EXPECT_THAT(r.out, HasSubstr("last10_val_err "));
  int epochs = 0;
  bool done = false;
  for (const auto& e : events(run_dir + "/events.jsonl")) {
    if (e.value("event", "") == "epoch") {
      ++epochs;
      ASSERT_TRUE(e.at("validation_error").is_number()) << e.dump();
      EXPECT_GE(e.at("validation_error").get<double>(), 0.0);
      EXPECT_LE(e.at("validation_error").get<double>(), 100.0);
      EXPECT_TRUE(e.at("test_error").is_number()) << e.dump();  // the 1,000 real test images
    }
    done = done || e.value("event", "") == "done";
  }
  EXPECT_EQ(epochs, 2);
  EXPECT_TRUE(done);
}

}  // namespace
}  // namespace isda
