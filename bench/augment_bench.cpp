#include "augment_bench.h"

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

AugmentOptions parse(const std::vector<std::string>& args) {
  AugmentOptions o;
  if (args.size() % 2 != 0) throw std::invalid_argument("option " + args.back() + " needs a value");
  for (size_t i = 0; i + 1 < args.size(); i += 2) {
    const auto& key = args[i];
    const auto& value = args[i + 1];
    if (key == "--batch") o.batch = std::stoll(value);
    else if (key == "--steps") o.steps = std::stoll(value);
    else if (key == "--device") o.device = value;
    else throw std::invalid_argument("unknown option " + key + " (known: --batch --steps --device)");
  }
  if (o.batch < 1 || o.steps < 1) throw std::invalid_argument("--batch and --steps must be >= 1");
  return o;
}

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

}  // namespace

int run_augment_bench(const std::vector<std::string>& args, std::ostream& out, std::ostream& err) {
  AugmentOptions o;
  try {
    o = parse(args);
  } catch (const std::exception& e) {
    err << "isda-bench augment: error: " << e.what() << "\n";
    return 2;
  }
  const torch::Device device = o.device == "auto"
                                   ? (torch::cuda::is_available() ? torch::Device(torch::kCUDA) : torch::Device(torch::kCPU))
                                   : torch::Device(o.device);
  if (device.is_cuda() && !torch::cuda::is_available()) {
    err << "isda-bench augment: error: no CUDA device\n";
    return 1;
  }
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
