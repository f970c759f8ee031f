#include "train/network_export.h"

#include "common/durable_file.h"
#include "common/exit_codes.h"
#include "common/run_files.h"
#include "data/dataset_sizes.h"
#include "data/datasets.h"
#include "models/registry.h"
#include "train/checkpoint.h"
#include "train/run_directory.h"

#include <torch/torch.h>

#include <filesystem>
#include <unistd.h>

namespace isda::train {
namespace {

namespace fs = std::filesystem;

constexpr int kDescriptionFormat = 1;
constexpr int64_t kImageFolderDefaultSize = 224;  // image_size 0: the paper's crops

const data::DatasetSize& dataset_size_of(const TrainConfig& config, const std::string& source) {
  const auto* size = data::find_dataset_size(config.dataset);
  if (size == nullptr) throw ConfigError(source + ": dataset: unknown data set \"" + config.dataset + "\"");
  return *size;
}

// The classes of the network a checkpoint's model archive holds: the rows of its final layer.
int64_t classes_in(torch::serialize::InputArchive& model_archive) {
  torch::serialize::InputArchive head;
  model_archive.read("fc", head);
  torch::Tensor weight;
  head.read("weight", weight);
  return weight.size(0);
}

}  // namespace

RunNetwork load_run_network(const std::string& run_dir) {
  if (!fs::is_directory(run_dir)) throw UsageError(run_dir + ": no such run directory");
  const auto config_path = run_files::path(run_dir, run_files::kConfig);
  if (!fs::exists(config_path)) throw UsageError(config_path + ": missing (not a run directory of isda-train)");
  RunNetwork network;
  network.config = config_from_json(load_config_file(config_path), config_path);
  if (network.config.task != "classify") {
    throw ConfigError(config_path + ": task: \"" + network.config.task +
                      "\" is a generator run, which has no classifier to export");
  }
  const auto checkpoint_path = run_files::path(run_dir, run_files::kCheckpoint);
  if (!fs::exists(checkpoint_path)) {
    throw CheckpointError(checkpoint_path + ": missing (the run has not finished an epoch yet)");
  }
  const auto& size = dataset_size_of(network.config, config_path);
  const auto payload = RunDirectory::read_checkpoint_file(checkpoint_path);
  open_checkpoint(
      payload, checkpoint_path,
      [&](const nlohmann::json& meta, torch::serialize::InputArchive& archive) {
        check_same_config(meta.at("config"), network.config, checkpoint_path);
        torch::serialize::InputArchive model_archive;
        archive.read("model", model_archive);
        models::ModelOptions options;
        options.num_classes = classes_in(model_archive);
        options.in_channels = size.channels;
        options.dropout = network.config.dropout;
        network.model = models::make_model(network.config.model, options);
        network.model->load(model_archive);
        network.epoch = meta.at("epoch").get<int64_t>();
        network.step = meta.at("step").get<int64_t>();
      },
      torch::Device(torch::kCPU));
  network.model->eval();
  network.finished = fs::exists(run_files::path(run_dir, run_files::kResult));
  return network;
}

std::string state_dict_file_bytes(const std::vector<models::ExportedTensor>& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& t : tensors) dict.insert(t.name, t.value.detach().to(torch::kCPU).contiguous());
  const auto bytes = torch::pickle_save(c10::IValue(dict));
  return std::string(bytes.begin(), bytes.end());
}

std::string description_path_for(const std::string& out_path) {
  for (const std::string extension : {".pt", ".pth"}) {
    if (out_path.size() > extension.size() &&
        out_path.compare(out_path.size() - extension.size(), extension.size(), extension) == 0) {
      return out_path.substr(0, out_path.size() - extension.size()) + ".json";
    }
  }
  return out_path + ".json";
}

nlohmann::json describe_export(const RunNetwork& network, size_t tensor_count) {
  const auto& config = network.config;
  const auto& size = dataset_size_of(config, "config");
  const bool folders = data::is_image_folder_dataset(config.dataset);
  const int64_t side = folders ? (config.image_size > 0 ? config.image_size : kImageFolderDefaultSize) : size.resolution;
  const auto normalization = data::normalization_for(config.dataset);
  return {
      {"format", kDescriptionFormat},
      {"model", config.model},
      {"names", models::export_naming_name(models::export_naming_of(*network.model))},
      {"num_classes", network.model->num_classes()},
      {"in_channels", size.channels},
      {"feature_dim", network.model->feature_dim()},
      {"head", "fc"},
      {"input_shape", {size.channels, side, side}},
      {"normalization", {{"mean", normalization.mean}, {"std", normalization.std}}},
      {"tensors", tensor_count},
      {"config", {{"model", config.model}, {"dataset", config.dataset}, {"dropout", config.dropout}}},
      {"run", {{"method", config.method}, {"epoch", network.epoch}, {"step", network.step}, {"finished", network.finished}}},
  };
}

ExportSummary export_run(const std::string& run_dir, const std::string& out_path) {
  if (out_path.empty()) throw UsageError("--export: empty output path");
  // Refused before the checkpoint is read: a large network takes seconds to load.
  const auto parent = fs::path(out_path).parent_path().empty() ? fs::path(".") : fs::path(out_path).parent_path();
  if (!fs::is_directory(parent)) throw UsageError(out_path + ": cannot be written (no such directory " + parent.string() + ")");
  if (::access(parent.c_str(), W_OK) != 0) throw UsageError(out_path + ": cannot be written (directory not writable)");
  if (fs::is_directory(out_path)) throw UsageError(out_path + ": is a directory");

  const auto network = load_run_network(run_dir);
  const auto tensors = models::exported_tensors(*network.model);
  ExportSummary summary;
  summary.model = network.config.model;
  summary.naming = models::export_naming_of(*network.model);
  summary.tensors = tensors.size();
  summary.epoch = network.epoch;
  summary.finished = network.finished;
  summary.state_dict_path = out_path;
  summary.description_path = description_path_for(out_path);
  try {
    common::write_file_atomically(summary.description_path, describe_export(network, tensors.size()).dump(2) + "\n");
    common::write_file_atomically(summary.state_dict_path, state_dict_file_bytes(tensors));
  } catch (const common::FileError& e) {
    if (common::is_environment_fault(e.error_number)) throw;
    throw UsageError(e.what());  // the path the user gave cannot take the file
  }
  return summary;
}

}  // namespace isda::train
