// The suite's side of tests/python/export_check.py: what the suite's networks compute, written as
// files torch.load reads, for the script to compare with the reference PyTorch definitions.
//
//   export_check_helper logits RUN_DIR OUT.pt
//     The run's network, loaded as `isda-train --export` loads it (train/network_export.h), on the
//     run's test images normalised as its evaluation does (BatchAugmenter::eval_batch, batches of
//     1,000, eval mode): {"inputs" (N, C, H, W) float, "labels" (N), "logits" (N, classes)}.
//   export_check_helper fresh MODEL CLASSES CHANNELS SIZE STATE.pt IO.pt
//     An untrained network with random BatchNorm statistics, affine parameters and head bias, so
//     that every tensor shapes its output: its export (the names and writer of --export) in
//     STATE.pt, and {"inputs", "logits"} of 2 random images SIZE x SIZE in IO.pt.
#include "common/durable_file.h"
#include "data/augment.h"
#include "data/datasets.h"
#include "models/export_names.h"
#include "models/registry.h"
#include "train/network_export.h"

#include <torch/torch.h>

#include <iostream>
#include <string>
#include <vector>

namespace isda {
namespace {

constexpr int64_t kEvalBatch = 1000;  // train/evaluation.cpp's

void write_tensors(const std::string& path, const std::vector<std::pair<std::string, torch::Tensor>>& tensors) {
  std::vector<models::ExportedTensor> entries;
  for (const auto& [name, value] : tensors) entries.push_back({name, name, value});
  common::write_file_atomically(path, train::state_dict_file_bytes(entries));
}

int logits(const std::string& run_dir, const std::string& out) {
  const auto network = train::load_run_network(run_dir);
  const auto& config = network.config;
  const auto root = config.data_root.empty() ? data::default_data_root(config.dataset) : config.data_root;
  const auto splits =
      data::load_dataset(config.dataset, root, config.holdout, config.split_seed, config.train_limit, config.test_limit);
  const data::BatchAugmenter augmenter(data::AugmentKind::kNone, data::normalization_for(config.dataset), 0);
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> inputs, outputs;
  const int64_t n = splits.test.labels.size(0);
  for (int64_t start = 0; start < n; start += kEvalBatch) {
    inputs.push_back(augmenter.eval_batch(splits.test.images.narrow(0, start, std::min(kEvalBatch, n - start))));
    outputs.push_back(network.model->forward(inputs.back()));
  }
  write_tensors(out, {{"inputs", torch::cat(inputs)}, {"labels", splits.test.labels}, {"logits", torch::cat(outputs)}});
  return 0;
}

int fresh(const std::string& name, int64_t classes, int64_t channels, int64_t size, const std::string& state_out,
          const std::string& io_out) {
  torch::manual_seed(11);
  auto model = models::make_model(name, {classes, channels, 0.0});
  {
    torch::NoGradGuard no_grad;
    for (auto& item : model->named_buffers()) {
      if (item.key().find("running_mean") != std::string::npos) item.value().normal_(0, 0.1);
      if (item.key().find("running_var") != std::string::npos) item.value().uniform_(0.5, 2);
      if (item.key().find("num_batches_tracked") != std::string::npos) item.value().fill_(7);
    }
    // BatchNorm weights below 1 keep the residual sums (and so the logits) moderate however deep.
    for (auto& item : model->named_parameters()) {
      if (item.value().dim() != 1) continue;  // BatchNorm weights and biases, fc.bias
      if (item.key().find("weight") != std::string::npos) item.value().uniform_(0.2, 0.6);
      if (item.key().find("bias") != std::string::npos) item.value().normal_(0, 0.1);
    }
  }
  model->eval();
  common::write_file_atomically(state_out, train::state_dict_file_bytes(models::exported_tensors(*model)));
  torch::NoGradGuard no_grad;
  const auto inputs = torch::randn({2, channels, size, size});
  write_tensors(io_out, {{"inputs", inputs}, {"logits", model->forward(inputs)}});
  return 0;
}

int run(const std::vector<std::string>& args) {
  if (args.size() == 3 && args[0] == "logits") return logits(args[1], args[2]);
  if (args.size() == 7 && args[0] == "fresh") {
    return fresh(args[1], std::stoll(args[2]), std::stoll(args[3]), std::stoll(args[4]), args[5], args[6]);
  }
  std::cerr << "usage: export_check_helper logits RUN_DIR OUT.pt | fresh MODEL CLASSES CHANNELS SIZE STATE.pt IO.pt\n";
  return 2;
}

}  // namespace
}  // namespace isda

int main(int argc, char** argv) {
  try {
    return isda::run(std::vector<std::string>(argv + 1, argv + argc));
  } catch (const std::exception& e) {
    const std::string message = e.what();
    std::cerr << "export_check_helper: error: " << message.substr(0, message.find('\n')) << '\n';
    return 1;
  }
}
