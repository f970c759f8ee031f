#include "train/estimator_memory.h"

#include "data/dataset_sizes.h"
#include "models/model_names.h"

#include <cstdio>

namespace isda::train {
namespace {

std::string gigabytes(int64_t bytes) {
  char text[32];
  std::snprintf(text, sizeof text, "%.2f GB", static_cast<double>(bytes) / 1e9);
  return text;
}

// CovarianceEstimator's state for `classes` classes: counts (int64), and unless identity the means
// and the covariances (A x A each; diagonal: A; single: one A x A for all).
int64_t state_bytes(const std::string& covariance, int64_t classes, int64_t a, int64_t element) {
  const int64_t state_classes = covariance == "single" ? 1 : classes;
  int64_t bytes = state_classes * 8;
  if (covariance == "identity") return bytes;
  bytes += state_classes * a * element;
  bytes += covariance == "diagonal" ? state_classes * a * element : state_classes * a * a * element;
  return bytes;
}

}  // namespace

bool shards_estimator(const std::string& covariance, const std::string& sharding, int64_t ranks) {
  return ranks > 1 && covariance == "full" && sharding != "off";
}

std::pair<int64_t, int64_t> owned_classes(int64_t num_classes, int64_t rank, int64_t ranks) {
  return {num_classes * rank / ranks, num_classes * (rank + 1) / ranks};
}

int64_t estimator_element_bytes(const TrainConfig& config) { return config.estimator_dtype == "float32" ? 4 : 8; }

std::optional<EstimatorMemory> estimator_memory(const TrainConfig& config, int64_t classes, int64_t feature_dim) {
  if (config.method != "isda" || config.task != "classify") return std::nullopt;
  if (classes <= 0) {
    const auto* size = data::find_dataset_size(config.dataset);
    if (size == nullptr) return std::nullopt;
    classes = size->classes;
  }
  if (feature_dim <= 0) feature_dim = models::model_feature_dim(config.model);
  if (feature_dim <= 0) return std::nullopt;
  EstimatorMemory m;
  m.covariance = config.covariance;
  m.dtype = config.estimator_dtype;
  m.classes = classes;
  m.feature_dim = feature_dim;
  m.ranks = std::max<int64_t>(1, config.ranks);
  m.sharded = shards_estimator(config.covariance, config.estimator_sharding, m.ranks);
  const int64_t element = estimator_element_bytes(config);
  m.total_bytes = state_bytes(config.covariance, classes, feature_dim, element);
  const int64_t most_owned = (classes + m.ranks - 1) / m.ranks;
  m.bytes_per_rank = m.sharded ? state_bytes(config.covariance, std::max<int64_t>(1, most_owned), feature_dim, element)
                               : m.total_bytes;
  return m;
}

std::string describe(const EstimatorMemory& m) {
  std::string text = "ISDA estimator: " + m.covariance + " covariance, C=" + std::to_string(m.classes) +
                     ", A=" + std::to_string(m.feature_dim) + ", " + m.dtype;
  if (m.sharded) {
    text += ", sharded by class over " + std::to_string(m.ranks) + " ranks: " + gigabytes(m.bytes_per_rank) +
            " per rank (" + gigabytes(m.total_bytes) + " in all)";
  } else if (m.ranks > 1) {
    text += ": " + gigabytes(m.bytes_per_rank) + " on each of " + std::to_string(m.ranks) + " ranks";
  } else {
    text += ": " + gigabytes(m.bytes_per_rank);
  }
  return text;
}

std::string estimator_fit_problem(const EstimatorMemory& m, int64_t available_bytes, const std::string& where) {
  if (available_bytes < 0 || m.bytes_per_rank <= available_bytes) return "";
  std::string advice;
  if (m.dtype == "float64") advice = "estimator_dtype float32 halves it";
  if (m.covariance == "full" && !m.sharded) {
    advice += std::string(advice.empty() ? "" : "; ") +
              (m.ranks > 1 ? "estimator_sharding auto splits it over the ranks" : "more ranks shard it by class");
  }
  if (advice.empty()) advice = "covariance diagonal needs A times less";
  return describe(m) + ", more than the " + gigabytes(available_bytes) + " " + where + " has free (" + advice + ")";
}

}  // namespace isda::train
