#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench models [--device cpu|cuda] [--models a,b] [--batch N] [--steps S] [--classes C]`:
// for each network, the median time of one training step (forward, loss, backward, SGD step) with
// plain cross-entropy and with ISDA (full covariance for CIFAR networks, diagonal for ImageNet ones as
// in the paper), the two interleaved in one process, and their ratio. On CUDA the features run in
// channels_last under bf16 autocast. Results on `out`; returns an exit code, throws UsageError for
// an unknown model (isda_bench.h says how each error ends).
Command models_bench_command_line();
int run_models_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
