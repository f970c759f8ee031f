// Data-parallel building blocks over real Gloo process groups, with the ranks as threads of this
// process: the gradient all-reduce, the ISDA estimator merged over the global batch (float64, to
// 1e-10 of one process's), synchronised BatchNorm against BatchNorm over the global batch, and a
// dead rank failing the others within the timeout.

#include "distributed/communicator.h"
#include "distributed/estimator_sync.h"
#include "distributed/gradient_reducer.h"
#include "distributed/launcher.h"
#include "models/batch_norm.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <chrono>
#include <exception>
#include <functional>
#include <thread>
#include <vector>

namespace isda::distributed {
namespace {

using ::testing::HasSubstr;

constexpr int kRanks = 2;

// Runs `body(communicator)` on kRanks threads, one Gloo rank each; rethrows the first failure.
void run_ranks(const std::function<void(Communicator&)>& body, std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  const int port = free_local_port();
  std::vector<std::exception_ptr> errors(kRanks);
  std::vector<std::thread> threads;
  for (int r = 0; r < kRanks; ++r) {
    threads.emplace_back([&, r] {
      try {
        World world;
        world.rank = r;
        world.size = kRanks;
        world.master_port = port;
        Communicator communicator(world, torch::kCPU, timeout);
        body(communicator);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
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
