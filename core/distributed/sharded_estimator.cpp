#include "distributed/sharded_estimator.h"

#include "distributed/collectives.h"
#include "support/torch_compat.h"
#include "train/estimator_memory.h"

#include <torch/torch.h>

#include <sstream>
#include <stdexcept>

namespace isda::distributed {
namespace {

// y = the sum over the ranks of x; its backward is the same sum of y's gradients (every rank's loss
// depends on y, so x's gradient on its rank is the sum of all of theirs). `anchor` (the weights x
// derives from) only ties y into the graph: a rank that owns none of the batch's classes has an x
// of zeros without a graph, and must still take part in the backward's sum.
struct SumOverRanks : public torch::autograd::Function<SumOverRanks> {
  static torch::Tensor forward(torch::autograd::AutogradContext* context, const torch::Tensor& x,
                               const torch::Tensor& /*anchor*/, Communicator* communicator) {
    context->saved_data["communicator"] = reinterpret_cast<int64_t>(communicator);
    auto y = x.clone();
    communicator->all_reduce_sum(y);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* context,
                                                 torch::autograd::variable_list gradients) {
    auto* communicator = reinterpret_cast<Communicator*>(context->saved_data["communicator"].toInt());
    auto gradient = gradients[0].contiguous().clone();
    communicator->all_reduce_sum(gradient);
    return {gradient, torch::Tensor(), torch::Tensor()};
  }
};

constexpr char kHeaderKey[] = "isda.shards";  // {ranks, num_classes, feature_dim}

std::string shard_key(int rank) { return "isda.shard." + std::to_string(rank); }

}  // namespace

ShardedEstimator::ShardedEstimator(int64_t num_classes, int64_t feature_dim, Communicator& communicator,
                                   torch::Device device, torch::Dtype state_dtype)
    : communicator_(communicator),
      num_classes_(num_classes),
      first_(train::owned_classes(num_classes, communicator.rank(), communicator.size()).first),
      end_(train::owned_classes(num_classes, communicator.rank(), communicator.size()).second),
      // A rank that owns no class (more ranks than classes) keeps a one-class shard it never uses.
      shard_(CovarianceKind::kFull, std::max<int64_t>(1, end_ - first_), feature_dim, device, state_dtype) {}

void ShardedEstimator::merge_global_batch(const torch::Tensor& features, const torch::Tensor& labels) {
  const auto all_features = communicator_.all_gather(features.detach()).flatten(0, 1);
  global_labels_ = communicator_.all_gather(labels).flatten(0, 1);
  const auto mine = global_labels_.ge(first_).logical_and(global_labels_.lt(end_)).nonzero().squeeze(1);
  shard_.update(all_features.index_select(0, mine), global_labels_.index_select(0, mine) - first_);
}

torch::Tensor ShardedEstimator::quadratic_terms(const torch::Tensor& weight, const torch::Tensor& labels) {
  if (!global_labels_.defined()) throw std::logic_error("ShardedEstimator: quadratic_terms before a merge");
  const auto device = weight.device();
  // The distinct classes of the global batch, sorted: the same K rows on every rank.
  const auto classes = std::get<0>(compat::unique_with_inverse_and_counts(global_labels_.to(device, torch::kInt64)));
  const int64_t k = classes.size(0);
  const auto mine = classes.ge(first_).logical_and(classes.lt(end_)).nonzero().squeeze(1);
  const auto own_rows = shard_.class_rows(weight, classes.index_select(0, mine) - first_, first_);  // (k_r, C)
  const auto contribution = torch::zeros({k, weight.size(0)}, weight.options()).index_copy(0, mine, own_rows);
  const auto rows = SumOverRanks::apply(contribution, weight, &communicator_);  // (K, C) on every rank
  // Row of each of this rank's samples: class -> its position among `classes`.
  const auto position = torch::full({num_classes_}, -1, classes.options()).index_copy(0, classes, torch::arange(k, classes.options()));
  return rows.index_select(0, position.index_select(0, labels.to(device, torch::kInt64)));
}

void ShardedEstimator::gather_for_checkpoint() {
  torch::serialize::OutputArchive archive;
  shard_.save(archive);
  std::ostringstream bytes;
  archive.save_to(bytes);
  const auto mine = bytes.str();
  gathered_.clear();
  for (int r = 0; r < communicator_.size(); ++r) {
    // Each shard in turn from its owner; only rank 0 keeps them (the others hold one at a time).
    auto shard = broadcast_bytes(&communicator_, mine, r);
    if (communicator_.rank() == 0) gathered_.push_back(std::move(shard));
  }
}

void ShardedEstimator::save(torch::serialize::OutputArchive& archive) const {
  if (gathered_.size() != static_cast<size_t>(communicator_.size())) {
    throw std::logic_error("ShardedEstimator: save() without gather_for_checkpoint() on rank 0");
  }
  archive.write(kHeaderKey, torch::tensor({static_cast<int64_t>(communicator_.size()), num_classes_, shard_.feature_dim()}));
  for (size_t r = 0; r < gathered_.size(); ++r) {
    const auto& bytes = gathered_[r];
    auto tensor = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
    std::memcpy(tensor.data_ptr<uint8_t>(), bytes.data(), bytes.size());
    archive.write(shard_key(static_cast<int>(r)), tensor, /*is_buffer=*/true);
  }
}

void ShardedEstimator::load(torch::serialize::InputArchive& archive) {
  torch::Tensor header;
  if (!archive.try_read(kHeaderKey, header)) {
    throw std::runtime_error("its ISDA estimator is not sharded by class (written with estimator_sharding off or one "
                             "rank): resume with estimator_sharding off");
  }
  const auto expected = torch::tensor({static_cast<int64_t>(communicator_.size()), num_classes_, shard_.feature_dim()});
  if (header.sizes() != expected.sizes() || !torch::equal(header, expected)) {
    throw std::runtime_error("its ISDA estimator shards are of " + std::to_string(header[0].item<int64_t>()) +
                             " ranks (C=" + std::to_string(header[1].item<int64_t>()) + ", A=" +
                             std::to_string(header[2].item<int64_t>()) + "), this run has " +
                             std::to_string(communicator_.size()));
  }
  torch::Tensor bytes;
  archive.read(shard_key(communicator_.rank()), bytes, /*is_buffer=*/true);
  std::istringstream in(std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel())));
  torch::serialize::InputArchive shard;
  shard.load_from(in);
  shard_.load(shard);
}

}  // namespace isda::distributed
