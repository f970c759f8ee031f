#include "data/holdout.h"

#include <torch/torch.h>

#include <algorithm>
#include <stdexcept>
#include <string>

namespace isda::data {

uint64_t splitmix64_next(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

std::vector<int64_t> seeded_permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> order(static_cast<size_t>(std::max<int64_t>(n, 0)));
  for (int64_t i = 0; i < n; ++i) order[static_cast<size_t>(i)] = i;
  uint64_t state = seed;
  for (int64_t i = n - 1; i > 0; --i) {
    // Uniform j in [0, i] without modulo bias: reject draws from the incomplete last block.
    const auto bound = static_cast<uint64_t>(i) + 1;
    const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
    uint64_t draw = splitmix64_next(state);
    while (draw >= limit) draw = splitmix64_next(state);
    std::swap(order[static_cast<size_t>(i)], order[static_cast<size_t>(draw % bound)]);
  }
  return order;
}

std::pair<std::vector<int64_t>, std::vector<int64_t>> holdout_indices(int64_t n, int64_t validation_size,
                                                                      uint64_t seed) {
  if (validation_size <= 0 || validation_size >= n) {
    throw std::invalid_argument("hold-out of " + std::to_string(validation_size) + " records needs a training set of more, got " +
                                std::to_string(n));
  }
  const std::vector<int64_t> order = seeded_permutation(n, seed);
  std::vector<int64_t> validation(order.begin(), order.begin() + validation_size);
  std::vector<int64_t> train(order.begin() + validation_size, order.end());
  std::sort(validation.begin(), validation.end());
  std::sort(train.begin(), train.end());
  return {train, validation};
}

Dataset subset(const Dataset& dataset, const std::vector<int64_t>& indices) {
  const torch::Tensor index = torch::tensor(indices, torch::kInt64);
  return Dataset{dataset.images.index_select(0, index).contiguous(), dataset.labels.index_select(0, index),
                 dataset.num_classes};
}

}  // namespace isda::data
