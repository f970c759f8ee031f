#include "common/durable_file.h"
#include "common/system.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>

namespace isda::common {
namespace {

using ::testing::HasSubstr;

class DurableFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("isda-durable-" + std::to_string(::getpid()) + "-" +
                                                     ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::create_directories(dir_);
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string file(const std::string& name) const { return (dir_ / name).string(); }
  std::filesystem::path dir_;
};

TEST_F(DurableFile, AtomicWriteReplacesTheFileAndLeavesNoTemporary) {
  write_file_atomically(file("a.json"), "one");
  write_file_atomically(file("a.json"), "two");
  EXPECT_EQ(read_file(file("a.json")), "two");
  int entries = 0;
  for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator(dir_)) ++entries;
  EXPECT_EQ(entries, 1);
}

TEST_F(DurableFile, AFailedWriteNamesThePathAndItsErrno) {
  try {
    write_file_atomically(file("missing/a.json"), "x");
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_THAT(e.what(), HasSubstr(file("missing/a.json")));
    EXPECT_EQ(e.error_number, ENOENT);
  }
}

TEST_F(DurableFile, ReadingADirectoryIsAnErrorNamingIt) {
  try {
    read_file(dir_.string());
    FAIL() << "expected a FileError";
  } catch (const FileError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir_.string() + ": is a directory"));
  }
  EXPECT_THROW(read_file(file("absent")), FileError);
}

TEST_F(DurableFile, AppendsLinesAndDropsOnlyATornLastOne) {
  append_line_durably(file("log"), "{\"a\":1}");
  append_line_durably(file("log"), "{\"b\":2}");
  EXPECT_FALSE(drop_torn_last_line(file("log")));
  std::ofstream(file("log"), std::ios::app) << "{\"c\":";  // a crash mid-append
  EXPECT_TRUE(drop_torn_last_line(file("log")));
  EXPECT_EQ(read_file(file("log")), "{\"a\":1}\n{\"b\":2}\n");
  std::ofstream(file("only")) << "{\"torn";
  EXPECT_TRUE(drop_torn_last_line(file("only")));
  EXPECT_EQ(read_file(file("only")), "");
  EXPECT_FALSE(drop_torn_last_line(file("absent")));
}

TEST(EnvironmentFault, FullDisksAndIoErrorsAreTheMachinesFault) {
  EXPECT_TRUE(is_environment_fault(ENOSPC));
  EXPECT_TRUE(is_environment_fault(EDQUOT));
  EXPECT_TRUE(is_environment_fault(EIO));
  EXPECT_TRUE(is_environment_fault(EROFS));
  EXPECT_FALSE(is_environment_fault(ENOENT));
  EXPECT_FALSE(is_environment_fault(EACCES));
}

TEST(System, Fnv1aIsThePublishedHash) {
  EXPECT_EQ(fnv1a_hex(""), "cbf29ce484222325");  // the 64-bit offset basis
  EXPECT_EQ(fnv1a_hex("a"), "af63dc4c8601ec8c");
  EXPECT_EQ(now_seconds() > 1.7e9, true);
}

}  // namespace
}  // namespace isda::common
