#pragma once
// ISDA in a data-parallel run: every rank merges the whole global batch into its estimator, with
// the features of every rank gathered (rank order), so each rank holds exactly the estimator one
// process would hold after the same global batches (up to the order of summation). The traffic is
// the batch's features, N x A floats a step: far less than all-reducing C x A x A covariances
// (CIFAR-100 on a WRN-28-10: 100 x 640 x 640 = 41M floats a step, against 128 x 640 = 82k).

#include "distributed/communicator.h"
#include "isda/covariance_estimator.h"

#include <torch/types.h>

namespace isda::distributed {

// Gathers this rank's `features` (N_r, A; detached) and `labels` (N_r) from every rank (all ranks
// pass the same N_r) and merges them into `estimator`.
void merge_global_batch(CovarianceEstimator& estimator, Communicator& communicator, const torch::Tensor& features,
                        const torch::Tensor& labels);

}  // namespace isda::distributed
