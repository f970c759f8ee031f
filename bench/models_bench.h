#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::bench {

// `isda-bench models [--device cpu|cuda] [--models a,b] [--batch N] [--steps S] [--classes C]`:
// for each network, the median time of one training step (forward, loss, backward, SGD step) with
// plain cross-entropy and with ISDA (full covariance for CIFAR networks, diagonal for ImageNet ones as
// in the paper), the two interleaved in one process, and their ratio. On CUDA the features run in
// channels_last under bf16 autocast. Results on `out`, errors on `err`; returns an exit code
// (0 done, 2 bad usage or unknown model).
int run_models_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
