#pragma once
// One registry from a network's name to its constructor.

#include "models/classifier.h"

#include <memory>
#include <string>
#include <vector>

namespace isda::models {

struct ModelOptions {
  int64_t num_classes = 10;
  int64_t in_channels = 3;
};

// Builds the named network. Throws std::invalid_argument for an unknown name, listing the known ones.
std::shared_ptr<Classifier> make_model(const std::string& name, const ModelOptions& options);

// Every registered name, in a stable order.
std::vector<std::string> model_names();

}  // namespace isda::models
