#include "train/trainer.h"

#include "common/system.h"
#include "data/augment.h"
#include "data/datasets.h"
#include "data/imagenet.h"
#include "distributed/collectives.h"
#include "distributed/communicator.h"
#include "distributed/estimator_sync.h"
#include "distributed/sharded_estimator.h"
#include "distributed/gradient_reducer.h"
#include "isda/isda_loss.h"
#include "isda/lambda_schedule.h"
#include "models/batch_norm.h"
#include "models/registry.h"
#include "support/torch_compat.h"
#include "train/checkpoint.h"
#include "train/estimator_memory.h"
#include "train/evaluation.h"
#include "train/extra_images.h"
#include "train/losses.h"
#include "train/random_streams.h"
#include "train/run_session.h"
#include "train/training_step.h"

#include <ATen/CPUGeneratorImpl.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <limits>
#include <mutex>
#include <tuple>

namespace isda::train {
namespace {

// The ISDA estimator's state dtype (estimator_dtype: float64 or float32).
torch::Dtype estimator_dtype(const TrainConfig& config) {
  return estimator_element_bytes(config) == 4 ? torch::kFloat32 : torch::kFloat64;
}

using Clock = std::chrono::steady_clock;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// A loss above this is treated as divergence (cross-entropy of a sane network stays far below).
constexpr double kExplodingLoss = 1e4;
// How often (in steps) the loss is read back to catch divergence early; each read synchronises.
constexpr int64_t kDivergenceCheckInterval = 50;

// The random streams of a run, each derived from its seed with mix() and its own salt, so that
// none depends on how many numbers another drew (and a resumed run draws what it would have).
// Epoch e's shuffling uses salt e + 1 (salts below these), its global generator kGlobalPerEpoch + e.
constexpr uint64_t kAugmentStream = 0xa09;        // pad-crop-flip, Cutout, AutoAugment
constexpr uint64_t kComparisonLossStream = 0x1055;  // DisturbLabel's label noise
constexpr uint64_t kGlobalPerEpoch = 0x5eed;      // torch's global CPU generator (dropout, ShakeDrop)
constexpr uint64_t kImageLoaderStream = 0x1a6e;   // image folders' per-image crops and flips

// The loss of a step and the clean logits (for the error counts).
struct StepOutput {
  torch::Tensor loss;
  torch::Tensor logits;
};

// The sums of the epoch in progress (zero between epochs); a stop inside an epoch checkpoints them.
struct PartialEpoch {
  double loss_sum = 0;
  int64_t wrong = 0;
  double lambda = 0;
  double train_seconds = 0;
};

// The classifier: data -> augmentation -> model -> loss (ISDA, cross-entropy or a comparison
// loss) -> SGD, one or several ranks, evaluated after every epoch. Plugged into the run harness.
class ClassifierTask : public RunTask {
 public:
  ClassifierTask(RunSession& session, const TrainOptions& options)
      : session_(session),
        config_(session.config()),
        world_(session.world()),
        device_(session.device()),
        communicator_(session.communicator()),
        bf16_(session.config().precision == "bf16") {
    const auto& config = config_;
    Activity& activity = session.activity();
    activity.set("loading the data");
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

    activity.set("building the model");
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
      distributed::broadcast_buffers(communicator_, *model_);
      if (config.sync_bn) models::synchronize_batch_norm(*model_, communicator_);
      reducer_.emplace(model_->parameters(), *communicator_);
    }
    optimizer_.emplace(model_->parameters(), torch::optim::SGDOptions(config.lr)
                                                 .momentum(config.momentum)
                                                 .nesterov(config.nesterov)
                                                 .weight_decay(config.weight_decay));
    // The estimator's memory is stated before it is allocated: one that cannot fit fails in one line.
    if (const auto memory = estimator_memory(config, num_classes_, model_->feature_dim())) {
      const bool cuda = device_.is_cuda();
      const int64_t available = cuda ? compat::cuda_memory_free_bytes(std::max<int>(0, device_.index()))
                                     : static_cast<int64_t>(common::available_memory_bytes());
      const auto problem = estimator_fit_problem(*memory, available, cuda ? device_.str() : "this machine's memory");
      if (!problem.empty()) throw ConfigError("estimator: " + problem);
    }
    if (config.method == "isda" && communicator_ &&
        shards_estimator(config.covariance, config.estimator_sharding, world_.size)) {
      sharded_estimator_.emplace(num_classes_, model_->feature_dim(), *communicator_, device_, estimator_dtype(config));
    } else if (config.method == "isda") {
      estimator_.emplace(parse_covariance_kind(config.covariance), num_classes_, model_->feature_dim(), device_,
                         estimator_dtype(config));
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
      if (!options.open_extra_images) {
        throw ConfigError("config: gan: this program cannot read generator runs (no opener of generated images given)");
      }
      const auto* run_dir = session.run_dir();
      extra_images_ = options.open_extra_images(ExtraImagesRequest{config, run_dir ? run_dir->path() : "", device_, train_images_});
    }
    schedule_ = LambdaSchedule{parse_lambda_schedule(config.lambda_schedule), config.lambda0};
    if (config.cuda_graph) {
      TrainingStep::Options step_options;
      step_options.bf16 = bf16_;
      step_options.capture = true;
      step_options.batch_size = config.batch_size;
      training_step_.emplace(*model_, *optimizer_, estimator_ ? &*estimator_ : nullptr, device_, step_options);
    }
  }

