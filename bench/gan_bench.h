#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench gan`: what Table 3's generator rows add to its cost. One epoch of each generator
// (through gan::train_generator, as a generator run trains) beside one cross-entropy epoch of the
// classifier, both over the same images, and each as a share of a whole run: a generator run is
// gan_epochs (25) epochs once per data set; the classifier's with generated images also samples
// 32 images per batch of 128. Returns an exit code; throws std::runtime_error naming the run that
// failed.
Command gan_bench_command_line();
int run_gan_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
