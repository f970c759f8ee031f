#pragma once
// The one place where differences between the LibTorch versions we build against are guarded:
// Debian 12's LibTorch 1.13 (CPU) and PyTorch 2.x's LibTorch (CUDA) on the GPU machine.

#include <torch/version.h>

#define ISDA_TORCH_AT_LEAST(major, minor) \
  (TORCH_VERSION_MAJOR > (major) || (TORCH_VERSION_MAJOR == (major) && TORCH_VERSION_MINOR >= (minor)))

#include <ATen/ATen.h>

#include <tuple>

namespace isda::compat {

// Sorted distinct values of a 1-D integer tensor, the index of each element's value among them,
// and how often each occurs. at::_unique2 has this signature in 1.13 and 2.x alike.
inline std::tuple<at::Tensor, at::Tensor, at::Tensor> unique_with_inverse_and_counts(const at::Tensor& values) {
  return at::_unique2(values, /*sorted=*/true, /*return_inverse=*/true, /*return_counts=*/true);
}

}  // namespace isda::compat
