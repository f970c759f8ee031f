#pragma once
// isda-bench's command line: one subcommand per benchmark, each with its own option table (the
// Command its file declares), parsed and dispatched here. The binary's main only forwards here.

#include "common/options.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::bench {

// The codes every benchmark returns; calibrate adds kExitStore.
inline const std::vector<ExitCodeUse> kBenchExitCodes = {
    {kExitOk, "done"}, {kExitFailed, "the benchmark failed"}, {kExitUsage, "bad usage"}};

// The Command of benchmark `name` ("head"): "isda-bench head", run by `run`, with `description`
// (one paragraph), `options` and kBenchExitCodes.
Command benchmark_command(const std::string& name, decltype(Command::run) run, std::string description,
                          std::vector<Option> options);

// --device of a benchmark: auto (CUDA when there is one), cpu or cuda.
Option device_option(const std::string& default_device = "auto");

// --data-root of a benchmark that reads a data set, by default where isda-train reads it.
Option data_root_option();

// Runs `isda-bench SUBCOMMAND [options]` (args without the program name). Results go to `out`,
// errors as one line "isda-bench SUBCOMMAND: error: ..." to `err`. Returns 0, 1 the benchmark
// failed, 2 bad usage, 6 results store error (calibrate). Without arguments: the help, exit 0.
int run_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// isda-bench's subcommands with their option tables, from which their parsing and --help come.
const Command& bench_command_line();

}  // namespace isda::bench
