#include "gan/gan_trainer.h"

#include "data/datasets.h"
#include "data/png.h"
#include "gan/class_consistency.h"
#include "gan/gan_step.h"
#include "gan/generated_images.h"
#include "common/run_files.h"
#include "train/checkpoint.h"
#include "train/random_streams.h"
#include "train/run_session.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>

namespace isda::gan {
namespace {

using train::mix;

using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kExplodingLoss = 1e4;
// The run's random streams, derived from its seed (epoch e's order uses salt kOrderStream + e).
constexpr uint64_t kNoiseStream = 0x9a7;    // noise, sampled labels and codes (its state is checkpointed)
constexpr uint64_t kOrderStream = 0x0de7;
constexpr uint64_t kSampleGridSeed = 0x5a3;  // the noise of samples.png
constexpr int64_t kSamplesPerClass = 10;

// One step of an epoch: a batch of real images of one group (all images, or WGAN's one class).
struct Step {
  size_t pair = 0;        // which generator/discriminator pair (WGAN: the class)
  torch::Tensor index;    // rows of the training images
  bool generator_step = true;
};

// The sums of the epoch in progress (zero between epochs); a stop inside an epoch checkpoints them.
struct PartialEpoch {
  double generator_loss_sum = 0;
  int64_t generator_steps = 0;
  double train_seconds = 0;
};

// The generator(s) of config.task and their discriminators, trained by the run harness.
class GeneratorTask : public train::RunTask {
 public:
  explicit GeneratorTask(train::RunSession& session)
      : session_(session), config_(session.config()), device_(session.device()),
        recipe_(recipe_of(parse_gan_kind(config_.task))),
        noise_(at::detail::createCPUGenerator(mix(config_.seed, kNoiseStream))) {
    const auto& config = config_;
    session.activity().set("loading the data");
    const auto root = config.data_root.empty() ? data::default_data_root(config.dataset) : config.data_root;
    auto splits = data::load_dataset(config.dataset, root, config.holdout, config.split_seed, config.train_limit,
                                     config.test_limit);
    // [0, 255] -> [-1, 1], as the generators' tanh.
    images_ = (splits.train.images.to(device_, torch::kFloat32) / 127.5 - 1).contiguous();
    labels_ = splits.train.labels.to(torch::kInt64);
    if (splits.test.images.defined()) {  // for the judge of the class consistency only
      test_images_ = splits.test.images.to(torch::kFloat32) / 127.5 - 1;
      test_labels_ = splits.test.labels.to(torch::kInt64);
    }
    session.activity().set("building the networks");
    shape_.kind = parse_gan_kind(config.task);
    shape_.channels = images_.size(1);
    shape_.size = images_.size(2);
    shape_.classes = splits.train.num_classes;
    shape_.width = config.gan_width;
    bank_.emplace(shape_, device_);
    const size_t pairs = bank_->generators().size();
    for (size_t i = 0; i < pairs; ++i) {
      Discriminator d(shape_);
      d->to(device_);
      discriminators_.push_back(d);
      const auto optimizer = [&](std::vector<torch::Tensor> params) -> std::unique_ptr<torch::optim::Optimizer> {
        if (recipe_.adam) {
          return std::make_unique<torch::optim::Adam>(
              std::move(params), torch::optim::AdamOptions(recipe_.lr).betas({recipe_.beta1, recipe_.beta2}));
        }
        return std::make_unique<torch::optim::RMSprop>(std::move(params), torch::optim::RMSpropOptions(recipe_.lr));
      };
      generator_optimizers_.push_back(optimizer(bank_->generators()[i]->parameters()));
      discriminator_optimizers_.push_back(optimizer(d->parameters()));
    }
    if (shape_.kind == GanKind::kWgan) {
      for (int64_t c = 0; c < shape_.classes; ++c) class_rows_.push_back(labels_.eq(c).nonzero().squeeze(1));
    }
  }

