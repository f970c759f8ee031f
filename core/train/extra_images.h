#pragma once
// Images a classifier run mixes into its training batches beside the real ones: Table 3's rows,
// whose generated images come from a finished generator run (core/gan). core/train knows only this
// interface; the caller that links both hands the opener in (TrainOptions::open_extra_images), so
// core/train never includes core/gan.

#include "train/train_config.h"

#include <torch/torch.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>

namespace isda::train {

class ExtraImages {
 public:
  virtual ~ExtraImages() = default;
  // The images (uint8 (k, C, H, W)) and labels (int64 (k)) on the run's device to append to step
  // `step` of epoch `epoch`, a batch of `real` real images; the same for the same arguments, so a
  // resumed run draws what it would have.
  virtual std::pair<torch::Tensor, torch::Tensor> draw(int64_t real, int64_t epoch, int64_t step) = 0;
};

// What an opener is given: the classifier's config (its `gan` is set), its run directory ("" for
// none), its device and its training images (the generated ones must have their shape).
struct ExtraImagesRequest {
  const TrainConfig& config;
  std::string run_dir;
  torch::Device device;
  torch::Tensor train_images;
};

}  // namespace isda::train
