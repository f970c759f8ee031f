#include "train/trainer.h"

#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "common/run_events.h"
#include "data/augment.h"
#include "data/data_error.h"
#include "data/datasets.h"
#include "data/imagenet.h"
#include "distributed/communicator.h"
#include "distributed/estimator_sync.h"
#include "distributed/gradient_reducer.h"
#include "gan/generated_images.h"
#include "isda/isda_loss.h"
#include "isda/lambda_schedule.h"
#include "models/batch_norm.h"
#include "models/registry.h"
#include "support/device.h"
#include "support/run_environment.h"
#include "support/torch_compat.h"
#include "train/checkpoint.h"
#include "train/losses.h"
#include "train/random_streams.h"
#include "train/training_step.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <mutex>
#include <numeric>
#include <sstream>
#include <thread>
#include <tuple>

namespace isda::train {
namespace {

using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// A loss above this is treated as divergence (cross-entropy of a sane network stays far below).
constexpr double kExplodingLoss = 1e4;
// How often (in steps) the loss is read back to catch divergence early; each read synchronises.
constexpr int64_t kDivergenceCheckInterval = 50;
constexpr int64_t kEvalBatch = 1000;
// Tests only: milliseconds rank 0 waits between a stop's checkpoint and its marker.
constexpr char kStopDelayVariable[] = "ISDA_TEST_STOP_DELAY_MS";

// The random streams of a run, each derived from its seed with mix() and its own salt, so that
// none depends on how many numbers another drew (and a resumed run draws what it would have).
// Epoch e's shuffling uses salt e + 1 (salts below these), its global generator kGlobalPerEpoch + e.
constexpr uint64_t kAugmentStream = 0xa09;        // pad-crop-flip, Cutout, AutoAugment
constexpr uint64_t kComparisonLossStream = 0x1055;  // DisturbLabel's label noise
constexpr uint64_t kGlobalPerEpoch = 0x5eed;      // torch's global CPU generator (dropout, ShakeDrop)
constexpr uint64_t kImageLoaderStream = 0x1a6e;   // image folders' per-image crops and flips

// What a run is doing, for the reason of a failure ("epoch 2, step 14 of 390: ..."). Set as the
// run goes and formatted only when it fails: nothing is built per step.
struct Activity {
  const char* phase = "starting";
  int64_t epoch = 0;  // 1-based epoch it concerns; 0: none
  int64_t step = 0;   // 1-based step while training; 0: not in a step
  int64_t steps = 0;

