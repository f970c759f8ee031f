// The ISDA estimator's memory, stated before a run allocates it: per rank, for every covariance and
// dtype, sharded by class or not, and the one-line refusal of an estimator that cannot fit.
#include "train/estimator_memory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace isda::train {
namespace {

using ::testing::HasSubstr;

TrainConfig imagenet(int64_t ranks, const std::string& dtype) {
  TrainConfig c;
  c.dataset = "imagenet";
  c.model = "resnet50";
  c.method = "isda";
  c.covariance = "full";
  c.estimator_dtype = dtype;
  c.ranks = ranks;
  return c;
}

TEST(EstimatorMemory, TheFullImageNetEstimatorIsTheIssuesSizeAndShardsByRanks) {
  const auto one = estimator_memory(imagenet(1, "float64"));
  ASSERT_TRUE(one);
  EXPECT_EQ(one->classes, 1000);
  EXPECT_EQ(one->feature_dim, 2048);
  EXPECT_FALSE(one->sharded);
  // Counts (8 B), means (A) and covariances (A x A) of 1000 classes: 33.6 GB in float64.
  EXPECT_EQ(one->total_bytes, 1000 * 8 + 1000 * 2048 * 8 + int64_t{1000} * 2048 * 2048 * 8);
  EXPECT_EQ(describe(*one), "ISDA estimator: full covariance, C=1000, A=2048, float64: 33.57 GB");
  for (const int64_t ranks : {1, 2, 4, 8}) {
    const auto m = estimator_memory(imagenet(ranks, "float32"));
    ASSERT_TRUE(m);
    EXPECT_EQ(m->sharded, ranks > 1);
    EXPECT_EQ(m->total_bytes, 1000 * 8 + 1000 * 2048 * 4 + int64_t{1000} * 2048 * 2048 * 4);
    const int64_t per_class = 8 + 2048 * 4 + 2048 * 2048 * 4;
    EXPECT_LE(m->bytes_per_rank - m->total_bytes / ranks, per_class) << ranks << " ranks: within one class of total / R";
    EXPECT_GE(m->bytes_per_rank, m->total_bytes / ranks);
  }
  EXPECT_EQ(describe(*estimator_memory(imagenet(8, "float32"))),
            "ISDA estimator: full covariance, C=1000, A=2048, float32, sharded by class over 8 ranks: 2.10 GB per rank "
            "(16.79 GB in all)");
  auto off = imagenet(8, "float32");
  off.estimator_sharding = "off";
  EXPECT_EQ(describe(*estimator_memory(off)),
            "ISDA estimator: full covariance, C=1000, A=2048, float32: 16.79 GB on each of 8 ranks");
}

TEST(EstimatorMemory, OtherCovariancesMethodsAndUnknownSizes) {
  auto diagonal = imagenet(8, "float64");
  diagonal.covariance = "diagonal";
  const auto m = estimator_memory(diagonal);
  ASSERT_TRUE(m);
  EXPECT_FALSE(m->sharded) << "only the full covariance is sharded";
  EXPECT_EQ(m->bytes_per_rank, 1000 * 8 + 2 * 1000 * 2048 * 8);
  auto ce = imagenet(1, "float64");
  ce.method = "ce";
  EXPECT_FALSE(estimator_memory(ce));
  EXPECT_TRUE(estimator_memory(imagenet(1, "float64"), 4, 16)) << "sizes given by the caller (a folder of 4 classes)";
  EXPECT_EQ(estimator_memory(imagenet(1, "float64"), 4, 16)->total_bytes, 4 * 8 + 4 * 16 * 8 + 4 * 16 * 16 * 8);
}

TEST(EstimatorMemory, AnEstimatorThatCannotFitIsRefusedInOneLineWithAWayOut) {
  const auto m = *estimator_memory(imagenet(1, "float64"));
  EXPECT_EQ(estimator_fit_problem(m, int64_t{40} << 30, "cuda:0"), "");
  EXPECT_EQ(estimator_fit_problem(m, -1, "cuda:0"), "") << "unknown free memory: no refusal";
  const auto problem = estimator_fit_problem(m, int64_t{20} << 30, "cuda:0");
  EXPECT_THAT(problem, HasSubstr("33.57 GB, more than the 21.47 GB cuda:0 has free"));
  EXPECT_THAT(problem, HasSubstr("estimator_dtype float32 halves it; more ranks shard it by class"));
  EXPECT_EQ(problem.find('\n'), std::string::npos);
  EXPECT_EQ(shards_estimator("full", "auto", 2), true);
  EXPECT_EQ(shards_estimator("full", "off", 2), false);
  EXPECT_EQ(shards_estimator("full", "auto", 1), false);
  EXPECT_EQ(owned_classes(1000, 3, 8), (std::pair<int64_t, int64_t>{375, 500}));
  EXPECT_EQ(owned_classes(7, 3, 4), (std::pair<int64_t, int64_t>{5, 7}));
}

}  // namespace
}  // namespace isda::train
