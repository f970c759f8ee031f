#include "augment_bench.h"

#include "isda_bench.h"
#include "data/augment.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <ostream>
#include <stdexcept>

namespace isda::bench {
namespace {

struct AugmentOptions {
  int64_t batch = 128;
  int64_t steps = 20;
  std::string device = "auto";
};


void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

Command augment_bench_command_line() {
  const AugmentOptions defaults;
  return benchmark_command(
      "augment", run_augment_bench,
      "each augmentation regime (none, standard, cutout, autoaugment) on batches of 3x32x32 images.\n",
      {
        value_option("--batch", "N", "images per batch").integer(1).default_to(std::to_string(defaults.batch)),
        value_option("--steps", "S", "timed batches of each regime").integer(1).default_to(std::to_string(defaults.steps)),
        device_option(defaults.device),
      });
}

int run_augment_bench(const Arguments& args, std::ostream& out, std::ostream& /*err*/) {
  AugmentOptions o;
  o.batch = args.integer("--batch");
  o.steps = args.integer("--steps");
  o.device = args.text("--device");
  const torch::Device device = o.device == "auto"
                                   ? (torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU))
                                   : torch::Device(o.device);
  if (device.is_cuda() && !torch::cuda::is_available()) throw std::runtime_error("no CUDA device");
  torch::manual_seed(0);
  const torch::Tensor images = torch::randint(0, 256, {o.batch, 3, 32, 32}, torch::kUInt8).to(device);
  const auto norm = data::normalization_for("cifar10");
  out << fmt::format("augment bench: batch {} of 3x32x32, {} steps, device {}, {} threads\n", o.batch, o.steps,
                     device.str(), torch::get_num_threads());
  out << fmt::format("{:<12} {:>12} {:>12}\n", "regime", "ms/batch", "images/s");
  for (const char* name : {"none", "standard", "cutout", "autoaugment"}) {
    data::BatchAugmenter augmenter(data::parse_augment_kind(name), norm, 1);
    for (int i = 0; i < 2; ++i) augmenter.train_batch(images);  // warm-up
    synchronize(device);
    const auto start = std::chrono::steady_clock::now();
    for (int64_t i = 0; i < o.steps; ++i) augmenter.train_batch(images);
    synchronize(device);
    const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    out << fmt::format("{:<12} {:>12.3f} {:>12.0f}\n", name, 1000 * seconds / static_cast<double>(o.steps),
                       static_cast<double>(o.batch * o.steps) / seconds);
  }
  return 0;
}

}  // namespace isda::bench