  void set(const char* what, int64_t in_epoch = 0) { *this = Activity{what, in_epoch}; }
  std::string describe() const {
    if (step > 0) return fmt::format("epoch {}, step {} of {}", epoch, step, steps);
    if (epoch > 0) return fmt::format("epoch {}, {}", epoch, phase);
    return phase;
  }
};

// The loss of a step and the clean logits (for the error counts).
struct StepOutput {
  torch::Tensor loss;
  torch::Tensor logits;
};

// Where the run stands inside an epoch; all of it goes into a checkpoint.
struct Progress {
  int64_t epoch = 0;  // 0-based epoch in progress (== epochs when the run is complete)
  int64_t step = 0;   // steps of `epoch` already taken
  double loss_sum = 0;
  int64_t wrong = 0;
  double lambda = 0;
  double train_seconds = 0;
};

class Run {
 public:
  Run(const TrainConfig& config, const TrainOptions& options, RunDirectory* run_dir, Activity& activity)
      : config_(config),
        options_(options),
        world_(options.world),
        activity_(activity),
        device_(support::resolve_device(config.device, options.world)),
        run_dir_(run_dir) {
    if (config.ranks != world_.size) {
      throw ConfigError(fmt::format("config: ranks: is {} but this process is rank {} of {} ({})", config.ranks,
                                    world_.rank, world_.size, world_.source));
    }
    if (config.threads > 0) torch::set_num_threads(static_cast<int>(config.threads));
    if (config.precision == "bf16" && !device_.is_cuda()) {
      throw ConfigError("config: precision: bf16 autocast needs a CUDA device (device is " + device_.str() + ")");
    }
    if (config.cuda_graph && !device_.is_cuda()) {
      throw ConfigError("config: cuda_graph: needs a CUDA device (device is " + device_.str() + ")");
    }
    if (config.cuda_graph && !compat::kHasCudaGraphs) {
      throw ConfigError("config: cuda_graph: this build's LibTorch has no CUDA graph support");
    }
    if (config.deterministic) {
      // cuBLAS reads this when it makes its first handle (at the first product on the device, later).
      // Kernels without a deterministic version warn rather than fail.
      setenv("CUBLAS_WORKSPACE_CONFIG", ":4096:8", /*overwrite=*/0);
      at::globalContext().setDeterministicCuDNN(true);
      at::globalContext().setDeterministicAlgorithms(true, /*warn_only=*/true);
    }
    if (device_.is_cuda()) at::globalContext().setBenchmarkCuDNN(!config.deterministic);
    torch::manual_seed(config.seed);
    if (world_.distributed()) {
      activity_.set("joining the other ranks");
      communicator_ = std::make_unique<distributed::Communicator>(
          world_, device_, std::chrono::milliseconds(static_cast<int64_t>(config.dist_timeout * 1000)));
    }

    activity_.set("loading the data");
    const auto root = config.data_root.empty() ? data::default_data_root(config.dataset) : config.data_root;
    if (config.image_size != 0 && !data::is_image_folder_dataset(config.dataset)) {
      throw ConfigError("config: image_size: sets the crop of image folders (imagenet); " + config.dataset +
                        " has fixed-size images");
    }
    if (data::is_image_folder_dataset(config.dataset)) {
      open_image_folders(root);
    } else {
      auto splits = data::load_dataset(config.dataset, root, config.holdout, config.split_seed, config.train_limit,
                                       config.test_limit);
      num_classes_ = splits.train.num_classes;
      train_images_ = splits.train.images.to(device_);
      train_labels_ = splits.train.labels.to(device_);
      if (splits.test.images.defined() && splits.test.images.numel() > 0) {
        test_images_ = splits.test.images.to(device_);
        test_labels_ = splits.test.labels.to(device_);
      }
      if (splits.validation.images.defined() && splits.validation.images.numel() > 0) {
        validation_images_ = splits.validation.images.to(device_);
        validation_labels_ = splits.validation.labels.to(device_);
      }
    }
    augmenter_.emplace(data::parse_augment_kind(config.augment), data::normalization_for(config.dataset),
                       mix(config.seed, kAugmentStream));

    activity_.set("building the model");
    models::ModelOptions model_options;
    model_options.num_classes = num_classes_;
    model_options.in_channels = train_images_.defined() ? train_images_.size(1) : 3;
    model_options.dropout = config.dropout;
    model_ = models::make_model(config.model, model_options);
    model_->to(device_);
    if (config.channels_last) {
      for (auto& p : model_->parameters()) {
        if (p.dim() == 4) p.set_data(p.data().contiguous(at::MemoryFormat::ChannelsLast));
      }
    }
    if (communicator_) {
      // Every rank starts from rank 0's weights (the same seed gives the same ones; this makes sure).
      torch::NoGradGuard no_grad;
      for (auto& p : model_->parameters()) communicator_->broadcast(p);
      for (auto& b : model_->buffers()) communicator_->broadcast(b);
      if (config.sync_bn) models::synchronize_batch_norm(*model_, communicator_.get());
      reducer_.emplace(model_->parameters(), *communicator_);
    }
    optimizer_.emplace(model_->parameters(), torch::optim::SGDOptions(config.lr)
                                                 .momentum(config.momentum)
                                                 .nesterov(config.nesterov)
                                                 .weight_decay(config.weight_decay));
    if (config.method == "isda") {
      estimator_.emplace(parse_covariance_kind(config.covariance), num_classes_, model_->feature_dim(), device_);
    } else if (config.method != "ce") {
      LossOptions o;
      o.margin = static_cast<int64_t>(config.margin);
      o.disturb_alpha = config.disturb_alpha;
      o.focal_gamma = config.focal_gamma;
      o.center_lambda = config.center_lambda;
      o.center_alpha = config.center_alpha;
      o.lq_q = config.lq_q;
      comparison_.emplace(parse_loss_kind(config.method), o, num_classes_, model_->feature_dim(), device_,
                          mix(config.seed, kComparisonLossStream));
    }
    if (!config.gan.empty()) {  // Table 3's generator rows: a finished generator run's images join each batch
      generated_.emplace(gan::open_generated_batches(config, run_dir ? run_dir->path() : "", device_, train_images_));
    }
    schedule_ = LambdaSchedule{parse_lambda_schedule(config.lambda_schedule), config.lambda0};
    if (config.cuda_graph) {
      TrainingStep::Options step_options;
      step_options.bf16 = config.precision == "bf16";
      step_options.capture = true;
      step_options.batch_size = config.batch_size;
      training_step_.emplace(*model_, *optimizer_, estimator_ ? &*estimator_ : nullptr, device_, step_options);
    }
  }

