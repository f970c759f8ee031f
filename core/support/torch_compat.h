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

#include <ATen/autocast_mode.h>

namespace isda::compat {

// Turns CUDA autocast on (to `dtype`) or off for the calling thread. LibTorch 2.4 replaced the
// CUDA-only set_enabled / set_autocast_gpu_dtype with per-device-type functions.
inline void set_cuda_autocast(bool enabled, at::ScalarType dtype) {
#if ISDA_TORCH_AT_LEAST(2, 4)
  at::autocast::set_autocast_dtype(at::kCUDA, dtype);
  at::autocast::set_autocast_enabled(at::kCUDA, enabled);
#else
  at::autocast::set_autocast_gpu_dtype(dtype);
  at::autocast::set_enabled(enabled);
#endif
  if (!enabled) at::autocast::clear_cache();
}

// bf16 CUDA autocast for the guard's lifetime when `enabled` (a no-op otherwise).
class CudaAutocastGuard {
 public:
  explicit CudaAutocastGuard(bool enabled) : enabled_(enabled) {
    if (enabled_) set_cuda_autocast(true, at::kBFloat16);
  }
  ~CudaAutocastGuard() {
    if (enabled_) set_cuda_autocast(false, at::kBFloat16);
  }
  CudaAutocastGuard(const CudaAutocastGuard&) = delete;
  CudaAutocastGuard& operator=(const CudaAutocastGuard&) = delete;

 private:
  bool enabled_;
};

}  // namespace isda::compat
