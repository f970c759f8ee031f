#pragma once
// GPU use for isda-run's progress display, read from nvidia-smi (the driver's own tool), so the
// runner needs no CUDA library of its own.

#include <string>
#include <vector>

namespace isda::runner {

// One line per GPU, e.g. "GPU 0 NVIDIA H100 80GB HBM3: 87% busy, 23.1/79.6 GiB", from the output of
// `nvidia-smi --query-gpu=index,name,utilization.gpu,memory.used,memory.total
// --format=csv,noheader,nounits`. Malformed lines are skipped.
std::vector<std::string> parse_gpu_use(const std::string& nvidia_smi_csv);

// Runs nvidia-smi when it is on PATH (at most ~2 s); empty without it or on any failure.
std::vector<std::string> query_gpu_use();

}  // namespace isda::runner
