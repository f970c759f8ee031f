#include "data/cifar.h"
#include "core/data/data_error_of.h"
#include "data/datasets.h"
#include "data/holdout.h"
#include "support/idx_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace isda::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;
using Bytes = std::vector<unsigned char>;

constexpr int64_t kPixels = 3072;

// Records whose pixels encode (record id, position) and whose label bytes are given.
Bytes records(const std::vector<std::vector<int>>& label_bytes, int first_id) {
  Bytes out;
  int id = first_id;
  for (const auto& labels : label_bytes) {
    for (int label : labels) out.push_back(static_cast<unsigned char>(label));
    for (int64_t i = 0; i < kPixels; ++i) out.push_back(static_cast<unsigned char>((id * 37 + i * 3) & 0xff));
    ++id;
  }
  return out;
}

void write_file(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

// CIFAR-10 in `dir`: five training batches of `per_batch` records (labels id % 10) and a test batch.
void write_cifar10(const fs::path& dir, int per_batch, bool with_test = true) {
  fs::create_directories(dir);
  for (int b = 0; b < 5; ++b) {
    std::vector<std::vector<int>> labels;
    for (int r = 0; r < per_batch; ++r) labels.push_back({(b * per_batch + r) % 10});
    write_file((dir / ("data_batch_" + std::to_string(b + 1) + ".bin")).string(), records(labels, b * per_batch));
  }
  if (with_test) write_file((dir / "test_batch.bin").string(), records({{3}, {8}}, 1000));
}

TEST(CifarTest, ReadsTrainingBatchesInOrderWithChannelPlanes) {
  isda::testing::ScratchDir dir;
  write_cifar10(dir.path(), 3);
  const Dataset data = load_cifar10(dir.path().string(), true);
  ASSERT_EQ(data.images.sizes(), (std::vector<int64_t>{15, 3, 32, 32}));
  EXPECT_EQ(data.images.scalar_type(), torch::kUInt8);
  EXPECT_EQ(data.labels.scalar_type(), torch::kInt64);
  EXPECT_EQ(data.num_classes, 10);
  for (int id : {0, 4, 14}) {
    EXPECT_EQ(data.labels[id].item<int64_t>(), id % 10);
    // Byte i of a record's pixels is channel i / 1024, row (i % 1024) / 32, column i % 32.
    for (int64_t i : {0L, 31L, 32L, 1023L, 1024L, 2500L, 3071L}) {
      EXPECT_EQ(data.images[id][i / 1024][(i % 1024) / 32][i % 32].item<int64_t>(), (id * 37 + i * 3) & 0xff);
    }
  }
  const Dataset limited = load_cifar10(dir.path().string(), true, 7);
  EXPECT_EQ(limited.images.size(0), 7);
  EXPECT_TRUE(torch::equal(limited.images, data.images.slice(0, 0, 7)));
}

TEST(CifarTest, AcceptsTheOfficialSubdirectory) {
  isda::testing::ScratchDir dir;
  write_cifar10(dir.path() / "cifar-10-batches-bin", 1);
  EXPECT_EQ(load_cifar10(dir.path().string(), false).labels.size(0), 2);
  EXPECT_EQ(load_cifar10(dir.path().string(), true).labels.size(0), 5);
}

TEST(CifarTest, NamesExactlyTheMissingFilesOfTheSplit) {
  isda::testing::ScratchDir dir;
  write_cifar10(dir.path(), 1, /*with_test=*/false);
  fs::remove(dir.path() / "data_batch_2.bin");
  fs::remove(dir.path() / "data_batch_4.bin");
  const std::string train = data_error_of([&] { load_cifar10(dir.path().string(), true); });
  EXPECT_THAT(train, HasSubstr("data_batch_2.bin, data_batch_4.bin"));
  EXPECT_THAT(train, Not(HasSubstr("data_batch_1.bin")));
  EXPECT_THAT(train, Not(HasSubstr("test_batch")));
  const std::string test = data_error_of([&] { load_cifar10(dir.path().string(), false); });
  EXPECT_THAT(test, HasSubstr("test_batch.bin"));
  EXPECT_THAT(test, Not(HasSubstr("data_batch")));
  const std::string nowhere = data_error_of([&] { load_cifar10((dir.path() / "nope").string(), false); });
  EXPECT_THAT(nowhere, HasSubstr("does not exist"));
}

TEST(CifarTest, FallsBackToTheTestPrefixFileAndHonoursAnOverride) {
  isda::testing::ScratchDir dir;
  write_cifar10(dir.path(), 1, false);
  write_file(dir.file(kCifar10TestPrefixFile), records({{3}, {8}, {8}}, 0));
  EXPECT_EQ(load_cifar10(dir.path().string(), false).labels.size(0), 3);
  write_file(dir.file("mine.bin"), records({{1}}, 0));
  EXPECT_EQ(load_cifar10(dir.path().string(), false, 0, "mine.bin").labels[0].item<int64_t>(), 1);
  EXPECT_THAT(data_error_of([&] { load_cifar10(dir.path().string(), false, 0, "other.bin"); }), HasSubstr("other.bin"));
}

TEST(CifarTest, RejectsTruncatedRecordsAndBadLabels) {
  isda::testing::ScratchDir dir;
  write_cifar10(dir.path(), 2);
  Bytes cut = records({{1}, {2}}, 0);
  cut.resize(cut.size() - 5);
  write_file(dir.file("data_batch_3.bin"), cut);
  const std::string truncated = data_error_of([&] { load_cifar10(dir.path().string(), true); });
  EXPECT_THAT(truncated, HasSubstr("data_batch_3.bin"));
  EXPECT_THAT(truncated, HasSubstr("not a whole number of 3073-byte records"));
  write_file(dir.file("test_batch.bin"), records({{3}, {10}}, 0));
  const std::string label = data_error_of([&] { load_cifar10(dir.path().string(), false); });
  EXPECT_THAT(label, HasSubstr("test_batch.bin: record 1 has label 10, outside [0, 10)"));
  write_file(dir.file("test_batch.bin"), {});
  EXPECT_THAT(data_error_of([&] { load_cifar10(dir.path().string(), false); }), HasSubstr("empty"));
}

TEST(CifarTest, Cifar100UsesTheFineLabel) {
  isda::testing::ScratchDir dir;
  const fs::path sub = dir.path() / "cifar-100-binary";
  fs::create_directories(sub);
  write_file((sub / "train.bin").string(), records({{19, 99}, {3, 42}}, 0));
  const Dataset data = load_cifar100(dir.path().string(), true);
  EXPECT_EQ(data.num_classes, 100);
  EXPECT_EQ(data.labels[0].item<int64_t>(), 99);
  EXPECT_EQ(data.labels[1].item<int64_t>(), 42);
  EXPECT_EQ(data.images[1][0][0][0].item<int64_t>(), 37);
  EXPECT_THAT(data_error_of([&] { load_cifar100(dir.path().string(), false); }), HasSubstr("missing CIFAR-100 test file test.bin"));
  write_file((sub / "test.bin").string(), records({{0, 100}}, 0));
  EXPECT_THAT(data_error_of([&] { load_cifar100(dir.path().string(), false); }), HasSubstr("label 100"));
  write_file((sub / "test.bin").string(), records({{0}}, 0));  // a CIFAR-10 record: 3073 bytes
  EXPECT_THAT(data_error_of([&] { load_cifar100(dir.path().string(), false); }), HasSubstr("3074-byte records"));
}

TEST(DatasetsTest, HoldoutSplitsTheTrainingSetAndNeedsNoTestFile) {
  isda::testing::ScratchDir dir;
  write_cifar10(dir.path(), 1012, /*with_test=*/false);  // 5,060 records
  const DataSplits splits = load_dataset("cifar10", dir.path().string(), true, 7, 0, 0);
  EXPECT_EQ(splits.train.images.size(0), 60);
  EXPECT_EQ(splits.validation.images.size(0), kHoldoutValidationSize);
  EXPECT_FALSE(splits.test.images.defined());
  const auto [train_index, validation_index] = holdout_indices(5060, kHoldoutValidationSize, 7);
  // The labels are id % 10, so they tell which records landed where.
  for (size_t i = 0; i < 60; ++i) EXPECT_EQ(splits.train.labels[static_cast<int64_t>(i)].item<int64_t>(), train_index[i] % 10);
  const DataSplits limited = load_dataset("cifar10", dir.path().string(), true, 7, 10, 100);
  EXPECT_TRUE(torch::equal(limited.train.labels, splits.train.labels.slice(0, 0, 10)));
  EXPECT_EQ(limited.validation.labels.size(0), 100);
  write_file(dir.file("test_batch.bin"), records({{3}, {8}}, 0));
  EXPECT_EQ(load_dataset("cifar10", dir.path().string(), true, 7, 0, 0).test.labels.size(0), 2);
  const DataSplits full = load_dataset("cifar10", dir.path().string(), false, 7, 0, 1);
  EXPECT_EQ(full.train.labels.size(0), 5060);
  EXPECT_EQ(full.test.labels.size(0), 1);
  EXPECT_FALSE(full.validation.images.defined());
}

TEST(DatasetsTest, NamesNormalisationAndRoots) {
  EXPECT_THROW(load_dataset("cifar11", "x", false, 0, 0, 0), std::invalid_argument);
  try {
    normalization_for("svhn");
    ADD_FAILURE();
  } catch (const std::invalid_argument& error) {
    EXPECT_THAT(error.what(), HasSubstr("known: fashion-mnist, cifar10, cifar100, imagenet"));
  }
  EXPECT_THROW(load_dataset("imagenet", "x", false, 0, 0, 0), std::invalid_argument);  // streamed, not in memory
  EXPECT_DOUBLE_EQ(normalization_for("imagenet").std[0], 0.229);
  const Normalization cifar = normalization_for("cifar100");
  ASSERT_EQ(cifar.mean.size(), 3u);
  EXPECT_DOUBLE_EQ(cifar.mean[0], 125.3 / 255);
  EXPECT_DOUBLE_EQ(cifar.std[2], 66.7 / 255);
  EXPECT_DOUBLE_EQ(normalization_for("fashion-mnist").mean[0], 0.2860);
  ::setenv("ISDA_DATA_ROOT", "/data/sets", 1);
  EXPECT_EQ(default_data_root("cifar10"), "/data/sets/cifar10");
  ::unsetenv("ISDA_DATA_ROOT");
  EXPECT_EQ(default_data_root("cifar100"), "data/cifar100");
  EXPECT_EQ(default_data_root("fashion-mnist"), default_fashion_mnist_root());
}

// The real CIFAR-10 in ../shared/data/cifar10 (or $ISDA_SHARED_DATA/cifar10); skipped where absent.
std::string shared_cifar10() {
  const char* env = std::getenv("ISDA_SHARED_DATA");
  const fs::path base = env != nullptr && env[0] != '\0' ? fs::path(env) : fs::path(ISDA_DEFAULT_SHARED_DATA);
  return (base / "cifar10").string();
}

TEST(CifarRealDataTest, FirstLabelsMatchTheOfficialFiles) {
  const std::string root = shared_cifar10();
  if (!fs::exists(fs::path(root) / "data_batch_1.bin")) {
    GTEST_SKIP() << "real CIFAR-10 not found at " << root << " (set ISDA_SHARED_DATA)";
  }
  const Dataset train = load_cifar10(root, true, 2);
  EXPECT_EQ(train.labels[0].item<int64_t>(), 6);
  const Dataset test = load_cifar10(root, false, 10);
  EXPECT_EQ(test.labels.sizes(), (std::vector<int64_t>{10}));
  EXPECT_TRUE(torch::equal(test.labels, torch::tensor({3, 8, 8, 0, 6, 6, 1, 6, 3, 1}, torch::kInt64)));
  EXPECT_TRUE(cifar10_test_present(root));
}

}  // namespace
}  // namespace isda::data
