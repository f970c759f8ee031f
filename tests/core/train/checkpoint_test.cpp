// A checkpoint round trip on its own: every piece of state that training reads is restored, so the
// next step after restoring equals the next step without stopping, bit for bit on the CPU.
#include "train/checkpoint.h"

#include "data/datasets.h"
#include "isda/isda_loss.h"
#include "models/registry.h"
#include "train/run_directory.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

namespace isda::train {
namespace {

using ::testing::HasSubstr;

// Everything one training run holds, built the way the trainer builds it.
struct Training {
  Training() {
    models::ModelOptions options;
    options.in_channels = 1;
    model = models::make_model("resnet8", options);
    optimizer.emplace(model->parameters(), torch::optim::SGDOptions(0.1).momentum(0.9).nesterov(true).weight_decay(5e-4));
    estimator.emplace(parse_covariance_kind("full"), 10, model->feature_dim());
    augmenter.emplace(data::parse_augment_kind("standard"), data::normalization_for("fashion-mnist"), 99);
  }
  CheckpointParts parts() { return {*model, *optimizer, &*estimator, nullptr, *augmenter, torch::Tensor(), 0}; }

  // One ISDA step on a batch this object's augmentation draws; returns the loss.
  double step(const torch::Tensor& images, const torch::Tensor& labels) {
    const auto batch = augmenter->train_batch(images);
    const auto features = model->features(batch);
    auto out = isda_loss(*estimator, features, model->head()->weight, model->head()->bias, labels, 0.5);
    optimizer->zero_grad();
    out.loss.backward();
    optimizer->step();
    return out.loss.item<double>();
  }

  std::shared_ptr<models::Classifier> model;
  std::optional<torch::optim::SGD> optimizer;
  std::optional<CovarianceEstimator> estimator;
  std::optional<data::BatchAugmenter> augmenter;
};

std::pair<torch::Tensor, torch::Tensor> batch_of(int seed) {
  torch::manual_seed(seed);
  return {torch::randint(0, 256, {16, 1, 28, 28}, torch::kUInt8), torch::randint(0, 10, {16}, torch::kInt64)};
}

TEST(Checkpoint, ARestoredRunTakesExactlyTheStepItWouldHaveTaken) {
  Training original;
  const auto [images, labels] = batch_of(1);
  original.step(images, labels);
  torch::manual_seed(42);
  const auto payload = serialize_checkpoint({{"epoch", 3}}, original.parts());

  Training restored;  // other initial weights, no momentum, an empty estimator, another RNG position
  torch::manual_seed(7);
  const auto meta = restore_checkpoint(payload, restored.parts(), "run/checkpoint.pt");
  EXPECT_EQ(meta.at("epoch"), 3);
  const auto restored_draw = torch::rand({4});
  torch::manual_seed(42);
  EXPECT_TRUE(torch::equal(restored_draw, torch::rand({4}))) << "the global CPU generator is restored";
  EXPECT_EQ(restored.estimator->count(labels[0].item<int64_t>()), original.estimator->count(labels[0].item<int64_t>()));

  const auto [next_images, next_labels] = batch_of(2);
  torch::manual_seed(5);
  const double a = original.step(next_images, next_labels);
  torch::manual_seed(5);
  const double b = restored.step(next_images, next_labels);
  EXPECT_EQ(a, b);
  const auto p = original.model->parameters();
  const auto q = restored.model->parameters();
  ASSERT_EQ(p.size(), q.size());
  for (size_t i = 0; i < p.size(); ++i) EXPECT_TRUE(torch::equal(p[i], q[i])) << "parameter " << i;
  for (int64_t c = 0; c < 10; ++c) {
    EXPECT_TRUE(torch::equal(original.estimator->covariance(c), restored.estimator->covariance(c))) << "class " << c;
  }
}

TEST(Checkpoint, ARefusedMetaRestoresNothing) {
  Training original;
  const auto payload = serialize_checkpoint({{"config", {{"lr", 0.1}}}}, original.parts());
  Training other;
  const auto before = other.model->parameters()[0].clone();
  EXPECT_THROW(restore_checkpoint(payload, other.parts(), "run/checkpoint.pt",
                                  [](const nlohmann::json&) { throw CheckpointError("written by another config"); }),
               CheckpointError);
  EXPECT_TRUE(torch::equal(before, other.model->parameters()[0]));
}

TEST(Checkpoint, APayloadThatIsNotACheckpointIsUnreadableNamingThePath) {
  Training training;
  try {
    restore_checkpoint("not a LibTorch archive", training.parts(), "run/checkpoint.pt");
    FAIL() << "garbage was restored";
  } catch (const CheckpointError& e) {
    EXPECT_THAT(e.what(), HasSubstr("run/checkpoint.pt: unreadable ("));
  }
}

}  // namespace
}  // namespace isda::train
