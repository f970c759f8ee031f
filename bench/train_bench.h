#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench train`: whole training epochs (data, augmentation, loss, SGD) of each model with
// plain cross-entropy and with full-covariance ISDA, side by side in one process, through the same
// train() that isda-train runs. Returns an exit code.
Command train_bench_command_line();
int run_train_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