  train::EpochMetrics train_epoch(int64_t epoch, int64_t first_step) override {
    const auto started = Clock::now();
    const auto steps = epoch_steps(epoch);
    const auto count = static_cast<int64_t>(steps.size());
    int64_t images = 0;
    for (int64_t s = first_step; s < count; ++s) {
      session_.activity() = train::Activity{"training", epoch + 1, s + 1, count};
      const double g_loss = take_step(steps[static_cast<size_t>(s)]);
      images += steps[static_cast<size_t>(s)].index.size(0);
      if (!std::isnan(g_loss)) {
        if (!(std::isfinite(g_loss) && std::abs(g_loss) < kExplodingLoss)) {
          throw train::TrainingError(fmt::format("generator loss {} in epoch {} (step {})", g_loss, epoch + 1, s + 1));
        }
        partial_.generator_loss_sum += g_loss;
        ++partial_.generator_steps;
      }
      const int signal = session_.step_finished(epoch, s + 1);
      if (signal != 0 && s + 1 < count) {
        partial_.train_seconds += std::chrono::duration<double>(Clock::now() - started).count();
        session_.stop_within_epoch(signal, epoch, s + 1);
      }
    }
    const double seconds = partial_.train_seconds + std::chrono::duration<double>(Clock::now() - started).count();
    train::EpochMetrics m;
    m.epoch = epoch + 1;
    m.train_loss = partial_.generator_steps > 0 ? partial_.generator_loss_sum / static_cast<double>(partial_.generator_steps) : kNaN;
    m.train_error = m.test_error = m.validation_error = m.test_top5_error = m.lambda = kNaN;
    m.lr = recipe_.lr;
    m.seconds = seconds;
    m.images_per_second = static_cast<double>(images) / std::max(1e-9, std::chrono::duration<double>(Clock::now() - started).count());
    partial_ = PartialEpoch{};
    return m;
  }

  // What the generator makes now, one row per class, always from the same noise (sampling changes
  // no state, so resume is unaffected).
  void after_checkpoint(train::RunDirectory& run_dir) override {
    data::write_png(run_dir.file(run_files::kSamples), sample_grid(*bank_, kSamplesPerClass, kSampleGridSeed));
  }

  // A generator has no errors; it has its class consistency.
  void finish(train::TrainResult& result) override {
    result.final_test_error = result.best_test_error = result.last10_test_error = kNaN;
    result.last10_validation_error = result.last10_test_top5_error = kNaN;
    session_.activity().set("measuring the class consistency");
    const auto measured = measure_class_consistency(*bank_, images_, labels_, test_images_, test_labels_, config_.seed);
    result.class_consistency = measured.consistency;
    result.judge_test_accuracy = measured.judge_test_accuracy;
  }

  // The checkpoint: the shape and partial sums in the meta; every network and optimiser, the noise
  // generator and torch's global CPU generator in the archive.
  void save(nlohmann::json& meta, torch::serialize::OutputArchive& archive) override {
    meta["shape"] = {{"kind", gan_kind_name(shape_.kind)}, {"channels", shape_.channels}, {"size", shape_.size},
                     {"classes", shape_.classes}, {"width", shape_.width}};
    meta["generator_loss_sum"] = partial_.generator_loss_sum;
    meta["generator_steps"] = partial_.generator_steps;
    meta["train_seconds"] = partial_.train_seconds;
    for (size_t i = 0; i < discriminators_.size(); ++i) {
      const auto write = [&](const std::string& key, const auto& saver) {
        torch::serialize::OutputArchive part;
        saver(part);
        archive.write(key, part);
      };
      write(GeneratorBank::archive_key(i), [&](auto& a) { bank_->generators()[i]->save(a); });
      write("discriminator_" + std::to_string(i), [&](auto& a) { discriminators_[i]->save(a); });
      write("generator_optimizer_" + std::to_string(i), [&](auto& a) { generator_optimizers_[i]->save(a); });
      write("discriminator_optimizer_" + std::to_string(i), [&](auto& a) { discriminator_optimizers_[i]->save(a); });
    }
    {
      std::lock_guard<std::mutex> lock(noise_.mutex());
      archive.write("noise_rng", noise_.get_state());
    }
    auto global = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(global.mutex());
    archive.write("cpu_rng", global.get_state());
  }

