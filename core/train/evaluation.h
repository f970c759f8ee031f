#pragma once
// A classifier's test and validation errors, on resident image tensors or on image folders
// (decoded batch by batch). Data parallel: each rank counts its share of the images and the
// counts are summed, so every rank gets the errors of the whole set. Split from the training loop
// (train/trainer.cpp) so that the two read and change apart.

#include "data/augment.h"
#include "data/imagenet.h"
#include "distributed/communicator.h"
#include "models/classifier.h"

#include <torch/torch.h>

#include <utility>

namespace isda::train {

// Top-1 and top-5 error, percent.
struct ErrorRates {
  double top1, top5;
};

// What an evaluation runs on. The model is switched to eval mode and back to train mode.
struct Evaluation {
  models::Classifier& model;
  const data::BatchAugmenter& augmenter;
  torch::Device device;
  distributed::World world;
  distributed::Communicator* communicator = nullptr;  // null: one process
  bool bf16 = false;                                  // CUDA autocast (config precision bf16)
  bool channels_last = false;

  // The errors on `images` (uint8, resident on the device) with `labels`; each rank counts its
  // contiguous share.
  ErrorRates on_tensors(const torch::Tensor& images, const torch::Tensor& labels) const;
  // The errors on an image folder, loaded with `options` (crop, batch, threads); each rank counts
  // every world.size-th image from its rank on.
  ErrorRates on_folder(const data::ImageFolder& folder, data::ImageLoaderOptions options) const;
};

// The loader's next batch, normalised as for evaluation (the loader did the crop and flip), and its
// labels, on `device`. Throws std::logic_error when the loader has run out.
std::pair<torch::Tensor, torch::Tensor> next_decoded_batch(data::ImageBatchLoader& loader,
                                                           const data::BatchAugmenter& augmenter,
                                                           const torch::Device& device);

}  // namespace isda::train
