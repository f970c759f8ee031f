#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench head`: time of one ISDA head step (estimator update + loss + backward) with the full
// covariance beside plain cross-entropy and beside the authors' formulation, interleaved in one
// process; peak memory of each measured in a fresh child process. Returns an exit code.
Command head_bench_command_line();
int run_head_bench(const Arguments& args, std::ostream& out, std::ostream& err);

// The child of run_head_bench that measures one method's peak memory (hidden from --help).
Command head_memory_probe_command_line();
int run_head_memory_probe(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
