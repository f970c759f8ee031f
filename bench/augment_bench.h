#pragma once

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::bench {

// `isda-bench augment [--device cpu|cuda] [--batch N] [--steps S]`: augmented images per second of
// BatchAugmenter::train_batch for each regime (none, standard, cutout, autoaugment) on random
// CIFAR-sized uint8 batches already on the device. Returns an exit code.
int run_augment_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
