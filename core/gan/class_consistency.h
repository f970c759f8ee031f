#pragma once
// How faithful a generator run's labels are: the share of its images that an independent judge
// classifier assigns to the label they were generated for (chance: 1 / classes), beside that judge's
// accuracy on real test images (the ceiling of the first). Measured by every generator run at its
// end and recorded in its result (`class_consistency`, `judge_test_accuracy`).
//
// The judge is a small fixed CNN trained inside the generator run on the run's own training images
// (never on generated ones), so it needs no other run:
//   Conv 3x3 to 32, ReLU, MaxPool 2 -> Conv 3x3 to 64, ReLU, MaxPool 2 -> Linear to the classes,
//   kJudgeEpochs epochs of Adam (lr 1e-3), batch 64, seeded by the run's seed.
// The images judged: kConsistencyImages, the same number of each class (CIFAR-100: 20 each), drawn
// in batches of 32 as a classifier draws them (BatchNorm on the batch), through uint8 pixels.

#include "gan/generated_images.h"

#include <torch/torch.h>

#include <cstdint>
#include <limits>

namespace isda::gan {

inline constexpr int64_t kJudgeEpochs = 5;
inline constexpr int64_t kConsistencyImages = 2000;

struct ClassConsistency {
  double consistency = std::numeric_limits<double>::quiet_NaN();
  double judge_test_accuracy = std::numeric_limits<double>::quiet_NaN();  // NaN without test images
};

// Trains the judge on `train_images` (N, C, H, W) in [-1, 1] with `train_labels` (int64), measures
// it on `test_images` / `test_labels` (undefined or empty: no test accuracy) and on images of `bank`.
// Deterministic on the CPU for a given `seed`; draws from torch's default generator are made under
// a seed of its own (the run's state is not used after this).
ClassConsistency measure_class_consistency(GeneratorBank& bank, const torch::Tensor& train_images,
                                           const torch::Tensor& train_labels, const torch::Tensor& test_images,
                                           const torch::Tensor& test_labels, uint64_t seed);

}  // namespace isda::gan
