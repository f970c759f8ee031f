// Data-parallel building blocks over real Gloo process groups, with the ranks as threads of this
// process: the gradient all-reduce, the ISDA estimator merged over the global batch (float64, to
// 1e-10 of one process's), synchronised BatchNorm against BatchNorm over the global batch, and a
// dead rank failing the others within the timeout.

#include "distributed/communicator.h"
#include "distributed/estimator_sync.h"
#include "distributed/gradient_reducer.h"
#include "distributed/sharded_estimator.h"
#include "isda/isda_loss.h"
#include "train/estimator_memory.h"
#include "distributed/launcher.h"
#include "models/batch_norm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <exception>
#include <functional>
#include <sstream>
#include <thread>
#include <vector>

namespace isda::distributed {
namespace {

using ::testing::HasSubstr;

constexpr int kRanks = 2;

// Runs `body(communicator)` on `ranks` threads, one Gloo rank each; rethrows the first failure.
void run_ranks(const std::function<void(Communicator&)>& body, std::chrono::milliseconds timeout = std::chrono::seconds(20),
               int ranks = kRanks) {
  run_ranks_in_threads(ranks, [](int) { return torch::Device(torch::kCPU); }, timeout, body);
}

// Rows rank, rank + kRanks, ... of a global batch: a rank's share, as the trainer takes it.
torch::Tensor share(const torch::Tensor& global, int rank) {
  return global.index_select(0, torch::arange(rank, global.size(0), kRanks, torch::kLong));
}

TEST(Collectives, AllReduceGatherBroadcastAndMax) {
  run_ranks([](Communicator& c) {
    auto sum = torch::full({3}, static_cast<double>(c.rank() + 1), torch::kFloat64);
    c.all_reduce_sum(sum);
    EXPECT_TRUE(torch::equal(sum, torch::full({3}, 3.0, torch::kFloat64)));
    auto max = torch::tensor({int64_t{c.rank() * 7}});
    c.all_reduce_max(max);
    EXPECT_EQ(max.item<int64_t>(), 7);
    const auto gathered = c.all_gather(torch::full({2}, static_cast<float>(c.rank())));
    EXPECT_TRUE(torch::equal(gathered, torch::tensor({{0.f, 0.f}, {1.f, 1.f}})));
    auto value = torch::full({4}, static_cast<float>(c.rank() + 10));
    c.broadcast(value);
    EXPECT_TRUE(torch::equal(value, torch::full({4}, 10.f)));
  });
}

// Each rank's gradient of its share's mean loss, averaged: the gradient of the global batch's mean
// loss in one process, with several buckets (a tiny bucket size) and one parameter left unused,
// whose gradient stays undefined as in one process.
TEST(GradientReducer, AveragesEveryParameterOverTheRanks) {
  torch::manual_seed(3);
  const auto x = torch::randn({8, 5});
  const auto y = torch::randint(0, 3, {8}, torch::kLong);
  torch::manual_seed(4);
  torch::nn::Sequential reference(torch::nn::Linear(5, 4), torch::nn::Tanh(), torch::nn::Linear(4, 3));
  torch::nn::functional::cross_entropy(reference->forward(x), y).backward();

  // Each rank's copy made here: the threads would race on the global generator.
  std::vector<torch::nn::Sequential> models;
  for (int r = 0; r < kRanks; ++r) {
    torch::manual_seed(4);
    models.emplace_back(torch::nn::Linear(5, 4), torch::nn::Tanh(), torch::nn::Linear(4, 3));
  }
  run_ranks([&](Communicator& c) {
    auto& model = models[static_cast<size_t>(c.rank())];
    auto unused = torch::zeros({2}, torch::requires_grad());
    auto parameters = model->parameters();
    parameters.push_back(unused);
    GradientReducer reducer(parameters, c, /*bucket_bytes=*/40);
    EXPECT_GE(reducer.buckets(), 3);
    for (int step = 0; step < 2; ++step) {  // the second step reuses the buckets
      for (auto& p : model->parameters()) p.mutable_grad() = torch::Tensor();
      torch::nn::functional::cross_entropy(model->forward(share(x, c.rank())), share(y, c.rank())).backward();
      reducer.finish();
      const auto ours = model->parameters();
      const auto theirs = reference->parameters();
      for (size_t i = 0; i < ours.size(); ++i) {
        EXPECT_TRUE(torch::allclose(ours[i].grad(), theirs[i].grad(), 1e-6, 1e-7)) << "parameter " << i;
      }
      EXPECT_FALSE(unused.grad().defined());
    }
  });
}

// A parameter no rank uses is left as one process leaves it: SGD with weight decay and momentum
// does not move it. One that only rank 1 uses gets rank 1's gradient averaged with rank 0's zeros.
TEST(GradientReducer, UnusedParametersAreLeftAsOneProcessLeavesThem) {
  run_ranks([&](Communicator& c) {
    auto weight = torch::ones({3}, torch::requires_grad());
    auto unused = torch::ones({2}, torch::requires_grad());
    auto rank1_only = torch::ones({1}, torch::requires_grad());
    GradientReducer reducer({weight, unused, rank1_only}, c, /*bucket_bytes=*/8);
    torch::optim::SGD sgd({weight, unused, rank1_only}, torch::optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.5));
    for (int step = 0; step < 3; ++step) {
      sgd.zero_grad();
      auto loss = weight.sum() * static_cast<double>(c.rank() + 1);
      if (c.rank() == 1) loss = loss + rank1_only.sum() * 4.0;
      loss.backward();
      reducer.finish();
      EXPECT_TRUE(torch::equal(weight.grad(), torch::full({3}, 1.5f)));
      EXPECT_TRUE(torch::equal(rank1_only.grad(), torch::full({1}, 2.0f)));
      EXPECT_FALSE(unused.grad().defined());
      sgd.step();
      EXPECT_TRUE(torch::equal(unused, torch::ones({2})));
    }
  });
}

// Two backward calls before the reduction: refused (a second gradient cannot join a bucket that
// may be on the wire), never silently dropped.
TEST(GradientReducer, ASecondBackwardBeforeTheReductionIsRefused) {
  run_ranks([&](Communicator& c) {
    auto weight = torch::ones({3}, torch::requires_grad());
    GradientReducer reducer({weight}, c);
    (weight * 2).sum().backward();
    try {
      (weight * 3).sum().backward();
      ADD_FAILURE() << "a second backward was accepted";
    } catch (const std::exception& e) {
      EXPECT_THAT(e.what(), HasSubstr("a second backward before the gradients were reduced"));
    }
    reducer.finish();  // the first backward's gradients still reduce on both ranks
    EXPECT_TRUE(torch::equal(weight.grad(), torch::full({3}, 2.0f)));
  });
}

// Facts: the estimator equals the covariance of all features seen. Every rank, merging the global
// batch gathered from the ranks, holds what one process merging the same batches holds.
TEST(EstimatorSync, EveryRankHoldsTheOneProcessEstimator) {
  constexpr int64_t kClasses = 3, kDim = 6, kBatch = 16, kSteps = 5;
  torch::manual_seed(11);
  std::vector<torch::Tensor> features, labels;
  CovarianceEstimator reference(CovarianceKind::kFull, kClasses, kDim);
  for (int64_t s = 0; s < kSteps; ++s) {
    features.push_back(torch::randn({kBatch, kDim}, torch::kFloat64) * (s + 1) + s);
    labels.push_back(torch::randint(0, kClasses, {kBatch}, torch::kLong));
    reference.update(features.back(), labels.back());
  }
  run_ranks([&](Communicator& c) {
    for (const auto kind : {CovarianceKind::kFull, CovarianceKind::kDiagonal}) {
      CovarianceEstimator ours(kind, kClasses, kDim);
      CovarianceEstimator theirs(kind, kClasses, kDim);
      for (int64_t s = 0; s < kSteps; ++s) {
        merge_global_batch(ours, c, share(features[static_cast<size_t>(s)], c.rank()), share(labels[static_cast<size_t>(s)], c.rank()));
        theirs.update(features[static_cast<size_t>(s)], labels[static_cast<size_t>(s)]);
      }
      for (int64_t k = 0; k < kClasses; ++k) {
        EXPECT_EQ(ours.count(k), theirs.count(k));
        EXPECT_LT((ours.mean(k) - theirs.mean(k)).abs().max().item<double>(), 1e-10);
        EXPECT_LT((ours.covariance(k) - theirs.covariance(k)).abs().max().item<double>(), 1e-10);
      }
    }
  });
  EXPECT_GT(reference.count(0), 0);
}

// The estimator sharded by class over 2 and 4 ranks: every step's loss, logits and gradients (of
// the features and, averaged over the ranks, of the classifier weights and biases) equal those of
// one process holding the whole estimator, within 1e-10 in float64, over several steps with
// classes missing from some batches and a class present on one rank only; each rank's shard is the
// one-process state's slice of its classes.
TEST(ShardedEstimator, EqualsTheOneProcessStepAndState) {
  constexpr int64_t kClasses = 7, kDim = 5, kPerRank = 3, kSteps = 4;
  constexpr double kLambda = 0.8;
  for (const int ranks : {2, 4}) {
    torch::manual_seed(5 + ranks);
    const auto weight = torch::randn({kClasses, kDim}, torch::kFloat64);
    const auto bias = torch::randn({kClasses}, torch::kFloat64);
    std::vector<torch::Tensor> features, labels;  // per step: the global batch, rank r's rows at r * kPerRank
    for (int64_t s = 0; s < kSteps; ++s) {
      features.push_back(torch::randn({ranks * kPerRank, kDim}, torch::kFloat64) * (s + 1) + s);
      auto y = torch::randint(0, kClasses - 2, {ranks * kPerRank}, torch::kLong);  // classes 5, 6 missing...
      if (s % 2 == 1) y[ranks * kPerRank - 1] = kClasses - 1;                       // ...but for 6 on the last rank
      labels.push_back(y);
    }
    const auto rows_of = [&](const torch::Tensor& global, int r) { return global.narrow(0, r * kPerRank, kPerRank); };

    // One process: the whole estimator; the ranks' losses averaged (what the gradient reducer gives).
    struct Step {
      std::vector<double> losses;
      std::vector<torch::Tensor> feature_grads;
      torch::Tensor weight_grad, bias_grad;
    };
    std::vector<Step> expected(kSteps);
    CovarianceEstimator whole(CovarianceKind::kFull, kClasses, kDim);
    for (int64_t s = 0; s < kSteps; ++s) {
      whole.update(features[static_cast<size_t>(s)], labels[static_cast<size_t>(s)]);
      auto w = weight.clone().requires_grad_(), b = bias.clone().requires_grad_();
      torch::Tensor mean_loss = torch::zeros({}, torch::kFloat64);
      std::vector<torch::Tensor> x(static_cast<size_t>(ranks));
      for (int r = 0; r < ranks; ++r) {
        x[static_cast<size_t>(r)] = rows_of(features[static_cast<size_t>(s)], r).clone().requires_grad_();
        const auto y = rows_of(labels[static_cast<size_t>(s)], r);
        const auto logits = torch::nn::functional::linear(x[static_cast<size_t>(r)], w, b);
        const auto loss = torch::nn::functional::cross_entropy(augmented_logits(whole, logits, w, y, kLambda), y);
        expected[static_cast<size_t>(s)].losses.push_back(loss.item<double>());
        mean_loss = mean_loss + loss / ranks;
      }
      mean_loss.backward();
      for (int r = 0; r < ranks; ++r) expected[static_cast<size_t>(s)].feature_grads.push_back(x[static_cast<size_t>(r)].grad() * ranks);
      expected[static_cast<size_t>(s)].weight_grad = w.grad();
      expected[static_cast<size_t>(s)].bias_grad = b.grad();
    }

    run_ranks(
        [&](Communicator& c) {
          const int r = c.rank();
          ShardedEstimator sharded(kClasses, kDim, c, torch::kCPU, torch::kFloat64);
          const auto [first, end] = train::owned_classes(kClasses, r, ranks);
          EXPECT_EQ(sharded.first_class(), first);
          for (int64_t s = 0; s < kSteps; ++s) {
            const auto& want = expected[static_cast<size_t>(s)];
            auto w = weight.clone().requires_grad_(), b = bias.clone().requires_grad_();
            auto x = rows_of(features[static_cast<size_t>(s)], r).clone().requires_grad_();
            const auto y = rows_of(labels[static_cast<size_t>(s)], r);
            sharded.merge_global_batch(x, y);
            const auto logits = torch::nn::functional::linear(x, w, b);
            const auto loss = torch::nn::functional::cross_entropy(
                add_quadratic_terms(logits, sharded.quadratic_terms(w, y), kLambda), y);
            EXPECT_NEAR(loss.item<double>(), want.losses[static_cast<size_t>(r)], 1e-10) << ranks << " ranks, step " << s;
            loss.backward();
            EXPECT_LT((x.grad() - want.feature_grads[static_cast<size_t>(r)]).abs().max().item<double>(), 1e-10);
            auto wg = w.grad().clone(), bg = b.grad().clone();  // averaged as the gradient reducer does
            c.all_reduce_sum(wg);
            c.all_reduce_sum(bg);
            EXPECT_LT((wg / ranks - want.weight_grad).abs().max().item<double>(), 1e-10) << ranks << " ranks, step " << s;
            EXPECT_LT((bg / ranks - want.bias_grad).abs().max().item<double>(), 1e-10);
          }
          // The shard is the whole estimator's slice of this rank's classes (after every step).
          for (int64_t k = first; k < end; ++k) {
            EXPECT_EQ(sharded.shard().count(k - first), whole.count(k)) << "class " << k;
            EXPECT_LT((sharded.shard().mean(k - first) - whole.mean(k)).abs().max().item<double>(), 1e-10);
            EXPECT_LT((sharded.shard().covariance(k - first) - whole.covariance(k)).abs().max().item<double>(), 1e-10);
          }
          EXPECT_EQ(sharded.shard().num_classes(), end - first);
        },
        std::chrono::seconds(20), ranks);
  }
}

// A checkpoint of a sharded estimator holds every shard with its owner; each rank restores its own.
TEST(ShardedEstimator, CheckpointRoundTripRestoresEachRanksShard) {
  constexpr int64_t kClasses = 5, kDim = 3;
  const auto features = torch::randn({8, kDim}, torch::kFloat64);
  const auto labels = torch::tensor({0, 1, 2, 3, 4, 0, 2, 4}, torch::kLong);
  std::string bytes;  // rank 0's archive
  run_ranks([&](Communicator& c) {
    ShardedEstimator sharded(kClasses, kDim, c, torch::kCPU, torch::kFloat64);
    sharded.merge_global_batch(features.narrow(0, c.rank() * 4, 4), labels.narrow(0, c.rank() * 4, 4));
    sharded.gather_for_checkpoint();
    if (c.rank() == 0) {
      torch::serialize::OutputArchive archive;
      sharded.save(archive);
      std::ostringstream out;
      archive.save_to(out);
      bytes = out.str();
    }
    c.barrier();
    torch::serialize::InputArchive archive;
    std::istringstream in(bytes);
    archive.load_from(in);
    ShardedEstimator restored(kClasses, kDim, c, torch::kCPU, torch::kFloat64);
    restored.load(archive);
    for (int64_t k = 0; k < restored.shard().num_classes(); ++k) {
      EXPECT_EQ(restored.shard().count(k), sharded.shard().count(k));
      EXPECT_TRUE(restored.shard().covariance(k).equal(sharded.shard().covariance(k)));
      EXPECT_TRUE(restored.shard().mean(k).equal(sharded.shard().mean(k)));
    }
  });
  // Another number of ranks is refused, naming both.
  run_ranks(
      [&](Communicator& c) {
        torch::serialize::InputArchive archive;
        std::istringstream in(bytes);
        archive.load_from(in);
        ShardedEstimator other(kClasses, kDim, c, torch::kCPU, torch::kFloat64);
        try {
          other.load(archive);
          ADD_FAILURE() << "a checkpoint of 2 ranks' shards was loaded on 4";
        } catch (const std::runtime_error& e) {
          EXPECT_THAT(e.what(), HasSubstr("shards are of 2 ranks (C=5, A=3), this run has 4"));
        }
      },
      std::chrono::seconds(20), 4);
}

// Synchronised BatchNorm on each rank's share = BatchNorm over the global batch: outputs, input
// gradients, and (summed over ranks) weight and bias gradients; running statistics alike.
TEST(SyncBatchNorm, EqualsBatchNormOverTheGlobalBatch) {
  torch::manual_seed(5);
  const auto x = torch::randn({6, 3, 4, 4}) * 2 + 1;
  const auto probe = torch::randn({6, 3, 4, 4});  // loss = sum(y * probe): a generic upstream gradient
  models::BatchNorm2d reference(3);
  auto x_ref = x.clone().requires_grad_(true);
  auto y_ref = reference->forward(x_ref);
  (y_ref * probe).sum().backward();
  reference->eval();
  const auto evaluated = reference->forward(x).detach();

  run_ranks([&](Communicator& c) {
    models::BatchNorm2d norm(3);
    norm->synchronize_with(&c);
    auto mine = share(x, c.rank()).clone().requires_grad_(true);
    auto y = norm->forward(mine);
    EXPECT_TRUE(torch::allclose(y, share(y_ref, c.rank()), 1e-5, 1e-5));
    (y * share(probe, c.rank())).sum().backward();
    EXPECT_TRUE(torch::allclose(mine.grad(), share(x_ref.grad(), c.rank()), 1e-5, 1e-5));
    auto weight_grad = norm->weight.grad().clone();
    auto bias_grad = norm->bias.grad().clone();
    c.all_reduce_sum(weight_grad);
    c.all_reduce_sum(bias_grad);
    EXPECT_TRUE(torch::allclose(weight_grad, reference->weight.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(bias_grad, reference->bias.grad(), 1e-4, 1e-5));
    EXPECT_TRUE(torch::allclose(norm->running_mean, reference->running_mean, 1e-6, 1e-6));
    EXPECT_TRUE(torch::allclose(norm->running_var, reference->running_var, 1e-6, 1e-6));
    norm->eval();  // evaluation: the running statistics, no communication
    EXPECT_TRUE(torch::allclose(norm->forward(x), evaluated, 1e-5, 1e-5));
  });
}

TEST(Communicator, ADeadRankFailsTheOthersWithinTheTimeoutNamingTheRank) {
  const auto started = std::chrono::steady_clock::now();
  try {
    run_ranks(
        [](Communicator& c) {
          if (c.rank() == 1) return;  // leaves: its process group closes
          auto t = torch::ones({4});
          c.all_reduce_sum(t);
        },
        std::chrono::seconds(5));
    FAIL() << "rank 0's all-reduce should have failed";
  } catch (const DistributedError& e) {
    EXPECT_THAT(e.what(), HasSubstr("rank 0 of 2: all-reduce failed"));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(15));
}

}  // namespace
}  // namespace isda::distributed
