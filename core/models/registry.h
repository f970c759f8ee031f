#pragma once
// One registry from a network's name to its constructor (the zoo is described in models/README.md).

#include "models/classifier.h"
#include "models/model_names.h"

#include <array>
#include <memory>
#include <string>
#include <vector>

namespace isda::models {

struct ModelOptions {
  int64_t num_classes = 10;
  int64_t in_channels = 3;
  // Dropout rate in [0, 1): between the two convolutions of each block for the wrn* networks (the
  // authors used 0.3), on the deep features before the final layer for every other network
  // (Classifier::set_feature_dropout; the paper's "+ Dropout" rows of Table 3).
  double dropout = 0;
};

// What a registered network is, at its default number of classes.
struct ModelInfo {
  std::string name;
  int64_t parameter_count = 0;          // at default_num_classes and 3 input channels
  int64_t feature_dim = 0;              // A, the input size of the final layer
  int64_t default_num_classes = 0;      // 10 for the CIFAR networks, 1000 for the ImageNet ones
  std::array<int64_t, 3> input_shape{};  // (channels, height, width) of the paper's inputs
  bool uses_dropout = false;            // dropout inside the blocks (wrn*); others drop features
};

// Builds the named network. Throws std::invalid_argument for an unknown name (listing the known
// ones), for a dropout given to a network without dropout, and for invalid options.
std::shared_ptr<Classifier> make_model(const std::string& name, const ModelOptions& options);


// The entry of one name (builds that network once). Throws std::invalid_argument for an unknown name.
ModelInfo describe_model(const std::string& name);

// One entry per registered name, in model_names() order. Builds each network once (a few seconds,
// about 1 GB transiently, on the first call); later calls return the cached table. Thread-safe.
const std::vector<ModelInfo>& describe_models();

}  // namespace isda::models
