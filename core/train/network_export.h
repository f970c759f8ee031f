#pragma once
// `isda-train --export RUN_DIR OUT.pt`: a classifier run's trained network as a PyTorch state dict
// that Python's torch.load reads, under the reference definition's names where one exists
// (models/export_names.h), and beside it OUT.json describing the network. The run directory is
// only read, never claimed: a run still training can be exported (its checkpoint is replaced
// atomically, so the file read is one whole checkpoint).

#include "models/classifier.h"
#include "models/export_names.h"
#include "train/train_config.h"

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

namespace isda::train {

// A classifier run's network as its checkpoint holds it.
struct RunNetwork {
  TrainConfig config;                       // the checkpoint's (equal to config.json's)
  std::shared_ptr<models::Classifier> model;  // on the CPU, in eval mode
  int64_t epoch = 0;                        // epochs finished when the checkpoint was written
  int64_t step = 0;                         // steps into the next one (a checkpoint on a stop signal)
  bool finished = false;                    // the run is done (its result.json exists)
};

// Rebuilds the network of the run at `run_dir` from its config (models/registry.h: the model, the
// data set's channels, the classes of the checkpoint's final layer, the dropout) and loads the
// checkpoint's weights onto the CPU. Throws, each with one line naming the file or key:
// UsageError for a directory that does not exist or has no config.json; ConfigError for a config
// that cannot be read or a generator run (task other than classify); CheckpointError for a missing,
// truncated, corrupt or other-config checkpoint.
RunNetwork load_run_network(const std::string& run_dir);

// The bytes of a file that Python's torch.load (and torch::pickle_load) reads as a dict from each
// tensor's name to its value, in the order of `tensors`: LibTorch's torch::pickle_save (the zip
// format of torch.save) of the tensors, detached and on the CPU.
std::string state_dict_file_bytes(const std::vector<models::ExportedTensor>& tensors);

// Where the description of an export to `out_path` goes: "net.pt" (or "net.pth") -> "net.json",
// any other name with ".json" appended.
std::string description_path_for(const std::string& out_path);

// The description written beside an export: the network (model, names, classes, channels, feature
// dimension, input shape, the normalisation its inputs need), the config keys that shape it
// (model, dataset, dropout) and where the run stood.
nlohmann::json describe_export(const RunNetwork& network, size_t tensor_count);

struct ExportSummary {
  std::string model;
  models::ExportNaming naming = models::ExportNaming::kSuite;
  size_t tensors = 0;
  int64_t epoch = 0;
  bool finished = false;
  std::string state_dict_path;
  std::string description_path;
};

// Writes the network of the run at `run_dir` to `out_path` and its description to
// description_path_for(out_path), each atomically (the description first). Throws what
// load_run_network throws, UsageError naming the path when `out_path` cannot be written (no such
// directory, no permission), and common::FileError when the machine refuses it (disk full, I/O).
ExportSummary export_run(const std::string& run_dir, const std::string& out_path);

}  // namespace isda::train
