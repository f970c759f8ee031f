// The run directory's claim: taken by a coordinator before its worker exists, inherited and
// adopted by the worker, never open at any instant in between.
#include "train/run_directory.h"

#include "common/run_events.h"
#include "support/idx_files.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace isda::train {
namespace {

using ::testing::HasSubstr;

TEST(RunDirectoryClaim, HoldsTheDirectoryWithoutAPidUntilAWorkerAdoptsIt) {
  testing::ScratchDir dir;
  const auto path = dir.file("run");
  auto claim = std::make_unique<RunDirectoryClaim>(path);
  EXPECT_EQ(RunDirectory::lock_holder(path), -1);  // held, no worker yet
  try {
    RunDirectory second(path);
    FAIL() << "a claimed directory was opened";
  } catch (const RunDirectoryBusy& e) {
    EXPECT_THAT(e.what(), HasSubstr("a worker being started"));
  }
  // What a child does with the inherited descriptor (here a duplicate in this process).
  const int inherited = ::dup(claim->descriptor());
  ::setenv(run_files::kInheritedLockVariable, std::to_string(inherited).c_str(), 1);
  {
    RunDirectory adopted(path);
    EXPECT_EQ(std::getenv(run_files::kInheritedLockVariable), nullptr) << "nothing it starts inherits the claim";
    claim.reset();  // the coordinator closes its copy: the directory stays claimed
    EXPECT_EQ(RunDirectory::lock_holder(path), ::getpid());
    EXPECT_THROW(RunDirectoryClaim{path}, RunDirectoryBusy);
  }
  EXPECT_EQ(RunDirectory::lock_holder(path), 0);
}

TEST(RunDirectoryClaim, AnotherDirectorysClaimIsNotAdopted) {
  testing::ScratchDir dir;
  RunDirectoryClaim other(dir.file("other"));
  const int inherited = ::dup(other.descriptor());
  ::setenv(run_files::kInheritedLockVariable, std::to_string(inherited).c_str(), 1);
  RunDirectory run(dir.file("run"));  // locks its own
  EXPECT_EQ(RunDirectory::lock_holder(dir.file("run")), ::getpid());
  EXPECT_EQ(RunDirectory::lock_holder(dir.file("other")), -1) << "the other claim is untouched";
  EXPECT_EQ(std::getenv(run_files::kInheritedLockVariable), nullptr);
}

TEST(RunDirectory, OpeningDropsATornLastRecord) {
  testing::ScratchDir dir;
  const auto path = dir.file("run");
  std::filesystem::create_directories(path);
  std::ofstream(path + "/events.jsonl") << "{\"event\":\"start\"}\n{\"event\":\"epo";
  RunDirectory run(path);
  run.append_event({{"event", "done"}});
  const auto records = run.read_events();
  ASSERT_EQ(records.size(), 2u);
  EXPECT_EQ(records[1].at("event"), "done");
  EXPECT_EQ(RunDirectory::event_log_size(path), static_cast<int64_t>(std::filesystem::file_size(path + "/events.jsonl")));
}

TEST(RunDirectory, AGarbageLineIsAnErrorNamingTheFileAndLine) {
  testing::ScratchDir dir;
  const auto path = dir.file("run");
  std::filesystem::create_directories(path);
  std::ofstream(path + "/events.jsonl") << "{\"event\":\"start\"}\nnot json\n";
  RunDirectory run(path);
  try {
    run.read_events();
    FAIL() << "a garbage line was read";
  } catch (const events::EventLogError& e) {
    EXPECT_THAT(e.what(), HasSubstr(path + "/events.jsonl: line 2 is not JSON"));
  }
}

}  // namespace
}  // namespace isda::train
