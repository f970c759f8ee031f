#pragma once
// ISDA's full-covariance estimator split by class across the ranks of a data-parallel run, so that
// each rank holds the state of about C / R classes: at ImageNet's C = 1000, A = 2048 the whole state
// is 33.5 GB in float64 (16.8 GB in float32), more than a training GPU can spare; the paper fell
// back to the diagonal there.
//
// Rank r owns the classes [r C / R, (r + 1) C / R) (train::owned_classes; train/estimator_memory.h
// also says when a run shards and what each rank holds). Each step:
//   1. every rank's features and labels are gathered (as merge_global_batch does) and each rank
//      merges the samples of the classes it owns into its shard: its shard is exactly the
//      one-process estimator's slice;
//   2. for the K distinct classes of the global batch, the owner of class u computes its row of
//      quadratic terms Q[u, :] = (w_j - w_u)^T Sigma_u (w_j - w_u) over all C classes; the (K, C)
//      rows are summed over the ranks (each rank contributes its own rows, zeros elsewhere), which
//      is exact, and every rank takes the rows of its own samples;
//   3. backward: the same sum over the ranks of the rows' gradients, so the owner of class u
//      back-propagates every rank's gradient of Q[u, :] into the classifier weights; the gradient
//      reducer then averages the weights' gradients as for any parameter, which gives exactly the
//      one-process gradient. Traffic: K x C values each way, never C x A x A.

#include "distributed/communicator.h"
#include "isda/covariance_estimator.h"

#include <torch/serialize/archive.h>
#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace isda::distributed {

class ShardedEstimator {
 public:
  // A shard of the full covariance estimator of `num_classes` x `feature_dim` for this rank of
  // `communicator`'s world, its state on `device` in `state_dtype`.
  ShardedEstimator(int64_t num_classes, int64_t feature_dim, Communicator& communicator, torch::Device device,
                   torch::Dtype state_dtype);

  // Gathers this rank's `features` (N_r, A; detached) and `labels` (N_r) from every rank (all pass
  // the same N_r) and merges the owned classes' samples into the shard. Collective.
  void merge_global_batch(const torch::Tensor& features, const torch::Tensor& labels);

  // The quadratic terms (N_r, C) of this rank's `labels` (the local labels of the last merge),
  // differentiable with respect to `weight` (C, A), as CovarianceEstimator::quadratic_terms of the
  // one-process estimator. Collective, and so is the backward through them: every rank calls it
  // once per merge and back-propagates through it.
  torch::Tensor quadratic_terms(const torch::Tensor& weight, const torch::Tensor& labels);

  const CovarianceEstimator& shard() const { return shard_; }
  int64_t first_class() const { return first_; }
  int64_t end_class() const { return end_; }
  int64_t state_bytes() const { return shard_.state_bytes(); }

  // Checkpoints hold every shard with its owner, written by rank 0: gather_for_checkpoint()
  // (collective) hands rank 0 every rank's shard, save() writes them (rank 0), load() restores this
  // rank's own shard from a checkpoint of the same number of ranks (every rank reads the
  // checkpoint); it throws CheckpointError-like std::runtime_error naming the difference otherwise.
  void gather_for_checkpoint();
  void save(torch::serialize::OutputArchive& archive) const;
  void load(torch::serialize::InputArchive& archive);

 private:
  Communicator& communicator_;
  int64_t num_classes_;
  int64_t first_, end_;
  CovarianceEstimator shard_;
  torch::Tensor global_labels_;            // of the last merge
  std::vector<std::string> gathered_;      // rank 0, after gather_for_checkpoint(): every shard's bytes
};

}  // namespace isda::distributed
