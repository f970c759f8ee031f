#pragma once
// The benchmarks that scripts/gpu-check.sh runs on a GPU machine (and rehearses on the CPU at tiny
// sizes). Each prints one JSON object per line on stdout, for the script's report.

#include "common/options.h"

#include <iosfwd>

namespace isda::bench {

// `isda-bench isda-cost`: the full-covariance ISDA head (estimator update + Eq. 4 loss + backward) at
// C classes, A features, N samples beside the cross-entropy head and beside one SGD step of a whole
// network (ResNet-50 on 224x224 images by default); on CUDA also the device memory the ISDA head
// adds (estimator state and temporaries, as the driver counts it). Returns an exit code.
Command isda_cost_bench_command_line();
int run_isda_cost_bench(const Arguments& args, std::ostream& out, std::ostream& err);

// `isda-bench augment-step`: pad-crop-flip, Cutout and AutoAugment per batch beside one ISDA
// training step of a network (ResNet-110 by default) on the same device. Returns an exit code.
Command augment_step_bench_command_line();
int run_augment_step_bench(const Arguments& args, std::ostream& out, std::ostream& err);

}  // namespace isda::bench
