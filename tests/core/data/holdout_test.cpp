#include "data/holdout.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <numeric>
#include <stdexcept>
#include <vector>

namespace isda::data {
namespace {

TEST(HoldoutTest, SplitMix64MatchesTheReferenceSequence) {
  // Reference outputs of SplitMix64 from seed 0 (Vigna's splitmix64.c).
  uint64_t state = 0;
  EXPECT_EQ(splitmix64_next(state), 0xe220a8397b1dcdafull);
  EXPECT_EQ(splitmix64_next(state), 0x6e789e6aa1b965f4ull);
  EXPECT_EQ(splitmix64_next(state), 0x06c45d188009454full);
}

TEST(HoldoutTest, PermutationIsDeterministicAndComplete) {
  const std::vector<int64_t> a = seeded_permutation(1000, 42);
  EXPECT_EQ(a, seeded_permutation(1000, 42));
  EXPECT_NE(a, seeded_permutation(1000, 43));
  std::vector<int64_t> sorted = a;
  std::sort(sorted.begin(), sorted.end());
  std::vector<int64_t> expected(1000);
  std::iota(expected.begin(), expected.end(), 0);
  EXPECT_EQ(sorted, expected);
  // Pinned so that the split stays the same across machines and releases.
  EXPECT_EQ(seeded_permutation(5, 0), (std::vector<int64_t>{2, 3, 1, 4, 0}));
}

TEST(HoldoutTest, CifarSplitIsDisjointAndCoversEverything) {
  const auto [train, validation] = holdout_indices(50000, 5000, 0);
  ASSERT_EQ(train.size(), 45000u);
  ASSERT_EQ(validation.size(), 5000u);
  EXPECT_TRUE(std::is_sorted(train.begin(), train.end()));
  EXPECT_TRUE(std::is_sorted(validation.begin(), validation.end()));
  std::vector<int64_t> all(train);
  all.insert(all.end(), validation.begin(), validation.end());
  std::sort(all.begin(), all.end());
  for (int64_t i = 0; i < 50000; ++i) ASSERT_EQ(all[static_cast<size_t>(i)], i);
  EXPECT_NE(holdout_indices(50000, 5000, 1).second, validation);
  EXPECT_THROW(holdout_indices(100, 100, 0), std::invalid_argument);
  EXPECT_THROW(holdout_indices(100, 0, 0), std::invalid_argument);
}

}  // namespace
}  // namespace isda::data
