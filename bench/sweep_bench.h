#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench sweep [--runs N] [--seeds S]`: expanding a grid of N runs (N / S combinations x S
// seeds) and registering it in a fresh results store, as `isda-run` does before it starts work;
// then planning the same sweep again (everything known). Returns an exit code.
Command sweep_bench_command_line();
int run_sweep_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
