#include "distributed/estimator_sync.h"

#include <torch/torch.h>

namespace isda::distributed {

void merge_global_batch(CovarianceEstimator& estimator, Communicator& communicator, const torch::Tensor& features,
                        const torch::Tensor& labels) {
  const auto all_features = communicator.all_gather(features.detach()).flatten(0, 1);
  const auto all_labels = communicator.all_gather(labels).flatten(0, 1);
  estimator.update(all_features, all_labels);
}

}  // namespace isda::distributed
