#pragma once
// What a run executes on and with, for its provenance: the host, the suite's source commit,
// LibTorch and, on a CUDA device, the GPU, its driver, CUDA and cuDNN. isda-train writes it into
// its `start` event; the results store keeps the last one per run. Free of LibTorch.

#include "common/run_events.h"

#include <string>

namespace isda::support {

// The record's struct (common/run_events.h), so that the writer and the results store share it.
using RunEnvironment = events::Environment;

// The environment of a run on CUDA device `cuda_index` (when `on_cuda`) or on the CPU. Never
// throws: what cannot be found out stays empty.
RunEnvironment describe_environment(bool on_cuda, int cuda_index);

// Version numbers as LibTorch reports them, as text: CUDA runtime 12080 -> "12.8"; cuDNN 8902 ->
// "8.9.2" (before 9: major * 1000 + minor * 100 + patch), 90100 -> "9.1.0" (since 9: * 10000).
std::string cuda_version_text(long version);
std::string cudnn_version_text(long version);

// The driver version in the text of /proc/driver/nvidia/version ("NVRM version: NVIDIA UNIX
// x86_64 Kernel Module  570.124.06  ..."), or "".
std::string nvidia_driver_version(const std::string& proc_version_text);

}  // namespace isda::support