  TrainResult run() {
    Progress progress;
    activity_.set("reading the checkpoint");
    if (has_checkpoint()) {
      load_checkpoint(progress);
      note(progress.step == 0 ? fmt::format("resuming after epoch {}", progress.epoch)
                              : fmt::format("resuming epoch {} at step {}", progress.epoch + 1, progress.step));
      if (run_dir_) logged_done_ = reconcile_epoch_events(*run_dir_, result_.epochs);
    }
    if (run_dir_) {
      run_dir_->clear_interrupted_mark();
      run_dir_->write_json("config.json", to_json(config_));
      run_dir_->append_event(start_event(progress.epoch, progress.step, device_.str(), config_,
                                         support::describe_environment(device_.is_cuda(), std::max<int>(0, device_.index()))));
    }
    progress_notes_.emplace(run_dir_, config_.stall_limit);
    while (progress.epoch < config_.epochs) {
      const auto metrics = train_epoch(progress);
      result_.epochs.push_back(metrics);
      progress = Progress{progress.epoch + 1};
      activity_.set("writing the checkpoint", progress.epoch);
      if (run_dir_ || communicator_) save_checkpoint(progress);  // checkpoint first: an event is never ahead of it
      if (run_dir_) run_dir_->append_event(epoch_event(metrics));
      if (options_.on_epoch) options_.on_epoch(metrics);
      const int signal = agreed_stop_signal();
      if (signal != 0 && progress.epoch < config_.epochs) stop(signal, progress, /*checkpointed=*/true);
    }
    finish(result_);
    if (run_dir_ && !logged_done_) log_done(*run_dir_, result_);
    return result_;
  }

 private:
  void note(const std::string& text) const {
    if (options_.on_note) options_.on_note(text);
  }

  // --- data parallel ---------------------------------------------------------------------------

  // Whether there is a checkpoint to resume from: rank 0's run directory says, for every rank.
  bool has_checkpoint() {
    bool has = run_dir_ && run_dir_->has_checkpoint();
    if (!communicator_) return has;
    auto flag = torch::tensor({has ? int64_t{1} : int64_t{0}});
    communicator_->broadcast(flag);
    return flag.item<int64_t>() != 0;
  }

  // Rank 0's checkpoint payload on every rank (no file system need be shared between nodes).
  std::string checkpoint_payload() {
    std::string payload = run_dir_ ? run_dir_->read_checkpoint() : std::string();
    if (!communicator_) return payload;
    auto size = torch::tensor({static_cast<int64_t>(payload.size())});
    communicator_->broadcast(size);
    auto bytes = torch::empty({size.item<int64_t>()}, torch::kUInt8);
    if (run_dir_) std::memcpy(bytes.data_ptr<uint8_t>(), payload.data(), payload.size());
    communicator_->broadcast(bytes);
    return std::string(reinterpret_cast<const char*>(bytes.data_ptr<uint8_t>()), static_cast<size_t>(bytes.numel()));
  }

  // The stop signal any rank has received (0: none); every rank stops at the same step.
  int agreed_stop_signal() {
    const int local = options_.stop_signal ? options_.stop_signal->load() : 0;
    if (!communicator_) return local;
    auto signal = torch::tensor({static_cast<int64_t>(local)});
    communicator_->all_reduce_max(signal);
    return static_cast<int>(signal.item<int64_t>());
  }

  // Sums over the ranks of per-rank totals (float64 on the CPU); the values unchanged for one rank.
  std::vector<double> summed(std::vector<double> values) {
    if (!communicator_) return values;
    auto t = torch::tensor(values, torch::kFloat64);
    communicator_->all_reduce_sum(t);
    return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
  }

  // Per-rank BatchNorm keeps per-rank running statistics; rank 0's are the run's (as DDP's
  // broadcast_buffers), given to every rank before it evaluates.
  void share_rank0_buffers() {
    if (!communicator_ || config_.sync_bn) return;
    torch::NoGradGuard no_grad;
    for (auto& b : model_->buffers()) communicator_->broadcast(b);
  }

  // A global batch of `count` images: this rank's rows of it (rank, rank + W, ...), CPU int64.
  torch::Tensor share_rows(int64_t count) const {
    return torch::arange(world_.rank, count, world_.size, torch::TensorOptions().dtype(torch::kInt64));
  }

