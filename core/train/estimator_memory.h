#pragma once
// What ISDA's covariance estimator will hold, stated before a run allocates it (LibTorch-free):
// isda-train --dump-config and isda-run --dry-run print it, and isda-train refuses a run whose
// estimator cannot fit before it trains. Also the one place of the rule that shards the full
// estimator by class across data-parallel ranks (distributed/sharded_estimator.h).

#include "train/train_config.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>

namespace isda::train {

// Whether a run of `ranks` ranks with `covariance` and `sharding` ("auto" | "off") shards its
// estimator by class: the full covariance with more than one rank, unless sharding is off.
bool shards_estimator(const std::string& covariance, const std::string& sharding, int64_t ranks);
// The classes [first, end) rank `rank` of `ranks` owns in a sharded estimator: [r C / R, (r+1) C / R).
std::pair<int64_t, int64_t> owned_classes(int64_t num_classes, int64_t rank, int64_t ranks);

// Bytes of one element of the estimator's state: 4 for estimator_dtype float32, else 8 (float64).
int64_t estimator_element_bytes(const TrainConfig& config);

struct EstimatorMemory {
  std::string covariance, dtype;  // config's covariance and estimator_dtype
  int64_t classes = 0, feature_dim = 0, ranks = 1;
  bool sharded = false;
  int64_t total_bytes = 0;     // of the whole estimator (one process's)
  int64_t bytes_per_rank = 0;  // the most any rank holds (sharded: ceil(C / R) classes)
};

// The estimator of `config` (method isda), with C and A given (0: the data set's and the network's
// nominal sizes, data/dataset_sizes.h and models/model_names.h); nullopt for another method or
// when a size is unknown. Bytes as CovarianceEstimator::state_bytes() counts them.
std::optional<EstimatorMemory> estimator_memory(const TrainConfig& config, int64_t classes = 0, int64_t feature_dim = 0);

// "ISDA estimator: full covariance, C=1000, A=2048, float32, sharded by class over 8 ranks:
// 2.10 GB per rank (16.78 GB in all)".
std::string describe(const EstimatorMemory& memory);

// The one-line refusal of an estimator that cannot fit in `available_bytes` (what the device or the
// machine has free), or "" when it fits.
std::string estimator_fit_problem(const EstimatorMemory& memory, int64_t available_bytes, const std::string& where);

}  // namespace isda::train
