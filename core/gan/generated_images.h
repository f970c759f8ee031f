#pragma once
// The generators of a generator run, and labelled images drawn from them: what a classifier with
// "gan" mixes into its batches (handed to train::train as its extra images, train/extra_images.h)
// and what a sample grid shows.

#include "data/rgb_image.h"
#include "gan/gan_networks.h"
#include "train/extra_images.h"
#include "train/train_config.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <string>
#include <vector>

namespace isda::gan {

// One conditional generator (CGAN, ACGAN, infoGAN) or one unconditional generator per class (WGAN).
class GeneratorBank {
 public:
  GeneratorBank(const GanShape& shape, const torch::Device& device);

  const GanShape& shape() const { return shape_; }
  std::vector<Generator>& generators() { return generators_; }

  // Images in [-1, 1] (N, channels, size, size) on the device for `labels` (N, int64, any device):
  // each from its class's generator (WGAN) or conditioned on its label (infoGAN: as its categorical
  // code, continuous codes ~ U(-1, 1)); noise from `rng` (CPU). Without gradients, with BatchNorm on
  // the batch's statistics as in training.
  torch::Tensor sample(const torch::Tensor& labels, at::Generator& rng);

  // The archive keys of generator i in a generator run's checkpoint.
  static std::string archive_key(size_t i) { return "generator_" + std::to_string(i); }

 private:
  GanShape shape_;
  torch::Device device_;
  std::vector<Generator> generators_;
};

// `per_class` samples of each class, one row per class, drawn with noise from `seed`, each pixel 2x2:
// the `samples.png` of a generator run (tile layout: data/preview.h).
data::RgbImage sample_grid(GeneratorBank& bank, int64_t per_class, uint64_t seed);

// A generator's input for `labels` (CPU int64): noise ~ N(0, I) from `rng`, then the one-hot label
// (CGAN, ACGAN) or infoGAN's codes (the label as categorical code, then continuous codes ~ U(-1, 1),
// returned in `continuous_codes`). On `device`.
torch::Tensor generator_input(const GanShape& shape, const torch::Tensor& labels, at::Generator& rng,
                              const torch::Device& device, torch::Tensor* continuous_codes = nullptr);

// [-1, 1] floating -> uint8 0..255 (rounded), the representation the data sets and augmentation use.
torch::Tensor to_uint8(const torch::Tensor& images);

// The finished generator run `classifier.generator_run` names: an id, looked up as a directory beside
// `run_dir` (where isda-run puts every run), or a directory. Throws train::ConfigError
// "generator_run: ..." when it is absent, not done (no result.json), trained another kind or data
// set than `classifier` says, or other images of it (holdout, split_seed with a hold-out,
// train_limit); CheckpointError for an unreadable checkpoint.
std::string resolve_generator_run(const train::TrainConfig& classifier, const std::string& run_dir);

// Loads the generators of the finished generator run at `directory` onto `device` (read-only: the
// directory is not claimed, so many classifiers read it at once).
GeneratorBank load_generator_run(const std::string& directory, const torch::Device& device);

// What a classifier mixes into its batches: k = round(batch * f / (1 - f)) generated images beside
// a batch of `batch` real ones (f = generated_fraction), with uniformly drawn labels, all drawn from
// a generator seeded by (seed, epoch, step), so a resumed run draws the same images.
class GeneratedBatches : public train::ExtraImages {
 public:
  GeneratedBatches(GeneratorBank bank, double fraction, uint64_t seed);
  int64_t count_for(int64_t real) const;
  // (images uint8 (k, C, H, W), labels int64 (k)) on the bank's device.
  std::pair<torch::Tensor, torch::Tensor> draw(int64_t real, int64_t epoch, int64_t step) override;

 private:
  GeneratorBank bank_;
  double fraction_;
  uint64_t seed_;
};

// The GeneratedBatches of the classifier of `request` (its `gan` set): its generator run resolved
// beside its run directory and loaded, and checked to make images like its training images
// (channels, size). The opener callers of train::train hand in (TrainOptions::open_extra_images).
// Throws as resolve_generator_run and load_generator_run, and ConfigError "generator_run: ..." for
// a generator of other images.
std::unique_ptr<train::ExtraImages> open_generated_images(const train::ExtraImagesRequest& request);

}  // namespace isda::gan