  // The images of global batch `step` of an epoch of n: the config's batch, the last one cut to a
  // multiple of the ranks (at most ranks - 1 images of an epoch are left out, as with drop_last on
  // that remainder only).
  int64_t global_batch_count(int64_t n, int64_t step) const {
    const int64_t count = std::min(config_.batch_size, n - step * config_.batch_size);
    return count - count % world_.size;
  }
  int64_t steps_per_epoch(int64_t n) const {
    const int64_t full = n / config_.batch_size;
    return full + (global_batch_count(n, full) > 0 ? 1 : 0);
  }

  // One data-parallel step: this rank's share forward, the ISDA estimator merged with the whole
  // global batch (its features gathered from every rank, in rank order) so that every rank holds
  // the estimator one process would, backward with gradients all-reduced in buckets, SGD.
  StepOutput data_parallel_step(const torch::Tensor& images, const torch::Tensor& labels, double lambda) {
    torch::Tensor features;
    {
      compat::CudaAutocastGuard autocast(config_.precision == "bf16");
      features = model_->features(images);
    }
    features = features.to(torch::kFloat32);
    auto& head = model_->head();
    auto logits = head->forward(features);
    torch::Tensor loss;
    if (estimator_) {
      distributed::merge_global_batch(*estimator_, *communicator_, features, labels);
      loss = torch::nn::functional::cross_entropy(augmented_logits(*estimator_, logits, head->weight, labels, lambda),
                                                  labels);
    } else {
      loss = torch::nn::functional::cross_entropy(logits, labels);
    }
    optimizer_->zero_grad();
    loss.backward();
    reducer_->finish();
    optimizer_->step();
    return {loss, logits};
  }

  StepOutput step_loss(const torch::Tensor& images, const torch::Tensor& labels, double lambda) {
    torch::Tensor features;
    {
      compat::CudaAutocastGuard autocast(config_.precision == "bf16");
      features = model_->features(images);
    }
    features = features.to(torch::kFloat32);  // the head runs in float32: Sigma and W^T Sigma W need it
    auto& head = model_->head();
    if (estimator_) {
      auto out = isda_loss(*estimator_, features, head->weight, head->bias, labels, lambda);
      return {out.loss, out.logits};
    }
    if (comparison_) {
      auto out = (*comparison_)(features, head->weight, head->bias, labels);
      return {out.loss, out.logits};
    }
    auto logits = head->forward(features);
    return {torch::nn::functional::cross_entropy(logits, labels), logits};
  }

  StepOutput ordinary_step(const torch::Tensor& images, const torch::Tensor& labels, double lambda) {
    auto out = step_loss(images, labels, lambda);
    optimizer_->zero_grad();
    out.loss.backward();
    optimizer_->step();
    return out;
  }

  // cuda_graph: the whole step replayed from a CUDA graph; a capture CUDA refuses fails the run.
  StepOutput graphed_step(const torch::Tensor& images, const torch::Tensor& labels, double lambda) {
    try {
      auto result = training_step_->run(images, labels, lambda);
      return {result.loss, result.logits};
    } catch (const c10::Error& e) {
      const std::string message = e.what();
      throw TrainingError("cuda_graph: the training step could not be captured or replayed: " +
                          message.substr(0, message.find('\n')));
    }
  }

  torch::Tensor epoch_order(int64_t epoch) const {
    auto generator = at::detail::createCPUGenerator(mix(config_.seed, static_cast<uint64_t>(epoch) + 1));
    return torch::randperm(train_labels_.size(0), generator, torch::TensorOptions().dtype(torch::kInt64)).to(device_);
  }

