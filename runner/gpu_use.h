#pragma once
// GPU use for isda-run's progress display, read from nvidia-smi (the driver's own tool), so the
// runner needs no CUDA library of its own.

#include <chrono>
#include <string>
#include <vector>

namespace isda::runner {

// How many NVIDIA GPUs this process may use, without loading CUDA: the driver's GPUs
// (/proc/driver/nvidia/gpus), at most as many as $CUDA_VISIBLE_DEVICES names when it is set.
int visible_gpu_count();

// One line per GPU, e.g. "GPU 0 NVIDIA H100 80GB HBM3: 87% busy, 23.1/79.6 GiB", from the output of
// `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total
// --format=csv,noheader,nounits`. Malformed lines are skipped.
std::vector<std::string> parse_gpu_use(const std::string& nvidia_smi_csv);

// Runs nvidia-smi from PATH and returns parse_gpu_use of its output; empty when it is not on PATH,
// cannot start or exits non-zero. Returns within ~2 s whatever nvidia-smi does: one that has not
// finished by then (a hung driver) is killed with everything it started and reaped, and the result
// is one line saying so.
std::vector<std::string> query_gpu_use();

// The same with the tool (a path, or a name looked up on PATH) and the time limit given.
std::vector<std::string> query_gpu_use(const std::string& tool, std::chrono::milliseconds timeout);

}  // namespace isda::runner
