#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench sharded-estimator`: ISDA's full-covariance estimator sharded by class across Gloo
// ranks (threads of this process, distributed/sharded_estimator.h) against every rank holding it
// whole: the memory each rank's state takes, allocated, at --classes x --memory-dim (ImageNet's
// 1000 x 2048 by default) for each of --ranks; and the head's step (merge of the global batch,
// quadratic terms, cross-entropy, backward, the weight gradients' all-reduce) at --step-dim, side
// by side. Returns an exit code; throws UsageError where the build has no Gloo.
Command sharded_estimator_bench_command_line();
int run_sharded_estimator_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