  EpochMetrics train_epoch(Progress& progress) {
    const auto started = Clock::now();
    const int64_t n = train_labels_.size(0);
    const int64_t batch = config_.batch_size;
    const int64_t steps = steps_per_epoch(n);
    const int64_t used = (steps - 1) * batch + global_batch_count(n, steps - 1);  // images this epoch trains on
    const double lr = learning_rate(config_, progress.epoch);
    for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    // Rank 0 draws what one process would; every other rank its own stream (dropout, ShakeDrop).
    if (progress.step == 0) {
      torch::manual_seed(mix(config_.seed, kGlobalPerEpoch + static_cast<uint64_t>(progress.epoch)) ^
                         (static_cast<uint64_t>(world_.rank) * 0x9e3779b97f4a7c15ULL));
    }

    model_->train();
    const auto order = epoch_order(progress.epoch);
    std::optional<data::ImageBatchLoader> decoder;  // image folders: this epoch's batches, decoded ahead
    if (train_folder_) decoder.emplace(*train_folder_, share_of_order(order, n), loader_options(true, progress.epoch), progress.step);
    const auto device_zero = [&](torch::Dtype dtype) {
      return torch::zeros({}, torch::TensorOptions().dtype(dtype).device(device_));
    };
    auto loss_sum = device_zero(torch::kFloat64) + progress.loss_sum;
    auto wrong = device_zero(torch::kInt64) + progress.wrong;
    const auto train_started = Clock::now();
    for (int64_t step = progress.step; step < steps; ++step) {
      activity_ = Activity{"training", progress.epoch + 1, step + 1, steps};
      const int64_t count = global_batch_count(n, step);
      auto index = order.narrow(0, step * batch, count);
      torch::Tensor images, labels;
      if (decoder) {
        std::tie(images, labels) = next_decoded(*decoder);
      } else if (communicator_) {
        const auto rows = share_rows(count);
        index = index.index_select(0, rows.to(index.device()));
        images = augmenter_->train_batch_share(train_images_.index_select(0, index), count, rows);
        labels = train_labels_.index_select(0, index);
      } else {
        std::tie(images, labels) = resident_batch(index, progress.epoch, step);
      }
      if (config_.channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
      progress.lambda = schedule_.at(progress.epoch, step, steps, config_.epochs);
      const auto out = training_step_  ? graphed_step(images, labels, progress.lambda)
                       : communicator_ ? data_parallel_step(images, labels, progress.lambda)
                                       : ordinary_step(images, labels, progress.lambda);
      // This rank's real images (image folders decode only this rank's share; generated images
      // follow the real ones and are not counted).
      const int64_t real = decoder ? labels.size(0) : index.size(0);
      progress_notes_->step_finished(progress.epoch + 1, step + 1);
      loss_sum += out.loss.detach().to(torch::kFloat64) * static_cast<double>(real);
      wrong += out.logits.detach().narrow(0, 0, real).argmax(1).ne(labels.narrow(0, 0, real)).sum();
      if ((step + 1) % kDivergenceCheckInterval == 0) check_loss(out.loss.item<double>(), progress.epoch, step);

      const int signal = agreed_stop_signal();
      if (signal != 0 && step + 1 < steps) {
        progress.step = step + 1;
        const auto partial = summed({loss_sum.item<double>(), static_cast<double>(wrong.item<int64_t>())});
        progress.loss_sum = partial[0];
        progress.wrong = static_cast<int64_t>(partial[1]);
        progress.train_seconds += std::chrono::duration<double>(Clock::now() - train_started).count();
        stop(signal, progress, /*checkpointed=*/false);
      }
    }
    const double train_seconds =
        progress.train_seconds + std::chrono::duration<double>(Clock::now() - train_started).count();

    activity_.set("evaluating", progress.epoch + 1);
    const auto totals = summed({loss_sum.item<double>(), static_cast<double>(wrong.item<int64_t>())});
    share_rank0_buffers();

    EpochMetrics m;
    m.epoch = progress.epoch + 1;
    m.train_loss = totals[0] / static_cast<double>(used);
    m.train_error = 100.0 * totals[1] / static_cast<double>(used);
    check_loss(m.train_loss, progress.epoch, steps - 1);
    const auto test = test_images_.defined() ? error_rates(test_images_, test_labels_)
                      : test_folder_         ? folder_error_rates(*test_folder_)
                                             : ErrorRates{kNaN, kNaN};
    m.test_error = test.top1;
    m.test_top5_error = test.top5;
    m.validation_error = validation_images_.defined() ? error_rates(validation_images_, validation_labels_).top1 : kNaN;
    m.lambda = progress.lambda;
    m.lr = lr;
    m.seconds = progress.train_seconds + std::chrono::duration<double>(Clock::now() - started).count();
    m.images_per_second = static_cast<double>(used) / train_seconds;
    return m;
  }

  // The augmented batch of resident images `index`, with generated images appended when the run has
  // a generator (they go through the same augmentation).
  std::pair<torch::Tensor, torch::Tensor> resident_batch(const torch::Tensor& index, int64_t epoch, int64_t step) {
    auto images = train_images_.index_select(0, index);
    auto labels = train_labels_.index_select(0, index);
    if (generated_) {
      auto [extra_images, extra_labels] = generated_->draw(index.size(0), epoch, step);
      images = torch::cat({images, extra_images}, 0);
      labels = torch::cat({labels, extra_labels}, 0);
    }
    return {augmenter_->train_batch(images), labels};
  }

  void check_loss(double loss, int64_t epoch, int64_t step) const {
    if (std::isfinite(loss) && loss < kExplodingLoss) return;
    throw TrainingError(fmt::format("training loss {} {} in epoch {} (step {})", std::isfinite(loss) ? "exploded to" : "became",
                                    loss, epoch + 1, step + 1));
  }

  [[noreturn]] void stop(int signal, const Progress& progress, bool checkpointed) {
    activity_.set("stopping on a signal");
    if (!checkpointed) save_checkpoint(progress);
    if (run_dir_) {
      if (const char* delay = std::getenv(kStopDelayVariable)) {  // tests: widen the window below
        std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(delay)));
      }
      run_dir_->mark_interrupted(signal);
      run_dir_->append_event({{"event", "interrupted"}, {"signal", signal}, {"epoch", progress.epoch}, {"step", progress.step}});
    }
    // No rank leaves before rank 0's checkpoint and marker are durable: under `srun
    // --kill-on-bad-exit` the first rank to exit with 128 + N gets the others killed.
    if (communicator_) communicator_->barrier();
    throw Interrupted(signal);
  }

