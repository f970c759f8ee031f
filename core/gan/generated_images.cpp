#include "gan/generated_images.h"

#include "common/run_files.h"
#include "data/preview.h"
#include "train/checkpoint.h"
#include "train/random_streams.h"
#include "train/run_directory.h"

#include <ATen/CPUGeneratorImpl.h>
#include <sys/stat.h>

#include <cmath>
#include <optional>

namespace isda::gan {
namespace {

using train::mix;

bool is_directory(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISDIR(info.st_mode);
}

bool is_file(const std::string& path) {
  struct stat info {};
  return ::stat(path.c_str(), &info) == 0 && S_ISREG(info.st_mode);
}

std::string parent_of(const std::string& path) {
  auto trimmed = path;
  while (trimmed.size() > 1 && trimmed.back() == '/') trimmed.pop_back();
  const auto slash = trimmed.rfind('/');
  if (slash == std::string::npos) return ".";
  return slash == 0 ? "/" : trimmed.substr(0, slash);
}

constexpr uint64_t kGeneratedStream = 0x6a4;  // the classifier's generated images, salted per step

}  // namespace

GeneratorBank::GeneratorBank(const GanShape& shape, const torch::Device& device) : shape_(shape), device_(device) {
  const int64_t count = shape.kind == GanKind::kWgan ? shape.classes : 1;
  for (int64_t i = 0; i < count; ++i) {
    Generator g(shape);
    g->to(device);
    generators_.push_back(g);
  }
}

torch::Tensor generator_input(const GanShape& shape, const torch::Tensor& labels, at::Generator& rng,
                              const torch::Device& device, torch::Tensor* continuous_codes) {
  const int64_t n = labels.size(0);
  auto noise = torch::randn({n, kNoiseDim}, rng, torch::kFloat32);
  std::vector<torch::Tensor> parts = {noise};
  if (shape.kind != GanKind::kWgan) parts.push_back(torch::one_hot(labels.to(torch::kCPU), shape.classes).to(torch::kFloat32));
  if (shape.kind == GanKind::kInfogan) {
    auto codes = torch::rand({n, kContinuousCodes}, rng, torch::kFloat32) * 2 - 1;
    parts.push_back(codes);
    if (continuous_codes != nullptr) *continuous_codes = codes.to(device);
  }
  return torch::cat(parts, 1).to(device);
}

torch::Tensor GeneratorBank::sample(const torch::Tensor& labels, at::Generator& rng) {
  torch::NoGradGuard no_grad;
  const auto cpu_labels = labels.to(torch::kCPU);
  const int64_t n = cpu_labels.size(0);
  auto input = generator_input(shape_, cpu_labels, rng, device_);
  // Batch statistics, as in training (DCGAN's reference code samples so): after a few hundred
  // steps the running averages still lag the generator. BatchNorm needs two rows for them.
  if (n == 1) input = torch::cat({input, input}, 0);
  // Training mode updates the running averages; they are put back, so that sampling changes nothing
  // a checkpoint holds.
  const auto run = [&](Generator& g) {
    std::vector<torch::Tensor> saved;
    for (const auto& b : g->buffers()) saved.push_back(b.clone());
    g->train();
    auto made = g->forward(input).narrow(0, 0, n);
    const auto buffers = g->buffers();
    for (size_t i = 0; i < buffers.size(); ++i) buffers[i].copy_(saved[i]);
    return made;
  };
  if (shape_.kind != GanKind::kWgan) return run(generators_.front());
  // WGAN: every class's generator sees the whole batch (its statistics); each row keeps its class's image.
  const auto rows = cpu_labels.to(device_).view({n, 1, 1, 1});
  torch::Tensor images;
  for (int64_t c = 0; c < shape_.classes; ++c) {
    const auto made = run(generators_[static_cast<size_t>(c)]);
    images = c == 0 ? made : torch::where(rows.eq(c), made, images);
  }
  return images;
}

data::RgbImage sample_grid(GeneratorBank& bank, int64_t per_class, uint64_t seed) {
  auto rng = at::detail::createCPUGenerator(seed);
  const auto& shape = bank.shape();
  const auto labels = torch::arange(shape.classes * per_class, torch::kInt64).floor_divide(per_class);
  const auto pixels = to_uint8(bank.sample(labels, rng)).to(torch::kCPU).contiguous();
  return data::tile_grid(pixels.data_ptr<uint8_t>(), shape.classes, per_class, shape.channels, shape.size, shape.size, 2);
}

torch::Tensor to_uint8(const torch::Tensor& images) {
  return ((images + 1) * 127.5).round().clamp(0, 255).to(torch::kUInt8);
}

std::string resolve_generator_run(const train::TrainConfig& classifier, const std::string& run_dir) {
  const auto& named = classifier.generator_run;
  if (named.empty()) {
    throw train::ConfigError("generator_run: missing: gan \"" + classifier.gan +
                             "\" needs the finished generator run whose images it mixes in (its id or directory)");
  }
  std::string directory = named;
  if (named.find('/') == std::string::npos) {
    if (run_dir.empty() && !is_directory(named)) {
      throw train::ConfigError("generator_run: \"" + named + "\" is an id, which needs --run-dir (its runs directory); "
                               "give the generator run's directory instead");
    }
    if (!run_dir.empty()) directory = parent_of(run_dir) + "/" + named;
  }
  if (!is_directory(directory)) throw train::ConfigError("generator_run: no generator run at " + directory);
  if (!is_file(directory + "/" + run_files::kResult)) {
    throw train::ConfigError("generator_run: the generator run at " + directory + " is not done (no result.json)");
  }
  const auto config = train::config_from_json(train::load_config_file(directory + "/" + run_files::kConfig), directory + "/" + run_files::kConfig);
  if (config.task != classifier.gan) {
    throw train::ConfigError("generator_run: " + directory + " trained task \"" + config.task + "\", not gan \"" +
                             classifier.gan + "\"");
  }
  if (config.dataset != classifier.dataset) {
    throw train::ConfigError("generator_run: " + directory + " trained on " + config.dataset + ", not dataset " +
                             classifier.dataset);
  }
  // The generator must have seen exactly the classifier's training images: on another split its
  // images would carry this run's validation images into its training batches.
  const auto differs = [&](const char* key, const std::string& there, const std::string& here) {
    throw train::ConfigError("generator_run: " + directory + " trained on other images (" + key + " " + there +
                             " there, " + here + " here): train a generator run with this run's data keys");
  };
  const auto text = [](bool value) { return std::string(value ? "true" : "false"); };
  if (config.holdout != classifier.holdout) differs("holdout", text(config.holdout), text(classifier.holdout));
  if (classifier.holdout && config.split_seed != classifier.split_seed) {
    differs("split_seed", std::to_string(config.split_seed), std::to_string(classifier.split_seed));
  }
  if (config.train_limit != classifier.train_limit) {
    differs("train_limit", std::to_string(config.train_limit), std::to_string(classifier.train_limit));
  }
  return directory;
}

GeneratorBank load_generator_run(const std::string& directory, const torch::Device& device) {
  const auto path = directory + "/" + run_files::kCheckpoint;
  const auto payload = train::RunDirectory::read_checkpoint_file(path);
  std::optional<GeneratorBank> loaded;
  train::open_checkpoint(payload, path, [&](const nlohmann::json& meta, torch::serialize::InputArchive& archive) {
    const auto& s = meta.at("shape");
    GanShape shape;
    shape.kind = parse_gan_kind(s.at("kind").get<std::string>());
    shape.channels = s.at("channels").get<int64_t>();
    shape.size = s.at("size").get<int64_t>();
    shape.classes = s.at("classes").get<int64_t>();
    shape.width = s.at("width").get<int64_t>();
    GeneratorBank bank(shape, torch::kCPU);
    for (size_t i = 0; i < bank.generators().size(); ++i) {
      torch::serialize::InputArchive g;
      archive.read(GeneratorBank::archive_key(i), g);
      bank.generators()[i]->load(g);
    }
    GeneratorBank on_device(shape, device);
    for (size_t i = 0; i < bank.generators().size(); ++i) {
      torch::NoGradGuard no_grad;
      const auto from = bank.generators()[i]->named_parameters();
      for (auto& p : on_device.generators()[i]->named_parameters()) p.value().copy_(from[p.key()]);
      const auto buffers = bank.generators()[i]->named_buffers();
      for (auto& b : on_device.generators()[i]->named_buffers()) b.value().copy_(buffers[b.key()]);
    }
    loaded.emplace(std::move(on_device));
  });
  return std::move(*loaded);
}

GeneratedBatches::GeneratedBatches(GeneratorBank bank, double fraction, uint64_t seed)
    : bank_(std::move(bank)), fraction_(fraction), seed_(seed) {}

int64_t GeneratedBatches::count_for(int64_t real) const {
  return static_cast<int64_t>(std::llround(static_cast<double>(real) * fraction_ / (1 - fraction_)));
}

std::pair<torch::Tensor, torch::Tensor> GeneratedBatches::draw(int64_t real, int64_t epoch, int64_t step) {
  auto rng = at::detail::createCPUGenerator(mix(mix(seed_, kGeneratedStream + static_cast<uint64_t>(epoch)),
                                                static_cast<uint64_t>(step)));
  const int64_t k = count_for(real);
  const auto labels = torch::randint(bank_.shape().classes, {k}, rng, torch::kInt64);
  auto images = to_uint8(bank_.sample(labels, rng));
  return {images, labels.to(images.device())};
}

std::unique_ptr<train::ExtraImages> open_generated_images(const train::ExtraImagesRequest& request) {
  const auto& train_images = request.train_images;
  const auto directory = resolve_generator_run(request.config, request.run_dir);
  auto bank = load_generator_run(directory, request.device);
  const auto& shape = bank.shape();
  if (shape.channels != train_images.size(1) || shape.size != train_images.size(2)) {
    throw train::ConfigError("generator_run: " + directory + " makes " + std::to_string(shape.channels) + "x" +
                             std::to_string(shape.size) + "x" + std::to_string(shape.size) + " images, this run trains on " +
                             std::to_string(train_images.size(1)) + "x" + std::to_string(train_images.size(2)) + "x" +
                             std::to_string(train_images.size(3)));
  }
  return std::make_unique<GeneratedBatches>(std::move(bank), request.config.generated_fraction, request.config.seed);
}

}  // namespace isda::gan
