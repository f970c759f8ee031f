// CUDA against CPU (label `gpu`): each test skips where LibTorch sees no CUDA device. They are
// compiled and run everywhere, so that the first machine with a GPU (scripts/gpu-check.sh) finds
// them building; there they check that the suite computes on CUDA what it computes on the CPU.
#include "data/augment.h"
#include "data/datasets.h"
#include "distributed/communicator.h"
#include "distributed/gradient_reducer.h"
#include "distributed/launcher.h"
#include "isda/isda_loss.h"
#include "models/batch_norm.h"
#include "models/registry.h"
#include "support/idx_files.h"
#include "support/run_logs.h"
#include "support/subprocess.h"
#include "support/torch_compat.h"
#include "train/trainer.h"
#include "train/training_step.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <torch/torch.h>

#include <chrono>
#include <fstream>
#include <thread>

namespace isda {
namespace {

#define SKIP_WITHOUT_CUDA()                                                   \
  if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device"; \
  static_cast<void>(0)

constexpr int64_t kClasses = 10;
constexpr int64_t kDim = 64;
constexpr int64_t kBatch = 128;

// An estimator (on `device`, float64 state) that has seen a few batches of distinct covariances.
CovarianceEstimator trained_estimator(CovarianceKind kind, torch::Device device) {
  CovarianceEstimator estimator(kind, kClasses, kDim, device);
  auto generator = at::detail::createCPUGenerator(7);
  for (int b = 0; b < 5; ++b) {
    const auto labels = torch::randint(0, kClasses, {kBatch}, generator, torch::kInt64);
    const auto x = torch::randn({kBatch, kDim}, generator, torch::kFloat64) *
                   (1.0 + labels.unsqueeze(1).to(torch::kFloat64) / kClasses);
    estimator.update(x.to(device), labels.to(device));
  }
  return estimator;
}

// Loss and gradients (features, W, b) of the ISDA loss after one estimator update, on `device` in
// `dtype`, from the same float64 CPU data; the results come back as float64 CPU tensors.
std::vector<torch::Tensor> isda_loss_and_gradients(CovarianceKind kind, torch::Device device, torch::Dtype dtype,
                                                   bool distinct) {
  auto estimator = trained_estimator(kind, device);
  estimator.set_distinct_label_mode(distinct);
  auto generator = at::detail::createCPUGenerator(11);
  const auto options = torch::TensorOptions().dtype(dtype).device(device);
  const auto features = torch::randn({kBatch, kDim}, generator, torch::kFloat64).to(options).requires_grad_();
  const auto weight = (0.3 * torch::randn({kClasses, kDim}, generator, torch::kFloat64)).to(options).requires_grad_();
  const auto bias = torch::randn({kClasses}, generator, torch::kFloat64).to(options).requires_grad_();
  const auto labels = torch::randint(0, kClasses - 1, {kBatch}, generator, torch::kInt64).to(device);  // class 9 absent
  const auto out = isda_loss(estimator, features, weight, bias, labels, 0.75);
  auto grads = torch::autograd::grad({out.loss}, {features, weight, bias});
  std::vector<torch::Tensor> all = {out.loss.detach()};
  for (auto& g : grads) all.push_back(g);
  for (auto& t : all) t = t.to(torch::kCPU, torch::kFloat64);
  return all;
}

// The ISDA loss and its gradients on CUDA in float32 equal the CPU float64 reference (itself checked
// against Eq. 4 written out sample by sample in tests/core/isda) to float32 accuracy.
TEST(CudaChecks, IsdaLossAndGradientsOnCudaFloat32MatchTheCpuFloat64Reference) {
  SKIP_WITHOUT_CUDA();
  for (const auto kind : {CovarianceKind::kFull, CovarianceKind::kDiagonal, CovarianceKind::kSingle, CovarianceKind::kIdentity}) {
    for (const bool distinct : {false, true}) {
      const auto reference = isda_loss_and_gradients(kind, torch::kCPU, torch::kFloat64, distinct);
      const auto cuda = isda_loss_and_gradients(kind, torch::kCUDA, torch::kFloat32, distinct);
      for (size_t k = 0; k < reference.size(); ++k) {
        const double scale = reference[k].abs().max().item<double>();
        const double error = (cuda[k] - reference[k]).abs().max().item<double>();
        EXPECT_LE(error, 1e-4 * std::max(scale, 1.0))
            << to_string(kind) << (distinct ? " distinct" : " all classes") << ", output " << k << " (0: loss)";
      }
    }
  }
}

// The estimator's static merge (what a CUDA graph captures) on CUDA equals the ordinary one on CPU.
// Data parallel on CUDA (core/distributed): one NCCL rank, since one GPU cannot host two. Its
// collectives (host tensors staged through the device), and a step through the gradient reducer
// with synchronised BatchNorm, which must give the gradients of the plain step.
TEST(CudaChecks, OneNcclRankReducesGathersAndTrainsLikeOneProcess) {
  SKIP_WITHOUT_CUDA();
  const torch::Device device(torch::kCUDA, 0);
  const auto reason = distributed::unavailable_reason(device);
  ASSERT_TRUE(reason.empty()) << reason;
  distributed::World world;
  world.master_port = distributed::free_local_port();
  distributed::Communicator communicator(world, device, std::chrono::seconds(60));
  auto values = torch::arange(4, torch::TensorOptions().dtype(torch::kFloat32).device(device));
  communicator.all_reduce_sum(values);
  EXPECT_TRUE(torch::equal(values.cpu(), torch::arange(4, torch::kFloat32)));
  auto host = torch::tensor({int64_t{3}});
  communicator.all_reduce_max(host);
  EXPECT_EQ(host.item<int64_t>(), 3);
  EXPECT_EQ(communicator.all_gather(values).sizes(), (std::vector<int64_t>{1, 4}));

  models::ModelOptions options;
  options.num_classes = kClasses;
  torch::manual_seed(0);
  auto plain = models::make_model("resnet8", options);
  torch::manual_seed(0);
  auto reduced = models::make_model("resnet8", options);
  plain->to(device);
  reduced->to(device);
  models::synchronize_batch_norm(*reduced, &communicator);
  distributed::GradientReducer reducer(reduced->parameters(), communicator);
  const auto images = torch::randn({16, 3, 32, 32}, device);
  const auto labels = torch::randint(0, kClasses, {16}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  torch::nn::functional::cross_entropy(plain->forward(images), labels).backward();
  torch::nn::functional::cross_entropy(reduced->forward(images), labels).backward();
  reducer.finish();
  const auto a = plain->parameters();
  const auto b = reduced->parameters();
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_TRUE(torch::allclose(a[i].grad().cpu(), b[i].grad().cpu(), 1e-4, 1e-5)) << "parameter " << i;
  }
}

TEST(CudaChecks, EstimatorMergeOfAllClassesOnCudaMatchesTheCpu) {
  SKIP_WITHOUT_CUDA();
  CovarianceEstimator cpu(CovarianceKind::kFull, kClasses, kDim, torch::kCPU);
  CovarianceEstimator cuda(CovarianceKind::kFull, kClasses, kDim, torch::kCUDA);
  auto generator = at::detail::createCPUGenerator(3);
  for (int b = 0; b < 4; ++b) {
    const auto labels = torch::randint(0, kClasses - 2, {kBatch}, generator, torch::kInt64);
    const auto x = torch::randn({kBatch, kDim}, generator, torch::kFloat64);
    cpu.update(x, labels);
    cuda.update_all_classes(x.to(torch::kCUDA), labels.to(torch::kCUDA));
  }
  for (int64_t c = 0; c < kClasses; ++c) {
    EXPECT_EQ(cuda.count(c), cpu.count(c)) << "class " << c;
    EXPECT_TRUE(torch::allclose(cuda.covariance(c).cpu(), cpu.covariance(c), 1e-9, 1e-12)) << "class " << c;
    EXPECT_TRUE(torch::allclose(cuda.mean(c).cpu(), cpu.mean(c), 1e-9, 1e-12)) << "class " << c;
  }
}

std::shared_ptr<models::Classifier> small_model(int64_t seed, torch::Device device) {
  torch::manual_seed(seed);
  models::ModelOptions options;
  options.num_classes = kClasses;
  options.in_channels = 3;
  auto model = models::make_model("resnet8", options);
  model->to(device);
  return model;
}

torch::optim::SGD sgd(models::Classifier& model, double lr) {
  return torch::optim::SGD(model.parameters(), torch::optim::SGDOptions(lr).momentum(0.9).nesterov(true).weight_decay(1e-4));
}

// The bf16 autocast step trains: the loss falls, nothing is NaN, the estimator's state stays float64
// and the head float32.
TEST(CudaChecks, Bf16AutocastStepTrainsAndKeepsTheEstimatorInItsDtype) {
  SKIP_WITHOUT_CUDA();
  auto model = small_model(1, torch::kCUDA);
  auto optimizer = sgd(*model, 0.05);
  CovarianceEstimator estimator(CovarianceKind::kFull, kClasses, model->feature_dim(), torch::kCUDA);
  train::TrainingStep step(*model, optimizer, &estimator, torch::kCUDA, {/*bf16=*/true});
  auto generator = at::detail::createCPUGenerator(5);
  const auto labels = torch::randint(0, kClasses, {64}, generator, torch::kInt64);
  const auto templates = torch::randn({kClasses, 3, 16, 16}, generator, torch::kFloat32);
  const auto images = (templates.index_select(0, labels) + 0.3 * torch::randn({64, 3, 16, 16}, generator)).to(torch::kCUDA);
  std::vector<double> losses;
  for (int i = 0; i < 30; ++i) {
    const auto out = step.run(images, labels.to(torch::kCUDA), 0.1);  // one batch, learnt by heart
    losses.push_back(out.loss.item<double>());
    ASSERT_TRUE(std::isfinite(losses.back())) << "step " << i;
  }
  EXPECT_LT(losses.back(), 0.5 * losses.front());
  EXPECT_EQ(estimator.covariance(0).scalar_type(), torch::kFloat64);
  EXPECT_EQ(estimator.mean(0).scalar_type(), torch::kFloat64);
  EXPECT_EQ(model->head()->weight.scalar_type(), torch::kFloat32);
  EXPECT_TRUE(torch::isfinite(estimator.covariance(0)).all().item<bool>());
}

// Pad-crop-flip, Cutout and AutoAugment draw their parameters on the CPU, so the same seed gives the
// same images on CUDA as on the CPU: the geometric ones exactly, AutoAugment's colour arithmetic
// up to float32 rounding.
TEST(CudaChecks, AugmentationGivesTheSameImagesOnCudaAsOnTheCpu) {
  SKIP_WITHOUT_CUDA();
  auto generator = at::detail::createCPUGenerator(9);
  const auto images = torch::randint(0, 256, {64, 3, 32, 32}, generator, torch::kInt64).to(torch::kUInt8);
  const auto norm = data::normalization_for("cifar10");
  for (const char* name : {"standard", "cutout", "autoaugment"}) {
    data::BatchAugmenter cpu(data::parse_augment_kind(name), norm, 42);
    data::BatchAugmenter cuda(data::parse_augment_kind(name), norm, 42);
    for (int batch = 0; batch < 3; ++batch) {
      const auto a = cpu.train_batch(images);
      const auto b = cuda.train_batch(images.to(torch::kCUDA)).cpu();
      ASSERT_EQ(a.sizes(), b.sizes());
      const auto differing = (a - b).abs().gt(1e-4).to(torch::kFloat64).mean().item<double>();
      if (std::string(name) == "autoaugment") {
        EXPECT_LT(differing, 1e-3) << name << " batch " << batch;
      } else {
        EXPECT_EQ(differing, 0.0) << name << " batch " << batch;
        EXPECT_TRUE(torch::allclose(a, b, 1e-6, 1e-6)) << name << " batch " << batch;
      }
    }
  }
}

// A captured CUDA graph replays the static step: the same losses and weights as running that step
// eagerly, a new capture when the learning rate changes, an epoch's odd last batch run eagerly.
TEST(CudaChecks, CudaGraphStepEqualsTheEagerStaticStep) {
  SKIP_WITHOUT_CUDA();
  ASSERT_TRUE(compat::kHasCudaGraphs) << "this LibTorch has CUDA but the build found no CUDA graph headers";
  auto eager_model = small_model(2, torch::kCUDA);
  auto graph_model = small_model(2, torch::kCUDA);
  auto eager_sgd = sgd(*eager_model, 0.05);
  auto graph_sgd = sgd(*graph_model, 0.05);
  CovarianceEstimator eager_estimator(CovarianceKind::kFull, kClasses, eager_model->feature_dim(), torch::kCUDA);
  CovarianceEstimator graph_estimator(CovarianceKind::kFull, kClasses, graph_model->feature_dim(), torch::kCUDA);
  train::TrainingStep eager(*eager_model, eager_sgd, &eager_estimator, torch::kCUDA, {});
  train::TrainingStep::Options options;
  options.capture = true;
  options.batch_size = 32;
  options.warmup_steps = 2;
  train::TrainingStep graphed(*graph_model, graph_sgd, &graph_estimator, torch::kCUDA, options);
  auto generator = at::detail::createCPUGenerator(13);
  for (int i = 0; i < 12; ++i) {
    if (i == 8) {  // an LR milestone
      for (auto* optimizer : {&eager_sgd, &graph_sgd}) {
        for (auto& group : optimizer->param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(0.005);
      }
    }
    const int64_t n = i == 6 ? 20 : 32;  // one short batch, as at an epoch's end
    const auto images = torch::randn({n, 3, 16, 16}, generator).to(torch::kCUDA);
    const auto labels = torch::randint(0, kClasses, {n}, generator, torch::kInt64).to(torch::kCUDA);
    const double lambda = 0.1 * i;
    const auto a = eager.run(images, labels, lambda);
    const auto b = graphed.run(images, labels, lambda);
    EXPECT_NEAR(b.loss.item<double>(), a.loss.item<double>(), 1e-4 * std::abs(a.loss.item<double>())) << "step " << i;
    EXPECT_TRUE(torch::allclose(b.logits, a.logits, 1e-3, 1e-4)) << "step " << i;
  }
  EXPECT_EQ(graphed.captures(), 2);
  EXPECT_EQ(graphed.replays(), 12 - 2 - 1);
  const auto a = eager_model->parameters();
  const auto b = graph_model->parameters();
  for (size_t k = 0; k < a.size(); ++k) EXPECT_TRUE(torch::allclose(b[k], a[k], 1e-3, 1e-5)) << "parameter " << k;
  EXPECT_TRUE(torch::allclose(graph_estimator.covariance(3), eager_estimator.covariance(3), 1e-9, 1e-12));
}

// --- isda-train on CUDA, driven as a user would ------------------------------------------------


std::string result_line(const std::string& text) {
  const auto at = text.find("result:");
  return at == std::string::npos ? "" : text.substr(at);
}

using testing::epoch_lines;
using testing::logged_epochs;

class CudaTrainBinary : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    testing::write_synthetic_fashion_mnist(dir_.path().string(), 1280, 200, 4);
  }
  // isda-train on CUDA, deterministic unless `extra` says otherwise (a later flag wins).
  std::vector<std::string> command(const std::string& run_dir, int seed, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {ISDA_TRAIN_BINARY, "--data-root", dir_.path().string(), "--model", "resnet8",
                                     "--epochs", "4", "--batch-size", "64", "--device", "cuda", "--method", "isda",
                                     "--lr-milestones", "2", "--seed", std::to_string(seed), "--deterministic", "true",
                                     "--run-dir", run_dir};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  testing::ScratchDir dir_;
};

// kill -9 once the first epoch is logged, rerun: the metrics equal an uninterrupted run's.
TEST_F(CudaTrainBinary, KilledAndResumedRunGivesTheMetricsOfAnUninterruptedOne) {
  const auto straight = testing::run_process(command(dir_.file("straight"), 5));
  ASSERT_EQ(straight.exit_code, 0) << straight.err;
  const auto run_dir = dir_.file("killed");
  const auto events = run_dir + "/events.jsonl";
  const auto pid = testing::start_process(command(run_dir, 5), dir_.file("out.txt"), dir_.file("err.txt"));
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while (logged_epochs(events) < 1 && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  kill(pid, SIGKILL);
  EXPECT_EQ(testing::wait_process(pid), 128 + SIGKILL);
  ASSERT_LT(logged_epochs(events), 4) << "the kill should have landed before the end";
  const auto resumed = testing::run_process(command(run_dir, 5));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  EXPECT_EQ(logged_epochs(events), 4);
  const auto expected = epoch_lines(straight.out);
  const auto got = epoch_lines(resumed.out);
  ASSERT_FALSE(got.empty());
  EXPECT_EQ(got.back(), expected.back());
  EXPECT_EQ(result_line(resumed.out), result_line(straight.out));
}

// K workers sharing one GPU each give the metrics they give alone (deterministic mode).
TEST_F(CudaTrainBinary, PackedWorkersGiveTheMetricsTheyGiveAlone) {
  constexpr int kWorkers = 3;
  std::vector<std::string> alone;
  for (int k = 0; k < kWorkers; ++k) {
    const auto out = testing::run_process(command(dir_.file("alone" + std::to_string(k)), 20 + k));
    ASSERT_EQ(out.exit_code, 0) << out.err;
    alone.push_back(out.out);
  }
  std::vector<pid_t> pids;
  for (int k = 0; k < kWorkers; ++k) {
    const auto name = "packed" + std::to_string(k);
    pids.push_back(testing::start_process(command(dir_.file(name), 20 + k), dir_.file(name + ".out"), dir_.file(name + ".err")));
  }
  for (int k = 0; k < kWorkers; ++k) {
    ASSERT_EQ(testing::wait_process(pids[static_cast<size_t>(k)]), 0) << "worker " << k;
    std::ifstream in(dir_.file("packed" + std::to_string(k) + ".out"));
    const std::string packed((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(epoch_lines(packed), epoch_lines(alone[static_cast<size_t>(k)])) << "worker " << k;
    EXPECT_EQ(result_line(packed), result_line(alone[static_cast<size_t>(k)])) << "worker " << k;
  }
}

// A whole run with the step captured in a CUDA graph trains as the ordinary one does.
TEST_F(CudaTrainBinary, ARunWithTheStepInACudaGraphTrains) {
  // Not deterministic: the graph is captured with the kernels an ordinary run uses.
  const auto plain = testing::run_process(command(dir_.file("plain"), 7, {"--deterministic", "false"}));
  const auto graphed = testing::run_process(
      command(dir_.file("graphed"), 7, {"--deterministic", "false", "--cuda-graph", "true"}));
  ASSERT_EQ(plain.exit_code, 0) << plain.err;
  ASSERT_EQ(graphed.exit_code, 0) << graphed.err;
  const auto a = epoch_lines(plain.out);
  const auto b = epoch_lines(graphed.out);
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  // Same data, seed and formulas up to rounding: the last epoch's training loss within 10%.
  const auto loss_of = [](const std::string& line) { return std::stod(line.substr(line.find(" loss ") + 6)); };
  EXPECT_NEAR(loss_of(b.back()), loss_of(a.back()), 0.1 * loss_of(a.back()) + 0.02) << b.back() << "\n" << a.back();
  EXPECT_LT(loss_of(b.back()), loss_of(b.front()));
}

}  // namespace
}  // namespace isda
