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

// --- CUDA graphs and device memory (compiled only against a LibTorch with CUDA headers) ------
//
// ISDA_HAS_CUDA_GRAPHS is 1 where ATen's CUDA graph API, the header a CUDA build of LibTorch
// generates (c10/cuda/impl/cuda_cmake_macros.h) and the CUDA runtime's headers are all reachable:
// PyTorch's LibTorch with CUDA. Debian's CPU LibTorch 1.13 ships ATen/cuda headers but not the
// generated one (and no CUDA runtime), so there it is 0, also beside an installed CUDA toolkit, and
// the functions below say so instead of capturing.
#if defined(__has_include)
#if __has_include(<ATen/cuda/CUDAGraph.h>) && __has_include(<c10/cuda/impl/cuda_cmake_macros.h>) && \
    __has_include(<cuda_runtime_api.h>)
#define ISDA_HAS_CUDA_GRAPHS 1
#endif
#endif
#ifndef ISDA_HAS_CUDA_GRAPHS
#define ISDA_HAS_CUDA_GRAPHS 0
#endif

#if ISDA_HAS_CUDA_GRAPHS
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <cuda_runtime_api.h>
#endif

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace isda::compat {

inline constexpr bool kHasCudaGraphs = ISDA_HAS_CUDA_GRAPHS != 0;

#if ISDA_HAS_CUDA_GRAPHS
namespace detail {
inline void check_cuda(cudaError_t status, const char* what) {
  if (status != cudaSuccess) throw std::runtime_error(std::string(what) + ": " + cudaGetErrorString(status));
}
}  // namespace detail
#endif

// Bytes of device memory in use on CUDA device `index` (every process's, as the driver counts them),
// or -1 where this build has no CUDA runtime. Synchronises the device first.
inline int64_t cuda_memory_used_bytes(int index) {
#if ISDA_HAS_CUDA_GRAPHS
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(index));
  detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
  size_t free_bytes = 0, total_bytes = 0;
  detail::check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  return static_cast<int64_t>(total_bytes - free_bytes);
#else
  (void)index;
  return -1;
#endif
}

// Bytes of device memory free on CUDA device `index` (as the driver counts them), or -1 where this
// build has no CUDA runtime.
inline int64_t cuda_memory_free_bytes(int index) {
#if ISDA_HAS_CUDA_GRAPHS
  c10::cuda::CUDAGuard guard(static_cast<c10::DeviceIndex>(index));
  size_t free_bytes = 0, total_bytes = 0;
  detail::check_cuda(cudaMemGetInfo(&free_bytes, &total_bytes), "cudaMemGetInfo");
  return static_cast<int64_t>(free_bytes);
#else
  (void)index;
  return -1;
#endif
}

// One CUDA graph on one device: work captured once on a side stream and replayed on the current
// stream. Every function throws std::logic_error in a build without CUDA graphs (kHasCudaGraphs),
// and std::runtime_error (or c10::Error) when CUDA refuses. Not thread-safe.
class CudaGraph {
 public:
  explicit CudaGraph(int device_index) : device_index_(device_index) {}

  // Runs `body` eagerly on the graph's side stream, the device synchronised before and after: the
  // warm-up that a capture needs (lazily created handles and workspaces belong to that stream).
  void run_on_side_stream(const std::function<void()>& body) {
#if ISDA_HAS_CUDA_GRAPHS
    c10::cuda::CUDAGuard device(static_cast<c10::DeviceIndex>(device_index_));
    detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    {
      c10::cuda::CUDAStreamGuard stream(side_stream());
      body();
    }
    detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
#else
    (void)body;
    unavailable();
#endif
  }

  // Captures the kernels that `body` launches (it runs on the side stream, nothing executes),
  // replacing any earlier capture. Autocast's weight cache is off while capturing, as CUDA graphs
  // need. If `body` throws, the capture is abandoned and the exception passes on.
  void capture(const std::function<void()>& body) {
#if ISDA_HAS_CUDA_GRAPHS
    c10::cuda::CUDAGuard device(static_cast<c10::DeviceIndex>(device_index_));
    detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    graph_.reset();
    auto graph = std::make_unique<at::cuda::CUDAGraph>();
    const bool cache = at::autocast::is_autocast_cache_enabled();
    at::autocast::set_autocast_cache_enabled(false);
    {
      c10::cuda::CUDAStreamGuard stream(side_stream());
      graph->capture_begin();
      try {
        body();
      } catch (...) {
        try {
          graph->capture_end();
        } catch (...) {
        }
        at::autocast::set_autocast_cache_enabled(cache);
        throw;
      }
      graph->capture_end();
    }
    at::autocast::set_autocast_cache_enabled(cache);
    detail::check_cuda(cudaDeviceSynchronize(), "cudaDeviceSynchronize");
    graph_ = std::move(graph);
#else
    (void)body;
    unavailable();
#endif
  }

  // Launches the captured work on the current stream (asynchronous, like any kernel launch).
  void replay() {
#if ISDA_HAS_CUDA_GRAPHS
    if (!graph_) throw std::logic_error("CudaGraph::replay before capture");
    c10::cuda::CUDAGuard device(static_cast<c10::DeviceIndex>(device_index_));
    graph_->replay();
#else
    unavailable();
#endif
  }

  bool captured() const {
#if ISDA_HAS_CUDA_GRAPHS
    return graph_ != nullptr;
#else
    return false;
#endif
  }

 private:
#if ISDA_HAS_CUDA_GRAPHS
  c10::cuda::CUDAStream side_stream() {
    if (!stream_) stream_.emplace(c10::cuda::getStreamFromPool(false, static_cast<c10::DeviceIndex>(device_index_)));
    return *stream_;
  }
  std::unique_ptr<at::cuda::CUDAGraph> graph_;
  std::optional<c10::cuda::CUDAStream> stream_;
#else
  [[noreturn]] static void unavailable() {
    throw std::logic_error("this build of LibTorch has no CUDA graph support (compat::kHasCudaGraphs is false)");
  }
#endif
  int device_index_;
};

}  // namespace isda::compat