  // Top-1 and top-5 error (percent); counted on the device, read once.
  struct ErrorRates {
    double top1, top5;
  };

  static void count_errors(const torch::Tensor& logits, const torch::Tensor& labels, torch::Tensor& wrong) {
    const auto k = std::min<int64_t>(5, logits.size(1));
    const auto top = std::get<1>(logits.topk(k, 1));
    wrong[0] += top.select(1, 0).ne(labels).sum();
    wrong[1] += top.eq(labels.unsqueeze(1)).any(1).logical_not().sum();
  }

  torch::Tensor summed_counts(const torch::Tensor& wrong) {
    if (!communicator_) return wrong;
    auto counts = wrong.cpu().to(torch::kFloat64);
    communicator_->all_reduce_sum(counts);
    return counts.to(torch::kInt64);
  }

  // This rank's images of an epoch in order, global batch by global batch (image folders).
  std::vector<int64_t> share_of_order(const torch::Tensor& order, int64_t n) const {
    const auto all = to_vector(order);
    if (!communicator_) return all;
    std::vector<int64_t> share;
    for (int64_t step = 0, steps = steps_per_epoch(n); step < steps; ++step) {
      const int64_t count = global_batch_count(n, step);
      for (int64_t i = world_.rank; i < count; i += world_.size) share.push_back(all[static_cast<size_t>(step * config_.batch_size + i)]);
    }
    return share;
  }

  static ErrorRates rates_of(const torch::Tensor& wrong, int64_t n) {
    const auto counts = wrong.cpu();
    const auto percent = [n](int64_t count) { return 100.0 * static_cast<double>(count) / static_cast<double>(n); };
    return {percent(counts[0].item<int64_t>()), percent(counts[1].item<int64_t>())};
  }

  ErrorRates error_rates(const torch::Tensor& images, const torch::Tensor& labels) {
    torch::NoGradGuard no_grad;
    model_->eval();
    auto wrong = torch::zeros({2}, torch::TensorOptions().dtype(torch::kInt64).device(device_));
    const int64_t n = labels.size(0);
    // Data parallel: each rank counts its contiguous share of the images, and the counts are summed.
    const int64_t first = n * world_.rank / world_.size;
    const int64_t last = n * (world_.rank + 1) / world_.size;
    compat::CudaAutocastGuard autocast(config_.precision == "bf16");
    for (int64_t start = first; start < last; start += kEvalBatch) {
      const auto count = std::min(kEvalBatch, last - start);
      auto batch = augmenter_->eval_batch(images.narrow(0, start, count));
      if (config_.channels_last) batch = batch.contiguous(at::MemoryFormat::ChannelsLast);
      count_errors(model_->forward(batch), labels.narrow(0, start, count), wrong);
    }
    model_->train();
    return rates_of(summed_counts(wrong), n);
  }

  // --- image folders (ImageNet): decoded batch by batch on worker threads ---------------------

