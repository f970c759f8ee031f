#pragma once
// The paper's model-selection protocol: a fixed, seeded hold-out of the training set. The split
// depends only on the seed and the set size (its own PRNG, not LibTorch's), so it is the same on
// every machine and LibTorch version.

#include "data/fashion_mnist.h"  // Dataset

#include <cstdint>
#include <utility>
#include <vector>

namespace isda::data {

// SplitMix64 (Steele, Lea, Flood 2014): the next 64-bit output; advances `state`.
uint64_t splitmix64_next(uint64_t& state);

// A uniform permutation of 0..n-1 by Fisher-Yates driven by splitmix64 seeded with `seed`
// (unbiased bounded draws by rejection).
std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed);

// Indices (train, validation) of a hold-out of `validation_size` of `n` records: the first
// `validation_size` entries of seeded_permutation(n, seed) are the validation set, the rest the
// training set; each list in increasing order. Not stratified. Throws std::invalid_argument unless
// 0 < validation_size < n.
std::pair<std::vector<int64_t>, std::vector<int64_t>> holdout_indices(int64_t n, int64_t validation_size,
                                                                      uint64_t seed);

// The records of `dataset` at `indices`, in that order (images and labels copied).
Dataset subset(const Dataset& dataset, const std::vector<int64_t>& indices);

}  // namespace isda::data
