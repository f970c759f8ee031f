#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::bench {

// `isda-bench head`: time of one ISDA head step (estimator update + loss + backward) with the full
// covariance beside plain cross-entropy and beside the authors' formulation, interleaved in one
// process; peak memory of each measured in a fresh child process. Returns an exit code.
int run_head_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// The child of run_head_bench that measures one method's peak memory.
int run_head_memory_probe(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
