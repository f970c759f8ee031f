#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench data-parallel`: the training step of one model with the global batch split over 1,
// 2, ... Gloo ranks (threads of this process, each with its share of the cores), side by side:
// milliseconds a step, images/s, and the share of the step spent waiting for the gradient
// all-reduce that backward did not hide, and for the ISDA features' all-gather. Returns an exit code;
// throws UsageError where the build has no Gloo, std::runtime_error naming the ranks that failed.
Command data_parallel_bench_command_line();
int run_data_parallel_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
