#pragma once
// The names of the paper's networks, without LibTorch, so that the runner can check specs without
// loading it. models/registry.h builds them; its registry holds exactly these names, in this order
// (checked when it is first built).

#include <cstdint>
#include <string>
#include <vector>

namespace isda::models {

// Every registered name, in a stable order: CIFAR networks by family and size, then ImageNet ones.
const std::vector<std::string>& model_names();

// The width A of a network's deep features (what its final linear layer and ISDA's estimator see),
// or 0 for an unknown name. tests/core/models checks it against every built network.
int64_t model_feature_dim(const std::string& name);

}  // namespace isda::models
