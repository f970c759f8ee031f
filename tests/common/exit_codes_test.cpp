// The exit-code paragraph every tool's --help prints, from the one table of codes.
#include "common/exit_codes.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace isda {
namespace {

TEST(ExitCodes, HelpNamesEachCodeByItsNumberAndWrapsAtOneHundredColumns) {
  EXPECT_EQ(exit_codes_help({{kExitOk, "done"}, {kExitScheduler, "a Slurm command failed"}}),
            "exit codes: 0 done, 7 a Slurm command failed\n");
  const auto long_text = exit_codes_help({{kExitOk, "all done (Slurm without --wait: submitted)"},
                                          {kExitFailed, "runs not all done"},
                                          {kExitUsage, "bad usage or spec"},
                                          {kExitStore, "results store error"},
                                          {kExitScheduler, "a Slurm command failed"}});
  EXPECT_EQ(long_text,
            "exit codes: 0 all done (Slurm without --wait: submitted), 1 runs not all done, 2 bad usage or spec,\n"
            "            6 results store error, 7 a Slurm command failed\n");
}

}  // namespace
}  // namespace isda
