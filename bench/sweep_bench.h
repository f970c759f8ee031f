#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::bench {

// `isda-bench sweep [--runs N] [--seeds S]`: expanding a grid of N runs (N / S combinations x S
// seeds) and registering it in a fresh results store, as `isda-run` does before it starts work;
// then planning the same sweep again (everything known). Returns an exit code.
int run_sweep_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
