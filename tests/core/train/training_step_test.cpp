#include "train/training_step.h"

#include "common/exit_codes.h"

#include "isda/isda_loss.h"
#include "models/registry.h"
#include "train/trainer.h"

#include <ATen/CPUGeneratorImpl.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

namespace isda::train {
namespace {

using ::testing::HasSubstr;

constexpr int64_t kClasses = 10;

std::shared_ptr<models::Classifier> model_with_seed(uint64_t seed) {
  torch::manual_seed(seed);
  models::ModelOptions options;
  options.num_classes = kClasses;
  options.in_channels = 3;
  return models::make_model("resnet8", options);
}

torch::optim::SGD sgd_of(models::Classifier& model) {
  return torch::optim::SGD(model.parameters(),
                           torch::optim::SGDOptions(0.05).momentum(0.9).nesterov(true).weight_decay(1e-4));
}

struct Batch {
  torch::Tensor images, labels;
};

// Batches of random images whose labels never include the last class (an absent class keeps its state).
std::vector<Batch> batches(int count, int64_t n) {
  auto generator = at::detail::createCPUGenerator(17);
  std::vector<Batch> all;
  for (int i = 0; i < count; ++i) {
    all.push_back({torch::randn({n, 3, 16, 16}, generator, torch::kFloat32),
                   torch::randint(0, kClasses - 1, {n}, generator, torch::kInt64)});
  }
  return all;
}

// The trainer's ordinary step (trainer.cpp: step_loss, then zero_grad, backward, SGD), written out.
StepResult ordinary_step(models::Classifier& model, torch::optim::SGD& sgd, CovarianceEstimator* estimator,
                         const Batch& batch, double lambda) {
  const auto features = model.features(batch.images).to(torch::kFloat32);
  auto& head = model.head();
  torch::Tensor loss, logits;
  if (estimator) {
    auto out = isda_loss(*estimator, features, head->weight, head->bias, batch.labels, lambda);
    loss = out.loss;
    logits = out.logits;
  } else {
    logits = head->forward(features);
    loss = torch::nn::functional::cross_entropy(logits, batch.labels);
  }
  sgd.zero_grad();
  loss.backward();
  sgd.step();
  return {loss.detach(), logits.detach()};
}

// What a CUDA graph captures, run eagerly on the CPU, trains as the ordinary ISDA step does: the same
// losses, logits, weights and estimator state up to rounding (the merge sums in another order).
TEST(TrainingStep, StaticIsdaStepMatchesTheOrdinaryStep) {
  auto ordinary_model = model_with_seed(4);
  auto static_model = model_with_seed(4);
  auto ordinary_sgd = sgd_of(*ordinary_model);
  auto static_sgd = sgd_of(*static_model);
  CovarianceEstimator ordinary_estimator(CovarianceKind::kFull, kClasses, ordinary_model->feature_dim());
  CovarianceEstimator static_estimator(CovarianceKind::kFull, kClasses, static_model->feature_dim());
  TrainingStep step(*static_model, static_sgd, &static_estimator, torch::kCPU, {});
  int i = 0;
  for (const auto& batch : batches(6, 24)) {
    const double lambda = 0.2 * i++;  // from 0: plain cross-entropy, then growing
    const auto expected = ordinary_step(*ordinary_model, ordinary_sgd, &ordinary_estimator, batch, lambda);
    const auto got = step.run(batch.images, batch.labels, lambda);
    EXPECT_NEAR(got.loss.item<double>(), expected.loss.item<double>(), 1e-5) << "step " << i;
    EXPECT_TRUE(torch::allclose(got.logits, expected.logits, 1e-4, 1e-5)) << "step " << i;
  }
  const auto a = ordinary_model->parameters();
  const auto b = static_model->parameters();
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(torch::allclose(b[k], a[k], 1e-4, 1e-6)) << "parameter " << k;
  for (int64_t c = 0; c < kClasses; ++c) {
    EXPECT_EQ(static_estimator.count(c), ordinary_estimator.count(c)) << "class " << c;
    EXPECT_TRUE(torch::allclose(static_estimator.covariance(c), ordinary_estimator.covariance(c), 1e-9, 1e-12)) << c;
    EXPECT_TRUE(torch::allclose(static_estimator.mean(c), ordinary_estimator.mean(c), 1e-9, 1e-12)) << c;
  }
  EXPECT_EQ(static_estimator.count(kClasses - 1), 0);
}

// Without ISDA the static step is the ordinary one, operation for operation: bit for bit.
TEST(TrainingStep, StaticCrossEntropyStepIsTheOrdinaryStepBitForBit) {
  auto ordinary_model = model_with_seed(6);
  auto static_model = model_with_seed(6);
  auto ordinary_sgd = sgd_of(*ordinary_model);
  auto static_sgd = sgd_of(*static_model);
  TrainingStep step(*static_model, static_sgd, nullptr, torch::kCPU, {});
  for (const auto& batch : batches(4, 16)) {
    const auto expected = ordinary_step(*ordinary_model, ordinary_sgd, nullptr, batch, 0.5);
    const auto got = step.run(batch.images, batch.labels, 0.5);
    EXPECT_TRUE(torch::equal(got.loss, expected.loss));
  }
  const auto a = ordinary_model->parameters();
  const auto b = static_model->parameters();
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(torch::equal(b[k], a[k])) << "parameter " << k;
}

// The estimator's merge over all classes (no host synchronisation) equals its ordinary merge for
// every covariance kind.
TEST(TrainingStep, EstimatorMergeOverAllClassesEqualsTheOrdinaryMerge) {
  for (const auto kind : {CovarianceKind::kFull, CovarianceKind::kDiagonal, CovarianceKind::kSingle, CovarianceKind::kIdentity}) {
    CovarianceEstimator ordinary(kind, kClasses, 8);
    CovarianceEstimator all_classes(kind, kClasses, 8);
    auto generator = at::detail::createCPUGenerator(23);
    for (int b = 0; b < 5; ++b) {
      const auto labels = torch::randint(0, kClasses - 2, {20}, generator, torch::kInt64);
      const auto x = torch::randn({20, 8}, generator, torch::kFloat64) * (1.0 + labels.unsqueeze(1).to(torch::kFloat64));
      ordinary.update(x, labels);
      all_classes.update_all_classes(x, labels);
    }
    for (int64_t c = 0; c < kClasses; ++c) {
      EXPECT_EQ(all_classes.count(c), ordinary.count(c)) << to_string(kind) << " class " << c;
      EXPECT_TRUE(torch::allclose(all_classes.covariance(c), ordinary.covariance(c), 1e-10, 1e-12)) << to_string(kind) << c;
      if (kind != CovarianceKind::kIdentity) {
        EXPECT_TRUE(torch::allclose(all_classes.mean(c), ordinary.mean(c), 1e-10, 1e-12)) << to_string(kind) << c;
      }
    }
    EXPECT_GT(ordinary.covariance(0).abs().sum().item<double>(), 0.0) << "the batches must have been merged";
  }
}

TEST(TrainingStep, CaptureNeedsACudaDevice) {
  auto model = model_with_seed(1);
  auto sgd = sgd_of(*model);
  TrainingStep::Options options;
  options.capture = true;
  options.batch_size = 8;
  EXPECT_THROW(TrainingStep(*model, sgd, nullptr, torch::kCPU, options), std::logic_error);
}

// cuda_graph on the CPU is one config error naming the key, whether the device is named or "auto"
// finds no GPU; the graph keys are execution keys, so a run's id ignores them.
TEST(TrainingStep, CudaGraphOnTheCpuIsAConfigErrorNamingTheKey) {
  try {
    config_from_json({{"cuda_graph", true}, {"device", "cpu"}}, "run.json");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("run.json: cuda_graph: needs a CUDA device"));
  }
  try {
    config_from_json({{"cuda_graph", true}, {"method", "focal"}}, "run.json");
    ADD_FAILURE() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("run.json: cuda_graph: captures the ce and isda steps only"));
  }
  if (!torch::cuda::is_available()) {
    TrainConfig config;
    config.cuda_graph = true;  // device auto: the CPU here
    try {
      train(config);
      ADD_FAILURE() << "expected a ConfigError";
    } catch (const RunFailure& e) {
      EXPECT_EQ(e.failure().exit_code, kExitUsage);
      EXPECT_THAT(e.what(), HasSubstr("cuda_graph: "));
      EXPECT_THAT(e.what(), HasSubstr("needs a CUDA device"));
    }
  }
}

TEST(TrainingStep, GraphAndDeterminismAreExecutionKeysThatLeaveTheRunIdAlone) {
  EXPECT_TRUE(is_execution_key("cuda_graph"));
  EXPECT_TRUE(is_execution_key("deterministic"));
  CanonicalJsonWriter writer;
  TrainConfig plain;
  TrainConfig graphed = plain;
  graphed.cuda_graph = true;
  graphed.deterministic = true;
  std::string text;
  const std::string plain_identity = writer.write(plain, text);
  const std::string graphed_identity = writer.write(graphed, text);
  EXPECT_EQ(graphed_identity, plain_identity);
  EXPECT_THAT(text, HasSubstr("\"cuda_graph\":true"));
}

}  // namespace
}  // namespace isda::train