  void open_image_folders(const std::string& root) {
    const auto folders = data::scan_imagenet(root);
    train_folder_ = data::sample_image_folder(folders.train, config_.train_limit, config_.split_seed);
    test_folder_ = data::sample_image_folder(folders.val, config_.test_limit, config_.split_seed);
    num_classes_ = static_cast<int64_t>(train_folder_->classes.size());
    train_labels_ = torch::tensor(train_folder_->labels, torch::kInt64);  // its size and the epoch order only
  }

  // Each image's crop and flip come from (seed, epoch, its index): the same for any thread count.
  data::ImageLoaderOptions loader_options(bool train, int64_t epoch) const {
    data::ImageLoaderOptions options;
    options.batch_size = train ? config_.batch_size / world_.size : std::min<int64_t>(config_.batch_size, 256);
    options.train = train && config_.augment == "standard";
    if (config_.image_size > 0) options.crop_size = config_.image_size;
    options.seed = mix(config_.seed, kImageLoaderStream);
    options.epoch = epoch;
    options.threads = static_cast<int>(config_.threads);  // 0: every core
    return options;
  }

  static std::vector<int64_t> to_vector(const torch::Tensor& indices) {
    const auto cpu = indices.to(torch::kCPU).contiguous();
    return {cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel()};
  }

  // The next decoded batch, normalised, and its labels, on the device.
  std::pair<torch::Tensor, torch::Tensor> next_decoded(data::ImageBatchLoader& loader) const {
    data::ImageBatch batch;
    if (!loader.next(batch)) throw std::logic_error("image loader ran out of batches before the epoch ended");
    const auto pixels = torch::from_blob(batch.pixels.data(), {batch.count, 3, batch.size, batch.size}, torch::kUInt8);
    return {augmenter_->eval_batch(pixels.to(device_, torch::kUInt8, /*non_blocking=*/false, /*copy=*/true)),
            torch::tensor(batch.labels, torch::kInt64).to(device_)};
  }

