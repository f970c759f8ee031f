#include "data/data_error.h"
#include "data/fetch.h"
#include "data/md5.h"
#include "support/idx_files.h"  // ScratchDir
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace isda::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  if (!fs::exists(dir)) return names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) names.push_back(fs::relative(e.path(), dir).string());
  std::sort(names.begin(), names.end());
  return names;
}

// A small archive in the official layout (folder/a.bin, folder/b.bin, folder/readme.txt) and the
// DatasetArchive describing it, served from a file:// URL.
class FetchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    const auto tree = dir_.path() / "tree" / "tiny-bin";
    fs::create_directories(tree);
    std::ofstream(tree / "a.bin", std::ios::binary) << std::string(100, 'a');
    std::ofstream(tree / "b.bin", std::ios::binary) << std::string(3000, 'b');
    std::ofstream(tree / "readme.txt") << "tiny\n";
    archive_path_ = dir_.file("tiny.tar.gz");
    const auto r = testing::run_process(
        {"/usr/bin/tar", "-czf", archive_path_, "-C", (dir_.path() / "tree").string(), "tiny-bin"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    archive_ = {"tiny", "file://" + archive_path_, md5_file(archive_path_), "tiny.tar.gz", "tiny-bin",
                {{"a.bin", 100}, {"b.bin", 3000}}};
    root_ = (dir_.path() / "root").string();
  }

  std::string fetch_error(const DatasetArchive& archive) {
    try {
      fetch_dataset(archive, root_);
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos) << e.what();
      return e.what();
    }
    ADD_FAILURE() << "no DataError";
    return "";
  }

  testing::ScratchDir dir_;
  std::string archive_path_;
  DatasetArchive archive_;
  std::string root_;
};

TEST_F(FetchTest, DownloadsChecksAndUnpacksThenFindsItPresent) {
  std::vector<std::string> notes;
  EXPECT_EQ(fetch_dataset(archive_, root_, [&](const std::string& n) { notes.push_back(n); }), FetchResult::kFetched);
  EXPECT_EQ(listing(root_), (std::vector<std::string>{"tiny-bin", "tiny-bin/a.bin", "tiny-bin/b.bin", "tiny-bin/readme.txt"}));
  EXPECT_TRUE(archive_data_present(archive_, root_));
  EXPECT_FALSE(notes.empty());
  EXPECT_EQ(fetch_dataset(archive_, root_), FetchResult::kAlreadyPresent);
  // A file of the wrong size is not "present": fetching again repairs it.
  std::ofstream(fs::path(root_) / "tiny-bin" / "b.bin", std::ios::binary) << "short";
  EXPECT_FALSE(archive_data_present(archive_, root_));
  EXPECT_EQ(fetch_dataset(archive_, root_), FetchResult::kFetched);
  EXPECT_EQ(fs::file_size(fs::path(root_) / "tiny-bin" / "b.bin"), 3000u);
}

TEST_F(FetchTest, AWrongMd5LeavesNothingBehind) {
  auto wrong = archive_;
  wrong.md5 = "00000000000000000000000000000000";
  const auto message = fetch_error(wrong);
  EXPECT_THAT(message, StartsWith(wrong.url + ": MD5 " + archive_.md5 + " differs from the expected " + wrong.md5));
  EXPECT_FALSE(fs::exists(root_));  // not even the root it created
  fs::create_directories(root_);
  fetch_error(wrong);
  EXPECT_TRUE(listing(root_).empty());
}

TEST_F(FetchTest, AFailedDownloadNamesTheUrlAndLeavesNothing) {
  auto absent = archive_;
  absent.url = "file://" + dir_.file("absent.tar.gz");
  EXPECT_THAT(fetch_error(absent), StartsWith(absent.url + ": download failed ("));
  EXPECT_FALSE(fs::exists(root_));
}

TEST_F(FetchTest, AnArchiveThatLacksAFileOrIsCorruptLeavesNothing) {
  auto more = archive_;
  more.files.push_back({"c.bin", 10});
  EXPECT_EQ(fetch_error(more), (fs::path(root_) / "tiny.tar.gz").string() + ": archive lacks tiny-bin/c.bin");
  EXPECT_FALSE(fs::exists(root_));

  std::ofstream(dir_.file("broken.tar.gz"), std::ios::binary) << "\x1f\x8b\x08 not really gzip";
  auto broken = archive_;
  broken.url = "file://" + dir_.file("broken.tar.gz");
  broken.md5 = md5_file(dir_.file("broken.tar.gz"));
  EXPECT_THAT(fetch_error(broken), StartsWith((fs::path(root_) / "tiny.tar.gz").string() + ": "));
  EXPECT_FALSE(fs::exists(root_));
}

TEST(DatasetArchiveTest, OfficialArchives) {
  const auto& cifar10 = dataset_archive("cifar10");
  EXPECT_EQ(cifar10.url, "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz");
  EXPECT_EQ(cifar10.md5, "c32a1d4ab5d03f1284b67883e8d87530");
  EXPECT_EQ(cifar10.folder, "cifar-10-batches-bin");
  ASSERT_EQ(cifar10.files.size(), 6u);
  EXPECT_EQ(cifar10.files[0].size, 30730000u);
  const auto& cifar100 = dataset_archive("cifar100");
  EXPECT_EQ(cifar100.md5, "03b5dce01913d631647c71ecec9e9cb8");
  EXPECT_EQ(cifar100.folder, "cifar-100-binary");
  EXPECT_EQ(cifar100.files[0].size, 153700000u);
  EXPECT_THROW(dataset_archive("svhn"), std::invalid_argument);
}

}  // namespace
}  // namespace isda::data
