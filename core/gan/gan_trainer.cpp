#include "gan/gan_trainer.h"

#include "data/datasets.h"
#include "data/png.h"
#include "gan/gan_losses.h"
#include "gan/generated_images.h"
#include "support/device.h"
#include "support/run_environment.h"
#include "train/checkpoint.h"
#include "train/random_streams.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <optional>
#include <sstream>

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

struct Progress {
  int64_t epoch = 0;
  int64_t step = 0;
  double generator_loss_sum = 0;
  int64_t generator_steps = 0;
  double train_seconds = 0;
};

class GeneratorRun {
 public:
  GeneratorRun(const train::TrainConfig& config, const train::TrainOptions& options, train::RunDirectory* run_dir)
      : config_(config), options_(options), device_(support::resolve_device(config.device, distributed::World{})), run_dir_(run_dir),
        recipe_(recipe_of(parse_gan_kind(config.task))),
        noise_(at::detail::createCPUGenerator(mix(config.seed, kNoiseStream))) {
    if (config.threads > 0) torch::set_num_threads(static_cast<int>(config.threads));
    torch::manual_seed(config.seed);
    const auto root = config.data_root.empty() ? data::default_data_root(config.dataset) : config.data_root;
    auto splits = data::load_dataset(config.dataset, root, config.holdout, config.split_seed, config.train_limit, 0);
    // [0, 255] -> [-1, 1], as the generators' tanh.
    images_ = (splits.train.images.to(device_, torch::kFloat32) / 127.5 - 1).contiguous();
    labels_ = splits.train.labels.to(torch::kInt64);
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
      auto g_params = bank_->generators()[i]->parameters();
      for (auto& q : d->q_parameters()) g_params.push_back(q);  // infoGAN's Q head trains with G
      if (recipe_.adam) {
        const auto adam = [&](std::vector<torch::Tensor> params) {
          return std::make_unique<torch::optim::Adam>(
              std::move(params), torch::optim::AdamOptions(recipe_.lr).betas({recipe_.beta1, recipe_.beta2}));
        };
        generator_optimizers_.push_back(adam(g_params));
        discriminator_optimizers_.push_back(adam(d->discriminator_parameters()));
      } else {
        const auto rmsprop = [&](std::vector<torch::Tensor> params) {
          return std::make_unique<torch::optim::RMSprop>(std::move(params), torch::optim::RMSpropOptions(recipe_.lr));
        };
        generator_optimizers_.push_back(rmsprop(g_params));
        discriminator_optimizers_.push_back(rmsprop(d->discriminator_parameters()));
      }
    }
    if (shape_.kind == GanKind::kWgan) {
      for (int64_t c = 0; c < shape_.classes; ++c) class_rows_.push_back(labels_.eq(c).nonzero().squeeze(1));
    }
  }

  train::TrainResult run() {
    Progress progress;
    if (run_dir_ && run_dir_->has_checkpoint()) {
      load_checkpoint(progress);
      note(progress.step == 0 ? fmt::format("resuming after epoch {}", progress.epoch)
                              : fmt::format("resuming epoch {} at step {}", progress.epoch + 1, progress.step));
      logged_done_ = train::reconcile_epoch_events(*run_dir_, result_.epochs);
    }
    if (run_dir_) {
      run_dir_->clear_interrupted_mark();
      run_dir_->write_json("config.json", train::to_json(config_));
      run_dir_->append_event(train::start_event(
          progress.epoch, progress.step, device_.str(), config_,
          support::describe_environment(device_.is_cuda(), std::max<int>(0, device_.index()))));
    }
    progress_notes_.emplace(run_dir_, config_.stall_limit);
    while (progress.epoch < config_.epochs) {
      const auto metrics = train_epoch(progress);
      result_.epochs.push_back(metrics);
      progress = Progress{progress.epoch + 1};
      if (run_dir_) {
        save_checkpoint(progress);
        // What the generator makes now, one row per class, always from the same noise (sampling
        // changes no state, so resume is unaffected).
        data::write_png(run_dir_->file(kSampleGridFile), sample_grid(*bank_, kSamplesPerClass, kSampleGridSeed));
        run_dir_->append_event(train::epoch_event(metrics));
      }
      if (options_.on_epoch) options_.on_epoch(metrics);
      const int signal = options_.stop_signal ? options_.stop_signal->load() : 0;
      if (signal != 0 && progress.epoch < config_.epochs) stop(signal, progress, /*checkpointed=*/true);
    }
    result_.final_test_error = result_.best_test_error = result_.last10_test_error = kNaN;
    result_.last10_validation_error = result_.last10_test_top5_error = kNaN;
    if (run_dir_ && !logged_done_) train::log_done(*run_dir_, result_);
    return result_;
  }

 private:
  void note(const std::string& text) const {
    if (options_.on_note) options_.on_note(text);
  }

  // The epoch's steps: batches of a shuffled order (from the epoch's own generator), the last
  // partial batch dropped as DCGAN does; WGAN: each class's batches for its own pair in turn, a
  // generator step after every n_critic critic steps.
  std::vector<Step> epoch_steps(int64_t epoch) const {
    auto order_rng = at::detail::createCPUGenerator(mix(config_.seed, kOrderStream + static_cast<uint64_t>(epoch)));
    std::vector<Step> steps;
    const auto add_group = [&](size_t pair, const torch::Tensor& rows) {
      const int64_t n = rows.size(0);
      if (n == 0) return;
      const int64_t batch = std::min(config_.batch_size, n);
      const auto order = rows.index_select(0, torch::randperm(n, order_rng, torch::kInt64));
      for (int64_t b = 0; b + batch <= n; b += batch) {
        const int64_t local = b / batch;
        steps.push_back({pair, order.narrow(0, b, batch), (local + 1) % recipe_.n_critic == 0});
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
  // (NaN without a generator step).
  double take_step(const Step& step) {
    auto& generator = bank_->generators()[step.pair];
    auto& discriminator = discriminators_[step.pair];
    auto& d_optimizer = *discriminator_optimizers_[step.pair];
    auto& g_optimizer = *generator_optimizers_[step.pair];
    generator->train();
    discriminator->train();
    const auto real = images_.index_select(0, step.index.to(device_));
    const auto real_labels_cpu = labels_.index_select(0, step.index);
    const auto real_labels = real_labels_cpu.to(device_);
    const int64_t n = real.size(0);
    // Fake labels: WGAN's pair is one class; the conditional kinds draw labels (codes) uniformly.
    const auto fake_labels_cpu = shape_.kind == GanKind::kWgan
                                     ? torch::full({n}, static_cast<int64_t>(step.pair), torch::kInt64)
                                     : torch::randint(shape_.classes, {n}, noise_, torch::kInt64);
    const auto fake_labels = fake_labels_cpu.to(device_);
    torch::Tensor codes;
    const auto fake = generator->forward(generator_input(shape_, fake_labels_cpu, noise_, device_, &codes));

    // Discriminator.
    discriminator->zero_grad();
    auto d_real = discriminator->forward(real, real_labels);
    auto d_fake = discriminator->forward(fake.detach(), fake_labels);
    torch::Tensor d_loss;
    if (shape_.kind == GanKind::kWgan) {
      d_loss = critic_loss(d_real.adversarial, d_fake.adversarial);
    } else {
      d_loss = discriminator_loss(d_real.adversarial, d_fake.adversarial);
      if (shape_.kind == GanKind::kAcgan) {
        d_loss = d_loss + auxiliary_class_loss(d_real.class_logits, real_labels, d_fake.class_logits, fake_labels);
      }
    }
    d_loss.backward();
    d_optimizer.step();
    if (recipe_.clip > 0) clip_weights(*discriminator, recipe_.clip);
    if (!step.generator_step) return kNaN;

    // Generator (and infoGAN's Q head).
    generator->zero_grad();
    discriminator->zero_grad();
    const auto out = discriminator->forward(fake, fake_labels);
    torch::Tensor g_loss;
    if (shape_.kind == GanKind::kWgan) {
      g_loss = wasserstein_generator_loss(out.adversarial);
    } else {
      g_loss = generator_loss(out.adversarial);
      if (shape_.kind == GanKind::kAcgan) {
        g_loss = g_loss + torch::nn::functional::cross_entropy(out.class_logits, fake_labels);
      }
      if (shape_.kind == GanKind::kInfogan) {
        g_loss = g_loss + mutual_information_loss(out.class_logits, fake_labels, out.code_means, codes,
                                                  recipe_.lambda_categorical, recipe_.lambda_continuous);
      }
    }
    g_loss.backward();
    g_optimizer.step();
    return g_loss.item<double>();
  }

  train::EpochMetrics train_epoch(Progress& progress) {
    const auto started = Clock::now();
    const auto steps = epoch_steps(progress.epoch);
    int64_t images = 0;
    for (int64_t s = progress.step; s < static_cast<int64_t>(steps.size()); ++s) {
      const double g_loss = take_step(steps[static_cast<size_t>(s)]);
      progress_notes_->step_finished(progress.epoch + 1, s + 1);
      images += steps[static_cast<size_t>(s)].index.size(0);
      if (!std::isnan(g_loss)) {
        if (!(std::isfinite(g_loss) && std::abs(g_loss) < kExplodingLoss)) {
          throw train::TrainingError(fmt::format("generator loss {} in epoch {} (step {})", g_loss, progress.epoch + 1, s + 1));
        }
        progress.generator_loss_sum += g_loss;
        ++progress.generator_steps;
      }
      const int signal = options_.stop_signal ? options_.stop_signal->load() : 0;
      if (signal != 0 && s + 1 < static_cast<int64_t>(steps.size())) {
        progress.step = s + 1;
        progress.train_seconds += std::chrono::duration<double>(Clock::now() - started).count();
        stop(signal, progress, /*checkpointed=*/false);
      }
    }
    const double seconds = progress.train_seconds + std::chrono::duration<double>(Clock::now() - started).count();
    train::EpochMetrics m;
    m.epoch = progress.epoch + 1;
    m.train_loss = progress.generator_steps > 0 ? progress.generator_loss_sum / static_cast<double>(progress.generator_steps) : kNaN;
    m.train_error = m.test_error = m.validation_error = m.test_top5_error = m.lambda = kNaN;
    m.lr = recipe_.lr;
    m.seconds = seconds;
    m.images_per_second = static_cast<double>(images) / std::max(1e-9, std::chrono::duration<double>(Clock::now() - started).count());
    return m;
  }

  [[noreturn]] void stop(int signal, const Progress& progress, bool checkpointed) {
    if (run_dir_) {
      if (!checkpointed) save_checkpoint(progress);
      run_dir_->mark_interrupted(signal);
      run_dir_->append_event({{"event", "interrupted"}, {"signal", signal}, {"epoch", progress.epoch}, {"step", progress.step}});
    }
    throw train::Interrupted(signal);
  }

  // --- checkpoints: meta (config, shape, progress, history), every network and optimiser, the
  // noise generator and torch's global CPU generator ----------------------------------------------

  void save_checkpoint(const Progress& progress) {
    nlohmann::json meta = {{"config", train::to_json(config_)},
                           {"shape", {{"kind", gan_kind_name(shape_.kind)}, {"channels", shape_.channels},
                                      {"size", shape_.size}, {"classes", shape_.classes}, {"width", shape_.width}}},
                           {"epoch", progress.epoch}, {"step", progress.step},
                           {"generator_loss_sum", progress.generator_loss_sum},
                           {"generator_steps", progress.generator_steps},
                           {"train_seconds", progress.train_seconds}, {"history", nlohmann::json::array()}};
    for (const auto& m : result_.epochs) meta["history"].push_back(train::to_json(m));
    torch::serialize::OutputArchive archive;
    train::write_checkpoint_meta(archive, meta);
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
    {
      auto global = at::detail::getDefaultCPUGenerator();
      std::lock_guard<std::mutex> lock(global.mutex());
      archive.write("cpu_rng", global.get_state());
    }
    std::ostringstream bytes;
    archive.save_to(bytes);
    run_dir_->write_checkpoint(bytes.str());
  }

  void load_checkpoint(Progress& progress) {
    const auto path = run_dir_->file("checkpoint.pt");
    const auto payload = run_dir_->read_checkpoint();
    try {
      std::istringstream bytes(payload);
      torch::serialize::InputArchive archive;
      archive.load_from(bytes);
      const auto meta = train::read_checkpoint_meta(archive);
      train::check_same_config(meta.at("config"), config_, path);
      progress.epoch = meta.at("epoch").get<int64_t>();
      progress.step = meta.at("step").get<int64_t>();
      progress.generator_loss_sum = meta.at("generator_loss_sum").get<double>();
      progress.generator_steps = meta.at("generator_steps").get<int64_t>();
      progress.train_seconds = meta.at("train_seconds").get<double>();
      for (const auto& m : meta.at("history")) result_.epochs.push_back(train::epoch_metrics_from_json(m));
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
    } catch (const train::CheckpointError&) {
      throw;
    } catch (const std::exception& e) {
      const std::string message = e.what();
      throw train::CheckpointError(path + ": unreadable (" + message.substr(0, message.find('\n')) + ")");
    }
  }

  train::TrainConfig config_;
  train::TrainOptions options_;
  torch::Device device_;
  train::RunDirectory* run_dir_ = nullptr;  // not owned
  GanRecipe recipe_;
  GanShape shape_;
  at::Generator noise_;
  torch::Tensor images_, labels_;      // images on the device in [-1, 1]; labels on the CPU
  std::vector<torch::Tensor> class_rows_;  // WGAN: the rows of each class
  std::optional<GeneratorBank> bank_;
  std::vector<Discriminator> discriminators_;
  std::vector<std::unique_ptr<torch::optim::Optimizer>> generator_optimizers_, discriminator_optimizers_;
  train::TrainResult result_;
  std::optional<train::ProgressNotes> progress_notes_;  // for isda-run's stall watch
  bool logged_done_ = false;
};

}  // namespace

GanRecipe recipe_of(GanKind kind) {
  GanRecipe r;
  switch (kind) {
    case GanKind::kWgan:  // Arjovsky et al. 2017, Algorithm 1: RMSprop 5e-5, n_critic 5, c = 0.01
      r.adam = false;
      r.lr = 5e-5;
      r.n_critic = 5;
      r.clip = 0.01;
      break;
    case GanKind::kCgan:
    case GanKind::kAcgan:
      break;  // DCGAN's Adam: lr 2e-4, betas (0.5, 0.999)
    case GanKind::kInfogan:  // Chen et al. 2016: lambda 1 for the categorical code, 0.1 for continuous ones
      r.lambda_categorical = 1;
      r.lambda_continuous = 0.1;
      break;
  }
  return r;
}

train::TrainResult train_generator(const train::TrainConfig& config, const train::TrainOptions& options) {
  std::optional<train::RunDirectory> owned;
  train::RunDirectory* run_dir = options.opened_run_dir;
  if (run_dir == nullptr && options.run_dir) run_dir = &owned.emplace(*options.run_dir);
  try {
    train::validate(config, "config");
    if (config.task == "classify") throw std::logic_error("train_generator: task is classify");
    GeneratorRun run(config, options, run_dir);
    return run.run();
  } catch (const train::Interrupted&) {
    throw;
  } catch (const std::exception& e) {
    if (run_dir != nullptr) train::log_failure(*run_dir, train::failure_of(e));
    throw;
  }
}

}  // namespace isda::gan