  EpochMetrics train_epoch(int64_t epoch, int64_t first_step) override {
    const auto started = Clock::now();
    const int64_t n = train_labels_.size(0);
    const int64_t batch = config_.batch_size;
    const int64_t steps = steps_per_epoch(n);
    const int64_t used = (steps - 1) * batch + global_batch_count(n, steps - 1);  // images this epoch trains on
    const double lr = learning_rate(config_, epoch);
    for (auto& group : optimizer_->param_groups()) static_cast<torch::optim::SGDOptions&>(group.options()).lr(lr);
    // Rank 0 draws what one process would; every other rank its own stream (dropout, ShakeDrop).
    if (first_step == 0) {
      torch::manual_seed(mix(config_.seed, kGlobalPerEpoch + static_cast<uint64_t>(epoch)) ^
                         (static_cast<uint64_t>(world_.rank) * 0x9e3779b97f4a7c15ULL));
    }

    model_->train();
    const auto order = epoch_order(epoch);
    std::optional<data::ImageBatchLoader> decoder;  // image folders: this epoch's batches, decoded ahead
    if (train_folder_) decoder.emplace(*train_folder_, share_of_order(order, n), loader_options(true, epoch), first_step);
    const auto device_zero = [&](torch::Dtype dtype) {
      return torch::zeros({}, torch::TensorOptions().dtype(dtype).device(device_));
    };
    auto loss_sum = device_zero(torch::kFloat64) + partial_.loss_sum;
    auto wrong = device_zero(torch::kInt64) + partial_.wrong;
    const auto train_started = Clock::now();
    Activity& activity = session_.activity();
    for (int64_t step = first_step; step < steps; ++step) {
      activity = Activity{"training", epoch + 1, step + 1, steps};
      const int64_t count = global_batch_count(n, step);
      auto index = order.narrow(0, step * batch, count);
      torch::Tensor images, labels;
      if (decoder) {
        std::tie(images, labels) = next_decoded_batch(*decoder, *augmenter_, device_);
      } else if (communicator_) {
        const auto rows = share_rows(count);
        index = index.index_select(0, rows.to(index.device()));
        images = augmenter_->train_batch_share(train_images_.index_select(0, index), count, rows);
        labels = train_labels_.index_select(0, index);
      } else {
        std::tie(images, labels) = resident_batch(index, epoch, step);
      }
      if (config_.channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
      partial_.lambda = schedule_.at(epoch, step, steps, config_.epochs);
      const auto out = training_step_  ? graphed_step(images, labels, partial_.lambda)
                       : communicator_ ? data_parallel_step(images, labels, partial_.lambda)
                                       : ordinary_step(images, labels, partial_.lambda);
      // This rank's real images (image folders decode only this rank's share; generated images
      // follow the real ones and are not counted).
      const int64_t real = decoder ? labels.size(0) : index.size(0);
      loss_sum += out.loss.detach().to(torch::kFloat64) * static_cast<double>(real);
      wrong += out.logits.detach().narrow(0, 0, real).argmax(1).ne(labels.narrow(0, 0, real)).sum();
      if ((step + 1) % kDivergenceCheckInterval == 0) check_loss(out.loss.item<double>(), epoch, step);

      const int signal = session_.step_finished(epoch, step + 1);
      if (signal != 0 && step + 1 < steps) {
        const auto sums = distributed::sum_over_ranks(communicator_, {loss_sum.item<double>(), static_cast<double>(wrong.item<int64_t>())});
        partial_.loss_sum = sums[0];
        partial_.wrong = static_cast<int64_t>(sums[1]);
        partial_.train_seconds += std::chrono::duration<double>(Clock::now() - train_started).count();
        session_.stop_within_epoch(signal, epoch, step + 1);
      }
    }
    const double train_seconds = partial_.train_seconds + std::chrono::duration<double>(Clock::now() - train_started).count();

    activity.set("evaluating", epoch + 1);
    const auto totals = distributed::sum_over_ranks(communicator_, {loss_sum.item<double>(), static_cast<double>(wrong.item<int64_t>())});
    // Per-rank BatchNorm keeps per-rank running statistics; rank 0's are the run's (as DDP's
    // broadcast_buffers), given to every rank before it evaluates.
    if (!config_.sync_bn) distributed::broadcast_buffers(communicator_, *model_);

    EpochMetrics m;
    m.epoch = epoch + 1;
    m.train_loss = totals[0] / static_cast<double>(used);
    m.train_error = 100.0 * totals[1] / static_cast<double>(used);
    check_loss(m.train_loss, epoch, steps - 1);
    const auto evaluation = evaluation_context();
    const auto test = test_images_.defined() ? evaluation.on_tensors(test_images_, test_labels_)
                      : test_folder_         ? evaluation.on_folder(*test_folder_, loader_options(false, 0))
                                             : ErrorRates{kNaN, kNaN};
    m.test_error = test.top1;
    m.test_top5_error = test.top5;
    m.validation_error = validation_images_.defined() ? evaluation.on_tensors(validation_images_, validation_labels_).top1 : kNaN;
    m.lambda = partial_.lambda;
    m.lr = lr;
    m.seconds = partial_.train_seconds + std::chrono::duration<double>(Clock::now() - started).count();
    m.images_per_second = static_cast<double>(used) / train_seconds;
    partial_ = PartialEpoch{};
    return m;
  }

  // Data parallel: every rank's CPU generator, gathered for rank 0's checkpoint.
  void gather_checkpoint_state() override {
    if (!communicator_) return;
    auto generator = at::detail::getDefaultCPUGenerator();
    torch::Tensor state;
    {
      std::lock_guard<std::mutex> lock(generator.mutex());
      state = generator.get_state();
    }
    rank_cpu_rng_ = communicator_->all_gather(state);
    if (sharded_estimator_) sharded_estimator_->gather_for_checkpoint();
  }

  void save(nlohmann::json& meta, torch::serialize::OutputArchive& archive) override {
    meta["loss_sum"] = partial_.loss_sum;
    meta["wrong"] = partial_.wrong;
    meta["lambda"] = partial_.lambda;
    meta["train_seconds"] = partial_.train_seconds;
    save_checkpoint_parts(archive, checkpoint_parts());
  }

  void load(const nlohmann::json& meta, torch::serialize::InputArchive& archive) override {
    partial_.loss_sum = meta.at("loss_sum").get<double>();
    partial_.wrong = meta.at("wrong").get<int64_t>();
    partial_.lambda = meta.at("lambda").get<double>();
    partial_.train_seconds = meta.at("train_seconds").get<double>();
    if (world_.rank != 0) {  // the partial sums are the ranks' together, kept once (by rank 0)
      partial_.loss_sum = 0;
      partial_.wrong = 0;
    }
    load_checkpoint_parts(archive, checkpoint_parts());
    model_->to(device_);
  }

  void finish(TrainResult& result) override {
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

 private:
  // --- batches -----------------------------------------------------------------------------------

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

  torch::Tensor epoch_order(int64_t epoch) const {
    auto generator = at::detail::createCPUGenerator(mix(config_.seed, static_cast<uint64_t>(epoch) + 1));
    return torch::randperm(train_labels_.size(0), generator, torch::TensorOptions().dtype(torch::kInt64)).to(device_);
  }

  // The augmented batch of resident images `index`, with generated images appended when the run has
  // a generator (they go through the same augmentation).
  std::pair<torch::Tensor, torch::Tensor> resident_batch(const torch::Tensor& index, int64_t epoch, int64_t step) {
    auto images = train_images_.index_select(0, index);
    auto labels = train_labels_.index_select(0, index);
    if (extra_images_) {
      auto [extra_images, extra_labels] = extra_images_->draw(index.size(0), epoch, step);
      images = torch::cat({images, extra_images}, 0);
      labels = torch::cat({labels, extra_labels}, 0);
    }
    return {augmenter_->train_batch(images), labels};
  }

  // --- steps -------------------------------------------------------------------------------------

  // One data-parallel step: this rank's share forward, the ISDA estimator merged with the whole
  // global batch (its features gathered from every rank, in rank order) so that every rank holds
  // the estimator one process would, backward with gradients all-reduced in buckets, SGD.
  StepOutput data_parallel_step(const torch::Tensor& images, const torch::Tensor& labels, double lambda) {
    torch::Tensor features;
    {
      compat::CudaAutocastGuard autocast(bf16_);
      features = model_->features(images);
    }
    features = features.to(torch::kFloat32);
    auto& head = model_->head();
    auto logits = head->forward(features);
    torch::Tensor loss;
    if (sharded_estimator_) {
      sharded_estimator_->merge_global_batch(features, labels);
      const auto terms = lambda == 0.0 ? torch::Tensor() : sharded_estimator_->quadratic_terms(head->weight, labels);
      loss = torch::nn::functional::cross_entropy(add_quadratic_terms(logits, terms, lambda), labels);
    } else if (estimator_) {
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
      compat::CudaAutocastGuard autocast(bf16_);
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

  void check_loss(double loss, int64_t epoch, int64_t step) const {
    if (std::isfinite(loss) && loss < kExplodingLoss) return;
    throw TrainingError(fmt::format("training loss {} {} in epoch {} (step {})", std::isfinite(loss) ? "exploded to" : "became",
                                    loss, epoch + 1, step + 1));
  }

  Evaluation evaluation_context() {
    return Evaluation{*model_, *augmenter_, device_, world_, communicator_, bf16_, config_.channels_last};
  }

  // --- image folders (ImageNet): decoded batch by batch on worker threads ---------------------

  void open_image_folders(const std::string& root) {
    const auto folders = data::scan_imagenet(root);
    train_folder_ = data::sample_image_folder(folders.train, config_.train_limit, config_.split_seed);
    test_folder_ = data::sample_image_folder(folders.val, config_.test_limit, config_.split_seed);
    num_classes_ = static_cast<int64_t>(train_folder_->classes.size());
    train_labels_ = torch::tensor(train_folder_->labels, torch::kInt64);  // its size and the epoch order only
  }

  // This rank's images of an epoch in order, global batch by global batch (image folders).
  std::vector<int64_t> share_of_order(const torch::Tensor& order, int64_t n) const {
    const auto cpu = order.to(torch::kCPU).contiguous();
    const std::vector<int64_t> all(cpu.data_ptr<int64_t>(), cpu.data_ptr<int64_t>() + cpu.numel());
    if (!communicator_) return all;
    std::vector<int64_t> share;
    for (int64_t step = 0, steps = steps_per_epoch(n); step < steps; ++step) {
      const int64_t count = global_batch_count(n, step);
      for (int64_t i = world_.rank; i < count; i += world_.size) share.push_back(all[static_cast<size_t>(step * config_.batch_size + i)]);
    }
    return share;
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

  CheckpointParts checkpoint_parts() {
    return {*model_,     *optimizer_,   estimator_ ? &*estimator_ : nullptr, comparison_ ? &*comparison_ : nullptr,
            *augmenter_, rank_cpu_rng_, world_.rank, sharded_estimator_ ? &*sharded_estimator_ : nullptr};
  }

  RunSession& session_;
  const TrainConfig& config_;
  distributed::World world_;
  torch::Device device_;
  distributed::Communicator* communicator_;  // the session's; null for one process
  bool bf16_;
  int64_t num_classes_ = 0;
  torch::Tensor train_images_, train_labels_, test_images_, test_labels_, validation_images_, validation_labels_;
  std::optional<data::ImageFolder> train_folder_, test_folder_;  // image-folder data sets instead of the tensors
  std::optional<data::BatchAugmenter> augmenter_;
  std::shared_ptr<models::Classifier> model_;
  std::optional<torch::optim::SGD> optimizer_;
  std::optional<CovarianceEstimator> estimator_;
  std::optional<distributed::ShardedEstimator> sharded_estimator_;  // instead of estimator_: full covariance, ranks > 1
  std::optional<ComparisonLoss> comparison_;
  std::unique_ptr<ExtraImages> extra_images_;  // gan: images of a finished generator run
  std::optional<TrainingStep> training_step_;  // cuda_graph: borrows model_, optimizer_ and estimator_
  std::optional<distributed::GradientReducer> reducer_;  // ranks > 1: hooks on model_'s parameters
  LambdaSchedule schedule_;
  PartialEpoch partial_;
  torch::Tensor rank_cpu_rng_;  // data parallel: the ranks' generators, gathered for a checkpoint
};

}  // namespace

TrainResult train(const TrainConfig& config, const TrainOptions& options) {
  return run_in_session(config, options, [&](RunSession& session) {
    ClassifierTask task(session, options);
    return session.run(task);
  });
}

}  // namespace isda::train
