#include "results/run_ledger.h"
#include "results/store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sys/wait.h>
#include <unistd.h>

namespace isda::results {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

TEST(WriterLock, ASecondWriterIsRefusedNamingTheHoldersPid) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  auto first = ResultsStore::open(path);
  try {
    ResultsStore::open(path);
    FAIL() << "a second writer opened the store";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr(path));
    EXPECT_THAT(message, HasSubstr("another writer holds it"));
    EXPECT_THAT(message, HasSubstr("pid " + std::to_string(::getpid())));
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
}

TEST(WriterLock, AnotherProcessIsRefusedToo) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  auto first = ResultsStore::open(path);
  const pid_t child = ::fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    int code = 1;
    try {
      ResultsStore::open(path);
    } catch (const StoreError& e) {
      code = std::string(e.what()).find("pid " + std::to_string(::getppid())) != std::string::npos ? 0 : 2;
    }
    ::_exit(code);
  }
  int status = 0;
  ASSERT_EQ(::waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "1: the child opened the store; 2: the message lacks the holder's pid";
}

TEST(WriterLock, TheLockIsReleasedWhenTheWriterCloses) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  { auto first = ResultsStore::open(path); }
  EXPECT_NO_THROW(ResultsStore::open(path));
}

TEST(WriterLock, ReadersAreWelcomeBesideTheWriterAndCannotWrite) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  auto writer = ResultsStore::open(path);
  const auto sweep = register_sweep(writer, "s", "s.json", "{}");
  register_runs(writer, sweep, {{"r1", "{}", ""}});
  auto reader = ResultsStore::open(path, ResultsStore::Mode::reader);
  EXPECT_EQ(runs_of_sweep(reader, sweep).size(), 1u);
  register_runs(writer, sweep, {{"r2", "{}", ""}});
  EXPECT_EQ(runs_of_sweep(reader, sweep).size(), 2u);
  EXPECT_THROW(register_sweep(reader, "t", "t.json", "{}"), StoreError);
}

}  // namespace
}  // namespace isda::results
