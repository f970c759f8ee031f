#pragma once
// The contents of a run's checkpoint (the framing on disk is RunDirectory's): a JSON `meta`
// (config, progress, metrics history: the trainer's business) and the state of every object
// training needs to continue bit for bit: weights, optimizer, the ISDA estimator or comparison
// loss, the augmentation generator and torch's global CPU generator. Split from the training loop
// so that a round trip is tested on its own (tests/core/train/checkpoint_test.cpp).

#include "data/augment.h"
#include "isda/covariance_estimator.h"
#include "models/classifier.h"
#include "train/losses.h"
#include "train/train_config.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <optional>
#include <string>

namespace isda::distributed {
class ShardedEstimator;
}

namespace isda::train {

// The objects whose state a checkpoint holds; estimator and comparison may be null.
struct CheckpointParts {
  models::Classifier& model;
  torch::optim::Optimizer& optimizer;
  CovarianceEstimator* estimator = nullptr;
  ComparisonLoss* comparison = nullptr;
  data::BatchAugmenter& augmenter;
  // Data parallel: every rank's CPU generator state stacked (ranks, S) uint8, gathered by the rank
  // that writes; a restore sets the generator of this process to row `rank` of it.
  torch::Tensor rank_cpu_rng;
  int64_t rank = 0;
  // Data parallel with the estimator sharded by class (instead of `estimator`): every shard with
  // its owner, gathered by rank 0 before save; each rank restores its own.
  distributed::ShardedEstimator* sharded_estimator = nullptr;
};

// A checkpoint archive's `meta` (JSON kept as a byte tensor under "meta"), for every kind of run.
void write_checkpoint_meta(torch::serialize::OutputArchive& archive, const nlohmann::json& meta);
nlohmann::json read_checkpoint_meta(torch::serialize::InputArchive& archive);

// Opens `payload` as a checkpoint archive and hands its meta and the archive to `read`, which
// restores what it needs (and throws to refuse). Anything that fails but a CheckpointError becomes
// CheckpointError "<path>: unreadable (<first line of the reason>)". The one reader of every
// checkpoint: a classifier's, a generator run's, a generator run read by a classifier, and a run
// exported. With `map_location` every tensor is read onto that device (a CUDA run's checkpoint
// read on a machine without one), else onto the device it was saved from.
void open_checkpoint(const std::string& payload, const std::string& path,
                     const std::function<void(const nlohmann::json& meta, torch::serialize::InputArchive& archive)>& read,
                     const std::optional<torch::Device>& map_location = std::nullopt);

// Throws CheckpointError "<path>: written by another config (<key> is .. there, .. here)" for the
// first key, execution keys aside, whose value in `saved` (a checkpoint's config) differs from `current`'s.
void check_same_config(const nlohmann::json& saved, const TrainConfig& current, const std::string& path);

// The state of `parts` (and the global CPU generator) into / from a checkpoint archive, beside the
// meta the run's harness writes (train/run_session.h).
void save_checkpoint_parts(torch::serialize::OutputArchive& archive, const CheckpointParts& parts);
void load_checkpoint_parts(torch::serialize::InputArchive& archive, const CheckpointParts& parts);

// The payload of a checkpoint: `meta` and the state of `parts` (and the global CPU generator).
std::string serialize_checkpoint(const nlohmann::json& meta, const CheckpointParts& parts);

// Restores `parts` (and the global CPU generator) from `payload` and returns its meta, after
// `check_meta` has accepted it (it throws to refuse, before anything is restored). Throws
// CheckpointError naming `path` for a payload that cannot be read.
nlohmann::json restore_checkpoint(const std::string& payload, const CheckpointParts& parts, const std::string& path,
                                  const std::function<void(const nlohmann::json&)>& check_meta = {});

}  // namespace isda::train
