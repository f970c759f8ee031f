// isda-data's argument handling, in process (tests/e2e drives the binary itself).
#include "command/data_command.h"
#include "common/exit_codes.h"
#include "support/command_outcome.h"
#include "support/idx_files.h"  // ScratchDir

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <sstream>
#include <string>
#include <vector>

namespace isda::command {
namespace {

using ::testing::HasSubstr;
using ::testing::StartsWith;

using Outcome = testing::CommandOutcome;

Outcome run(const std::vector<std::string>& args) { return testing::run_command(run_data_command, args); }

TEST(DataCommandTest, BadUsageIsOneLineAndExitCode2) {
  struct Case {
    std::vector<std::string> args;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{}, "expected a subcommand: fetch or preview"},
      {{"download"}, "unknown subcommand \"download\" (known: fetch, preview)"},
      {{"fetch"}, "fetch: expected one data set (cifar10, cifar100)"},
      {{"fetch", "svhn"}, "fetch: unknown data set \"svhn\" (known: cifar10, cifar100)"},
      {{"fetch", "cifar10", "cifar100"}, "fetch: expected one data set"},
      {{"fetch", "cifar10", "--url", "file:///x"}, "--url needs --md5"},
      {{"fetch", "cifar10", "--md5", "abc"}, "--md5: expected 32 hex digits, got \"abc\""},
      {{"fetch", "cifar10", "--mirror", "x"}, "unknown option --mirror (see --help)"},
      {{"fetch", "cifar10", "--root"}, "--root: missing value"},
      {{"preview", "--dataset", "cifar10"}, "preview: --out FILE.png is required"},
      {{"preview", "--out", "x.png", "--count", "0"}, "--count: expected an integer in [1, 1024], got \"0\""},
      {{"preview", "--out", "x.png", "--copies", "two"}, "--copies: expected an integer in [0, 64], got \"two\""},
      {{"preview", "--out", "x.png", "--augment", "mixup"}, "--augment: expected none, standard, cutout or autoaugment"},
      {{"preview", "--out", "x.png", "--dataset", "imagenet"}, "--dataset: expected fashion-mnist, cifar10 or cifar100"},
      {{"preview", "--out=x.png", "extra"}, "preview: unexpected argument \"extra\""},
  };
  for (const auto& c : cases) {
    const auto r = run(c.args);
    EXPECT_EQ(r.code, kExitUsage) << r.err;
    EXPECT_THAT(r.err, StartsWith("isda-data: error: "));
    EXPECT_THAT(r.err, HasSubstr(c.message));
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(DataCommandTest, MissingDataIsExitCode3NamingTheFolder) {
  testing::ScratchDir dir;
  const auto r = run({"preview", "--out", dir.file("x.png"), "--root", dir.file("nothing")});
  EXPECT_EQ(r.code, kExitData);
  EXPECT_THAT(r.err, StartsWith("isda-data: error: " + dir.file("nothing")));
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
}

TEST(DataCommandTest, HelpListsBothSubcommandsAndTheExitCodes) {
  const auto r = run({"fetch", "--help"});
  EXPECT_EQ(r.code, kExitOk);
  for (const std::string text : {"isda-data fetch", "isda-data preview", "--md5 HEX", "--copies K", "exit codes: 0 done, 1"}) {
    EXPECT_THAT(r.out, HasSubstr(text));
  }
}

}  // namespace
}  // namespace isda::command
