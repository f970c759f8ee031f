#include "isda_bench.h"

#include "augment_bench.h"
#include "calibrate_bench.h"
#include "data_parallel_bench.h"
#include "sharded_estimator_bench.h"
#include "gan_bench.h"
#include "gpu_bench.h"
#include "head_bench.h"
#include "models_bench.h"
#include "results/store.h"
#include "sweep_bench.h"
#include "train_bench.h"

#include <ostream>

namespace isda::bench {
namespace {

// Every benchmark's Command, in the order of isda-bench --help.
Command (*const kBenchmarks[])() = {
    head_bench_command_line,
    head_memory_probe_command_line,
    models_bench_command_line,
    augment_bench_command_line,
    train_bench_command_line,
    isda_cost_bench_command_line,
    augment_step_bench_command_line,
    sweep_bench_command_line,
    data_parallel_bench_command_line,
    calibrate_bench_command_line,
    gan_bench_command_line,
    sharded_estimator_bench_command_line,
};

}  // namespace

Command benchmark_command(const std::string& name, decltype(Command::run) run, std::string description,
                          std::vector<Option> options) {
  Command c;
  c.name = "isda-bench " + name;
  c.run = std::move(run);
  c.description = std::move(description);
  c.options = std::move(options);
  c.exit_codes = kBenchExitCodes;
  return c;
}

Option device_option(const std::string& default_device) {
  return value_option("--device", "NAME", "auto (CUDA when there is one), cpu or cuda").default_to(default_device);
}

Option data_root_option() {
  return value_option("--data-root", "DIR", "folder holding the data set files")
      .default_described("the data set's default location, $ISDA_DATA_ROOT/<dataset> or data/<dataset>");
}

const Command& bench_command_line() {
  static const Command command = [] {
    Command c;
    c.name = "isda-bench";
    c.description =
        "Side-by-side benchmarks: each measures the suite beside a reference in one process and prints ratios\n"
        "(bench/README.md). Every subcommand's own help: isda-bench SUBCOMMAND --help.\n";
    for (const auto command_line : kBenchmarks) c.subcommands.push_back(command_line());
    c.exit_codes = kBenchExitCodes;
    c.exit_codes.push_back({kExitStore, "results store error (calibrate)"});
    return c;
  }();
  return command;
}

int run_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  std::string who = "isda-bench";
  const auto fail = [&](int code, const std::string& message) {
    err << who << ": error: " << message.substr(0, message.find('\n')) << '\n';
    return code;
  };
  if (args.empty()) {
    out << help_text(bench_command_line());
    return kExitOk;
  }
  const auto named = "isda-bench " + args[0];
  for (const auto& sub : bench_command_line().subcommands) {
    if (sub.name == named) who = named;  // a subcommand's errors name it, those of its options too
  }
  try {
    const auto parsed = parse_subcommand(bench_command_line(), args);
    if (parsed.arguments.help()) {
      out << help_text(parsed.command);
      return kExitOk;
    }
    return parsed.command.run(parsed.arguments, out, err);
  } catch (const UsageError& e) {
    return fail(kExitUsage, e.what());
  } catch (const std::invalid_argument& e) {  // what the libraries throw for an unknown name or option
    return fail(kExitUsage, e.what());
  } catch (const results::StoreError& e) {
    return fail(kExitStore, e.what());
  } catch (const std::exception& e) {
    return fail(kExitFailed, e.what());
  }
}

}  // namespace isda::bench
