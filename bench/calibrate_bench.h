#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench calibrate`: images per second of training steps and of evaluation, per (model,
// method, precision) at a data set's resolution, on this machine's device, in a few steps each on
// random images; each result is recorded in the results store (table calibrations) with the
// device's name, for isda-run --dry-run's estimates. Returns an exit code (0, 2 bad usage, 6 store).
Command calibrate_bench_command_line();
int run_calibrate_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