  ErrorRates folder_error_rates(const data::ImageFolder& folder) {
    torch::NoGradGuard no_grad;
    model_->eval();
    std::vector<int64_t> share;  // data parallel: every ranks-th image from this rank's on
    for (int64_t i = world_.rank; i < folder.size(); i += world_.size) share.push_back(i);
    data::ImageBatchLoader loader(folder, std::move(share), loader_options(false, 0));
    auto wrong = torch::zeros({2}, torch::TensorOptions().dtype(torch::kInt64).device(device_));
    compat::CudaAutocastGuard autocast(config_.precision == "bf16");
    for (int64_t b = 0; b < loader.batches(); ++b) {
      auto [images, labels] = next_decoded(loader);
      if (config_.channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
      count_errors(model_->forward(images), labels, wrong);
    }
    model_->train();
    return rates_of(summed_counts(wrong), folder.size());
  }

  // --- checkpoints ---------------------------------------------------------------------------

  CheckpointParts checkpoint_parts() {
    return {*model_, *optimizer_, estimator_ ? &*estimator_ : nullptr, comparison_ ? &*comparison_ : nullptr,
            *augmenter_, torch::Tensor(), world_.rank};
  }

  // Data parallel: called by every rank (the generators are gathered); rank 0 writes.
  void save_checkpoint(const Progress& progress) {
    auto parts = checkpoint_parts();
    if (communicator_) {
      auto generator = at::detail::getDefaultCPUGenerator();
      torch::Tensor state;
      {
        std::lock_guard<std::mutex> lock(generator.mutex());
        state = generator.get_state();
      }
      parts.rank_cpu_rng = communicator_->all_gather(state);
    }
    if (!run_dir_) return;
    nlohmann::json meta = {{"config", to_json(config_)},   {"epoch", progress.epoch}, {"ranks", world_.size},
                           {"step", progress.step},        {"loss_sum", progress.loss_sum},
                           {"wrong", progress.wrong},      {"lambda", progress.lambda},
                           {"train_seconds", progress.train_seconds}, {"history", nlohmann::json::array()}};
    for (const auto& m : result_.epochs) meta["history"].push_back(to_json(m));
    run_dir_->write_checkpoint(serialize_checkpoint(meta, parts));
  }

  void load_checkpoint(Progress& progress) {
    const auto path = run_dir_ ? run_dir_->file("checkpoint.pt") : std::string("rank 0's checkpoint.pt");
    auto parts = checkpoint_parts();
    parts.rank = world_.rank;
    // The meta is read (and a checkpoint of another config refused) before any state is restored.
    restore_checkpoint(checkpoint_payload(), parts, path, [&](const nlohmann::json& meta) {
      check_same_config(meta.at("config"), config_, path);
      const int64_t ranks = meta.value("ranks", int64_t{1});
      if (ranks != world_.size) {
        throw CheckpointError(fmt::format("{}: written by a run of {} rank(s), this one has {}: resume with ranks {} (each "
                                          "rank's share of a batch and its generator depend on it)",
                                          path, ranks, world_.size, ranks));
      }
      progress.epoch = meta.at("epoch").get<int64_t>();
      progress.step = meta.at("step").get<int64_t>();
      progress.loss_sum = meta.at("loss_sum").get<double>();
      progress.wrong = meta.at("wrong").get<int64_t>();
      progress.lambda = meta.at("lambda").get<double>();
      progress.train_seconds = meta.at("train_seconds").get<double>();
      if (world_.rank != 0) {  // the partial sums are the ranks' together, kept once (by rank 0)
        progress.loss_sum = 0;
        progress.wrong = 0;
      }
      for (const auto& m : meta.at("history")) result_.epochs.push_back(epoch_metrics_from_json(m));
    });
    model_->to(device_);
  }

  static void finish(TrainResult& result) {
    const auto& epochs = result.epochs;
    result.final_test_error = epochs.back().test_error;
    result.best_test_error = kNaN;
    for (const auto& e : epochs) {
      if (!std::isnan(e.test_error) && !(e.test_error >= result.best_test_error)) result.best_test_error = e.test_error;
    }
    const auto last = std::min<size_t>(10, epochs.size());
    const auto mean_of = [&](double EpochMetrics::*field) {
      double sum = 0;
      for (auto it = epochs.end() - static_cast<std::ptrdiff_t>(last); it != epochs.end(); ++it) sum += (*it).*field;
      return sum / static_cast<double>(last);
    };
    result.last10_test_error = mean_of(&EpochMetrics::test_error);
    result.last10_validation_error = mean_of(&EpochMetrics::validation_error);
    result.last10_test_top5_error = mean_of(&EpochMetrics::test_top5_error);
  }

  TrainConfig config_;
  TrainOptions options_;
  distributed::World world_;
  Activity& activity_;  // what the run is doing, for the reason of a failure (train())
  torch::Device device_;
  RunDirectory* run_dir_ = nullptr;  // not owned
  int64_t num_classes_ = 0;
  torch::Tensor train_images_, train_labels_, test_images_, test_labels_, validation_images_, validation_labels_;
  std::optional<data::ImageFolder> train_folder_, test_folder_;  // image-folder data sets instead of the tensors
  std::optional<data::BatchAugmenter> augmenter_;
  std::shared_ptr<models::Classifier> model_;
  std::optional<torch::optim::SGD> optimizer_;
  std::optional<CovarianceEstimator> estimator_;
  std::optional<ComparisonLoss> comparison_;
  std::optional<gan::GeneratedBatches> generated_;  // gan: images of a finished generator run
  std::optional<TrainingStep> training_step_;  // cuda_graph: borrows model_, optimizer_ and estimator_
  std::unique_ptr<distributed::Communicator> communicator_;  // ranks > 1
  std::optional<distributed::GradientReducer> reducer_;       // ranks > 1: hooks on model_'s parameters
  LambdaSchedule schedule_;
  TrainResult result_;  // the epochs completed so far
  std::optional<ProgressNotes> progress_notes_;  // for isda-run's stall watch (rank 0 writes)
  bool logged_done_ = false;
};

}  // namespace

TrainResult train(const TrainConfig& config, const TrainOptions& options) {
  std::optional<RunDirectory> owned;
  RunDirectory* run_dir = options.opened_run_dir;
  Activity activity;
  try {
    if (run_dir == nullptr && options.run_dir) run_dir = &owned.emplace(*options.run_dir);
    validate(config, "config");
    Run run(config, options, run_dir, activity);
    return run.run();
  } catch (const Interrupted&) {
    throw;
  } catch (const RunFailure&) {
    throw;
  } catch (const std::exception& e) {
    auto failure = failure_of(e);
    // A config or a data set is wrong wherever the run stands; anything else says where it failed.
    if (failure.exit_code != kExitUsage && failure.exit_code != kExitData && failure.exit_code != kExitBusy) {
      failure.reason = activity.describe() + ": " + failure.reason;
    }
    if (run_dir != nullptr && options.log_failures) log_failure(*run_dir, failure);
    throw RunFailure(failure);
  }
}

}  // namespace isda::train
