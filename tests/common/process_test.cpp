// The one place child processes are started: outputs, exec failures, exit codes and signals, the
// inherited claim, and captured runs that never block past their deadline.
#include "common/process.h"

#include "common/durable_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <string>

namespace isda::common {
namespace {

using ::testing::HasSubstr;

class ProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/isda-process-XXXXXX";
    dir_ = ::mkdtemp(pattern);
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(ProcessTest, OutputsGoToTheirFilesAppendedAndTheExitCodeComesBack) {
  ChildSpec spec;
  spec.program = "/bin/sh";
  spec.args = {"-c", "echo out; echo err >&2; exit 3"};
  spec.stdout_file = spec.stderr_file = dir_ + "/log";
  EXPECT_EQ(wait_exit(spawn(spec)), 3);
  EXPECT_EQ(wait_exit(spawn(spec)), 3);
  EXPECT_EQ(read_file(dir_ + "/log"), "out\nerr\nout\nerr\n") << "one descriptor for both, appended";
  spec.args = {"-c", "echo $ISDA_PROCESS_TEST"};
  spec.environment = std::vector<std::string>{"ISDA_PROCESS_TEST=given"};
  spec.stdout_file = dir_ + "/env";
  spec.stderr_file.clear();
  EXPECT_EQ(wait_exit(spawn(spec)), 0);
  EXPECT_EQ(read_file(dir_ + "/env"), "given\n");
}

TEST_F(ProcessTest, AProgramThatCannotStartIsAnErrorNamingIt) {
  ChildSpec spec;
  spec.program = dir_ + "/no-such-program";
  try {
    spawn(spec);
    FAIL() << "started";
  } catch (const std::runtime_error& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir_ + "/no-such-program: cannot start (No such file or directory)"));
  }
  spec.program = "/bin/true";
  spec.stdout_file = dir_ + "/no/such/folder/log";
  EXPECT_THROW(spawn(spec), std::runtime_error);
}

TEST_F(ProcessTest, ADeathBySignalIs128PlusTheSignal) {
  ChildSpec spec;
  spec.program = "/bin/sh";
  spec.args = {"-c", "kill -KILL $$"};
  EXPECT_EQ(wait_exit(spawn(spec)), 128 + 9);
  spec.args = {"-c", "sleep 5"};
  const pid_t pid = spawn(spec);
  EXPECT_FALSE(poll_exit(pid).has_value());
  ::kill(pid, SIGTERM);
  EXPECT_EQ(wait_exit(pid), 128 + 15);
}

TEST_F(ProcessTest, TheInheritedClaimIsKeptAcrossExecWithTheChildsPid) {
  const int fd = ::open((dir_ + "/lock").c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  ASSERT_GE(fd, 0);
  ChildSpec spec;
  spec.program = "/bin/sh";
  spec.args = {"-c", "cat /proc/self/fdinfo/" + std::to_string(fd) + " >/dev/null && echo kept"};
  spec.stdout_file = dir_ + "/out";
  spec.inherit_fd = fd;
  spec.write_pid_to_inherited_fd = true;
  const pid_t pid = spawn(spec);
  EXPECT_EQ(wait_exit(pid), 0);
  EXPECT_EQ(read_file(dir_ + "/out"), "kept\n");
  EXPECT_EQ(read_file(dir_ + "/lock"), std::to_string(pid) + "\n");
  ::close(fd);
}

TEST_F(ProcessTest, ACapturedRunGivesItsOutputsOrIsKilledAtItsDeadline) {
  CaptureOptions options;
  auto captured = run_captured("sh", {"-c", "echo out; echo err >&2; exit 4"}, options);
  EXPECT_EQ(captured.exit_code, 4);
  EXPECT_EQ(captured.out, "out\n");
  EXPECT_EQ(captured.err, "err\n");
  options.merge_stderr = true;
  captured = run_captured("sh", {"-c", "echo out; echo err >&2"}, options);
  EXPECT_EQ(captured.out, "out\nerr\n");
  // A child that holds its output open past the deadline (here through a grandchild) is killed
  // with its process group; the call returns at the deadline.
  options.timeout = std::chrono::milliseconds(300);
  const auto started = std::chrono::steady_clock::now();
  captured = run_captured("sh", {"-c", "sleep 30 & sleep 30"}, options);
  EXPECT_TRUE(captured.timed_out);
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
  EXPECT_THROW(run_captured("isda-no-such-program", {}, options), std::runtime_error);
  EXPECT_EQ(find_in_path("isda-no-such-program"), "");
  EXPECT_EQ(find_in_path("/x/y"), "/x/y");
}

}  // namespace
}  // namespace isda::common