  void load(const nlohmann::json& meta, torch::serialize::InputArchive& archive) override {
    partial_.generator_loss_sum = meta.at("generator_loss_sum").get<double>();
    partial_.generator_steps = meta.at("generator_steps").get<int64_t>();
    partial_.train_seconds = meta.at("train_seconds").get<double>();
    for (size_t i = 0; i < discriminators_.size(); ++i) {
      const auto read = [&](const std::string& key, const auto& loader) {
        torch::serialize::InputArchive part;
        archive.read(key, part);
        loader(part);
      };
      read(GeneratorBank::archive_key(i), [&](auto& a) { bank_->generators()[i]->load(a); });
      read("discriminator_" + std::to_string(i), [&](auto& a) { discriminators_[i]->load(a); });
      read("generator_optimizer_" + std::to_string(i), [&](auto& a) { generator_optimizers_[i]->load(a); });
      read("discriminator_optimizer_" + std::to_string(i), [&](auto& a) { discriminator_optimizers_[i]->load(a); });
      bank_->generators()[i]->to(device_);
      discriminators_[i]->to(device_);
    }
    torch::Tensor state;
    archive.read("noise_rng", state);
    {
      std::lock_guard<std::mutex> lock(noise_.mutex());
      noise_.set_state(state);
    }
    archive.read("cpu_rng", state);
    auto global = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(global.mutex());
    global.set_state(state);
  }

 private:
  // The epoch's steps: batches of a shuffled order (from the epoch's own generator), the last
  // partial batch dropped as DCGAN does, a generator step after every n_critic discriminator steps.
  // WGAN: each class's pair in turn, its critic taking n_critic passes over the class, so that each
  // class's generator takes one step per batch of its class.
  std::vector<Step> epoch_steps(int64_t epoch) const {
    auto order_rng = at::detail::createCPUGenerator(mix(config_.seed, kOrderStream + static_cast<uint64_t>(epoch)));
    std::vector<Step> steps;
    const auto add_group = [&](size_t pair, const torch::Tensor& rows) {
      const int64_t n = rows.size(0);
      if (n == 0) return;
      const int64_t batch = std::min(config_.batch_size, n);
      int64_t local = 0;
      for (int64_t pass = 0; pass < recipe_.n_critic; ++pass) {
        const auto order = rows.index_select(0, torch::randperm(n, order_rng, torch::kInt64));
        for (int64_t b = 0; b + batch <= n; b += batch) {
          steps.push_back({pair, order.narrow(0, b, batch), ++local % recipe_.n_critic == 0});
        }
      }
    };
    if (shape_.kind == GanKind::kWgan) {
      for (size_t c = 0; c < class_rows_.size(); ++c) add_group(c, class_rows_[c]);
    } else {
      add_group(0, torch::arange(labels_.size(0), torch::kInt64));
    }
    return steps;
  }

  // One discriminator (critic) step and, when due, one generator step; returns the generator loss
  // (NaN without a generator step). Fake labels: WGAN's pair is one class; the conditional kinds
  // draw labels (codes) uniformly.
  double take_step(const Step& step) {
    StepBatch batch;
    batch.real = images_.index_select(0, step.index.to(device_));
    batch.real_labels = labels_.index_select(0, step.index);
    const int64_t n = batch.real.size(0);
    batch.fake_labels = shape_.kind == GanKind::kWgan ? torch::full({n}, static_cast<int64_t>(step.pair), torch::kInt64)
                                                      : torch::randint(shape_.classes, {n}, noise_, torch::kInt64);
    GanPair pair{bank_->generators()[step.pair], discriminators_[step.pair], generator_optimizers_[step.pair].get(),
                 discriminator_optimizers_[step.pair].get()};
    const DrawInput draw = [&](const torch::Tensor& labels, torch::Tensor* codes) {
      return generator_input(shape_, labels, noise_, device_, codes);
    };
    return gan_step(pair, shape_, recipe_, batch, step.generator_step, draw);
  }

  train::RunSession& session_;
  const train::TrainConfig& config_;
  torch::Device device_;
  GanRecipe recipe_;
  GanShape shape_;
  at::Generator noise_;
  torch::Tensor images_, labels_;      // images on the device in [-1, 1]; labels on the CPU
  torch::Tensor test_images_, test_labels_;  // the real test images in [-1, 1] on the CPU (undefined without)
  std::vector<torch::Tensor> class_rows_;  // WGAN: the rows of each class
  std::optional<GeneratorBank> bank_;
  std::vector<Discriminator> discriminators_;
  std::vector<std::unique_ptr<torch::optim::Optimizer>> generator_optimizers_, discriminator_optimizers_;
  PartialEpoch partial_;
};

}  // namespace

train::TrainResult train_generator(const train::TrainConfig& config, const train::TrainOptions& options) {
  return train::run_in_session(config, options, [&](train::RunSession& session) {
    if (config.task == "classify") throw std::logic_error("train_generator: task is classify");
    GeneratorTask task(session);
    return session.run(task);
  });
}

}  // namespace isda::gan
