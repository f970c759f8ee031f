#include "support/device.h"

#include <torch/torch.h>

#include <stdexcept>

namespace isda::support {

torch::Device resolve_device(const std::string& configured, const distributed::World& world) {
  const auto this_ranks_gpu = [&] {
    const auto index = distributed::cuda_device_index(world, static_cast<int>(torch::cuda::device_count()));
    return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(index));
  };
  if (configured == "auto") return torch::cuda::is_available() ? this_ranks_gpu() : torch::Device(torch::kCPU);
  torch::Device device(configured);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    throw std::runtime_error("device \"" + configured + "\" requested but no CUDA device is available");
  }
  if (device.is_cuda() && !device.has_index()) return this_ranks_gpu();
  return device;
}

}  // namespace isda::support
