#pragma once

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench augment [--device cpu|cuda] [--batch N] [--steps S]`: augmented images per second of
// BatchAugmenter::train_batch for each regime (none, standard, cutout, autoaugment) on random
// CIFAR-sized uint8 batches already on the device. Returns an exit code.
Command augment_bench_command_line();
int run_augment_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
