#pragma once
// The device a run (or a rank of one) trains on, from its config's `device` key: one place for the
// classifier and generator trainers.

#include "distributed/world.h"

#include <torch/types.h>

#include <string>

namespace isda::support {

// "auto": the CUDA device of this rank (distributed::cuda_device_index among the devices this
// process sees) when LibTorch sees one, else the CPU. "cuda" likewise; "cuda:N" and "cpu" as
// given. Throws std::runtime_error for a CUDA device where none is available, and
// distributed::WorldError for a rank with no device of its own.
torch::Device resolve_device(const std::string& configured, const distributed::World& world);

}  // namespace isda::support
