// isda-bench: side-by-side benchmarks of the suite. All logic is in the bench sources.
#include "augment_bench.h"
#include "calibrate_bench.h"
#include "data_parallel_bench.h"
#include "gan_bench.h"
#include "gpu_bench.h"
#include "head_bench.h"
#include "models_bench.h"
#include "sweep_bench.h"
#include "train_bench.h"

#include <algorithm>
#include <iostream>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + std::min(argc, 2), argv + argc);
  const std::string what = argc > 1 ? argv[1] : "";
  if (what == "head") return isda::bench::run_head_bench(args, std::cout, std::cerr);
  if (what == "head-memory") return isda::bench::run_head_memory_probe(args, std::cout, std::cerr);
  if (what == "models") return isda::bench::run_models_bench(args, std::cout, std::cerr);
  if (what == "augment") return isda::bench::run_augment_bench(args, std::cout, std::cerr);
  if (what == "train") return isda::bench::run_train_bench(args, std::cout, std::cerr);
  if (what == "isda-cost") return isda::bench::run_isda_cost_bench(args, std::cout, std::cerr);
  if (what == "augment-step") return isda::bench::run_augment_step_bench(args, std::cout, std::cerr);
  if (what == "gan") return isda::bench::run_gan_bench(args, std::cout, std::cerr);
  if (what == "sweep") return isda::bench::run_sweep_bench(args, std::cout, std::cerr);
  if (what == "data-parallel") return isda::bench::run_data_parallel_bench(args, std::cout, std::cerr);
  if (what == "calibrate") return isda::bench::run_calibrate_bench(args, std::cout, std::cerr);
  std::cerr << "usage: isda-bench head [--classes C] [--dim A] [--batch N] [--steps S] [--device cpu|cuda]\n"
               "       isda-bench models [--device cpu|cuda] [--models a,b] [--batch N] [--steps S] [--classes C]\n"
               "       isda-bench augment [--device cpu|cuda] [--batch N] [--steps S]\n"
               "       isda-bench train [--models a,b] [--methods ce,isda] [--dataset cifar10] [--data-root DIR] [--images N]\n"
               "                        [--batch N] [--epochs N] [--test-images N] [--device cpu|cuda] [--precision fp32|bf16]\n"
               "                        [--channels-last] [--cuda-graph] [--json]\n"
               "       isda-bench isda-cost [--classes C] [--dim A] [--batch N] [--state-dtype float64|float32] [--model M]\n"
               "                            [--image-size S] [--steps S] [--device cpu|cuda] [--precision fp32|bf16]\n"
               "       isda-bench augment-step [--model M] [--batch N] [--steps S] [--device cpu|cuda] [--precision fp32|bf16]\n"
               "       isda-bench sweep [--runs N] [--seeds S]\n"
               "       isda-bench data-parallel [--model M] [--ranks 1,2] [--batch N] [--steps S] [--method ce|isda]\n"
               "                                [--image-size S] [--classes C] [--sync-bn true]\n"
               "       isda-bench calibrate [--models a,b] [--methods ce,isda] [--precisions fp32,bf16] [--dataset cifar10]\n"
               "                            [--batch N] [--steps S] [--warmup W] [--threads N] [--device auto|cpu|cuda] [--db PATH]\n"

               "       isda-bench gan [--kinds wgan,cgan,acgan,infogan] [--model M] [--dataset cifar10] [--data-root DIR]\n"
               "                      [--images N] [--width W] [--device cpu|cuda] [--threads N]\n";
  return what.empty() || what == "--help" ? 0 : 2;
}
