#include "gan/class_consistency.h"

#include "train/random_streams.h"

#include <ATen/CPUGeneratorImpl.h>

namespace isda::gan {
namespace {

namespace nn = torch::nn;

constexpr uint64_t kJudgeStream = 0x1d6e;   // the judge's weights and order
constexpr uint64_t kJudgedStream = 0x1d6f;  // the generated images it judges
constexpr int64_t kJudgeBatch = 64;
constexpr int64_t kDrawBatch = 32;         // as a classifier draws them beside 128 real images
constexpr int64_t kEvaluationBatch = 500;

nn::Sequential make_judge(int64_t channels, int64_t size, int64_t classes) {
  const int64_t side = size / 4;
  return nn::Sequential(nn::Conv2d(nn::Conv2dOptions(channels, 32, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Conv2d(nn::Conv2dOptions(32, 64, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(2),
                        nn::Flatten(), nn::Linear(64 * side * side, classes));
}

// The share of `images` (on any device; [-1, 1]) that `judge` puts in their label.
double accuracy(nn::Sequential& judge, const torch::Tensor& images, const torch::Tensor& labels) {
  torch::NoGradGuard no_grad;
  judge->eval();
  const auto device = judge->parameters().front().device();
  int64_t right = 0;
  for (int64_t b = 0; b < images.size(0); b += kEvaluationBatch) {
    const int64_t n = std::min(kEvaluationBatch, images.size(0) - b);
    const auto predicted = judge->forward(images.narrow(0, b, n).to(device)).argmax(1);
    right += predicted.eq(labels.narrow(0, b, n).to(device)).sum().item<int64_t>();
  }
  return static_cast<double>(right) / static_cast<double>(images.size(0));
}

}  // namespace

ClassConsistency measure_class_consistency(GeneratorBank& bank, const torch::Tensor& train_images,
                                           const torch::Tensor& train_labels, const torch::Tensor& test_images,
                                           const torch::Tensor& test_labels, uint64_t seed) {
  const auto& shape = bank.shape();
  const auto device = train_images.device();
  torch::manual_seed(train::mix(seed, kJudgeStream));
  auto judge = make_judge(shape.channels, shape.size, shape.classes);
  judge->to(device);
  torch::optim::Adam optimizer(judge->parameters(), torch::optim::AdamOptions(1e-3));
  auto order_rng = at::detail::createCPUGenerator(train::mix(seed, kJudgeStream));
  const int64_t n = train_images.size(0);
  const int64_t batch = std::min(kJudgeBatch, n);
  const auto labels = train_labels.to(device);
  for (int64_t epoch = 0; epoch < kJudgeEpochs; ++epoch) {
    judge->train();
    const auto order = torch::randperm(n, order_rng, torch::kInt64).to(device);
    for (int64_t b = 0; b + batch <= n; b += batch) {
      const auto index = order.narrow(0, b, batch);
      optimizer.zero_grad();
      torch::nn::functional::cross_entropy(judge->forward(train_images.index_select(0, index)), labels.index_select(0, index))
          .backward();
      optimizer.step();
    }
  }

  ClassConsistency measured;
  if (test_images.defined() && test_images.size(0) > 0) measured.judge_test_accuracy = accuracy(judge, test_images, test_labels);
  auto draw_rng = at::detail::createCPUGenerator(train::mix(seed, kJudgedStream));
  const int64_t per_class = std::max<int64_t>(1, kConsistencyImages / shape.classes);
  const auto wanted = torch::arange(per_class * shape.classes, torch::kInt64).remainder(shape.classes);
  const auto judged_labels = wanted.index_select(0, torch::randperm(wanted.size(0), draw_rng, torch::kInt64));
  std::vector<torch::Tensor> images;
  for (int64_t b = 0; b < judged_labels.size(0); b += kDrawBatch) {
    const auto labels_here = judged_labels.narrow(0, b, std::min(kDrawBatch, judged_labels.size(0) - b));
    // Through uint8 pixels, as a classifier gets them.
    images.push_back(to_uint8(bank.sample(labels_here, draw_rng)).to(torch::kFloat32) / 127.5 - 1);
  }
  measured.consistency = accuracy(judge, torch::cat(images), judged_labels);
  return measured;
}

}  // namespace isda::gan
