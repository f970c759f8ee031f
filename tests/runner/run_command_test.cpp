// isda-run's command line: the option table, its --help, and one-line usage errors (exit 2).
#include "runner/run_command.h"
#include "support/idx_files.h"  // ScratchDir

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace isda::runner {
namespace {

using ::testing::ContainsRegex;
using ::testing::HasSubstr;

struct Result {
  int code;
  std::string out, err;
};

Result run(const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = run_command(args, out, err);
  return {code, out.str(), err.str()};
}

TEST(RunCommand, HelpListsEveryOptionWithItsValue) {
  const auto help = run({"--help"});
  EXPECT_EQ(help.code, 0);
  EXPECT_EQ(help.err, "");
  for (const char* option :
       {"--profile NAME", "--dry-run", "--backend NAME", "--gpus LIST", "--per-gpu K", "--cpu-slots N", "--threads N",
        "--db PATH", "--runs-dir DIR", "--worker PATH", "--plain", "--help", "--partition P", "--gres G", "--time T",
        "--array-limit K", "--signal-lead S", "--sbatch-arg A", "--wait", "--poll S"}) {
    EXPECT_THAT(help.out, ContainsRegex("\n  " + std::string(option) + " +[a-zA-Z]")) << option;
  }
  EXPECT_THAT(help.out, HasSubstr("exit codes: 0 all done"));
  EXPECT_THAT(help.out, HasSubstr("7 a Slurm command failed"));  // the code it returns, not 4
  EXPECT_EQ(run({"-h"}).out, help.out);
  EXPECT_EQ(run({"--db", "x.db", "--help", "--no-such-option"}).out, help.out) << "nothing after --help is read";
}

TEST(RunCommand, UsageErrorsAreOneLineAndExitCode2) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"spec.json", "--bogus"}, "unknown option --bogus (see --help)"},
      {{"spec.json", "-x"}, "unknown option -x (see --help)"},
      {{"spec.json", "--bogus=1"}, "unknown option --bogus (see --help)"},
      {{"spec.json", "--db"}, "--db: missing value PATH"},
      {{"spec.json", "--dry-run=yes"}, "--dry-run takes no value"},
      {{"spec.json", "--per-gpu", "0"}, "--per-gpu: expected an integer >= 1, got \"0\""},
      {{"spec.json", "--signal-lead=-1"}, "--signal-lead: expected an integer >= 0, got \"-1\""},
      {{"spec.json", "--gpus", "0,x"}, "--gpus: expected an integer >= 0, got \"x\""},
      {{"spec.json", "--backend", "pbs"}, "--backend: expected local or slurm, got \"pbs\""},
      {{"a.json", "b.json"}, "unexpected argument \"b.json\" (one spec at a time)"},
      {{}, "no spec given (see --help)"},
      {{"cancel"}, "cancel: no spec given"},
  };
  for (const auto& [args, message] : cases) {
    const auto r = run(args);
    EXPECT_EQ(r.code, 2) << message;
    EXPECT_EQ(r.err, "isda-run: error: " + message + "\n");
    EXPECT_EQ(r.out, "");
  }
}

TEST(RunCommand, ValuesComeAsTheNextArgumentOrAfterEquals) {
  testing::ScratchDir dir;
  const auto spec = dir.file("sweep.json");
  std::ofstream(spec) << nlohmann::json{{"name", "cli"},
                                        {"base", {{"model", "resnet8"}, {"epochs", 1}}},
                                        {"grid", {{"method", {"ce", "isda"}}}},
                                        {"profiles", {{"smoke", {{"epochs", 1}, {"train_limit", 10}}}}}}
                              .dump();
  const auto spaced = run({spec, "--db", dir.file("a.db"), "--dry-run", "--gpus", "none", "--profile", "smoke"});
  ASSERT_EQ(spaced.code, 0) << spaced.err;
  EXPECT_THAT(spaced.out, HasSubstr("cli:smoke"));
  EXPECT_THAT(spaced.out, ContainsRegex("[0-9a-f]{16}  new .*\"method\":\"isda\""));
  const auto equals = run({spec, "--db=" + dir.file("a.db"), "--dry-run", "--gpus=none", "--profile=smoke"});
  ASSERT_EQ(equals.code, 0) << equals.err;
  EXPECT_EQ(equals.out, spaced.out);
  EXPECT_FALSE(std::filesystem::exists(dir.file("a.db"))) << "a dry run creates no store";
  const auto bad_profile = run({spec, "--db", dir.file("a.db"), "--dry-run", "--profile", "paper2"});
  EXPECT_EQ(bad_profile.code, 2);
  EXPECT_THAT(bad_profile.err, HasSubstr("no profile \"paper2\""));
  const auto directory = run({dir.path().string(), "--db", dir.file("a.db"), "--dry-run"});
  EXPECT_EQ(directory.code, 2);
  EXPECT_EQ(directory.err, "isda-run: error: " + dir.path().string() + ": is a directory, not a JSON file\n");
}

}  // namespace
}  // namespace isda::runner
