#pragma once
// Trains one configuration end to end: data -> augmentation -> model -> loss -> SGD, one metrics
// line per epoch, and (with a run directory) a checkpoint after every epoch, an append-only event
// log and resume. Free of LibTorch so that thin mains and the runner can include it.

#include "distributed/world.h"
#include "train/run_directory.h"
#include "train/run_log.h"
#include "train/train_config.h"

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace isda::train {

class ExtraImages;          // train/extra_images.h
struct ExtraImagesRequest;  // train/extra_images.h

// The run cannot go on (NaN or exploding loss, unusable device); what() says why in one line.
class TrainingError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The run stopped on a signal after checkpointing; it resumes from the same run directory.
class Interrupted : public std::runtime_error {
 public:
  explicit Interrupted(int signal_number)
      : std::runtime_error("interrupted by signal " + std::to_string(signal_number)), signal(signal_number) {}
  int signal;
};

struct TrainOptions {
  // With a run directory: config, events, checkpoints and result are kept there, and a run
  // directory that holds a checkpoint of the same config resumes from it. `opened_run_dir`, a run
  // directory the caller has already claimed (isda-train claims its own first thing), wins over
  // `run_dir`, which train() opens itself.
  std::optional<std::string> run_dir;
  RunDirectory* opened_run_dir = nullptr;
  // Checked after every step; when nonzero the run checkpoints (with a run directory) and throws
  // Interrupted with that signal number.
  const std::atomic<int>* stop_signal = nullptr;
  std::function<void(const EpochMetrics&)> on_epoch;
  std::function<void(const std::string&)> on_note;  // e.g. "resuming from epoch 3"
  // Data parallel (config.ranks > 1): this process's place among the ranks. Only rank 0 is given a
  // run directory; it writes events and checkpoints for all.
  distributed::World world;
  // With a run directory: log every failure as a `failed` record (isda-train's launcher logs the
  // ranks' failures itself, naming the rank).
  bool log_failures = true;
  // A classifier whose config names a generator (`gan`): opens the generated images its batches
  // take (gan::open_generated_images; train/extra_images.h). Without it such a config is refused.
  std::function<std::unique_ptr<ExtraImages>(const ExtraImagesRequest&)> open_extra_images;
};

// Runs `config` (validated again here). Throws Interrupted on a stop signal, and RunFailure for
// anything else (a bad config, missing or broken data, an unusable checkpoint, training that cannot
// continue, a run directory that cannot be written, another rank's failure), its reason prefixed by
// what the run was doing. With a run directory every failure is logged as a `failed` event first.
TrainResult train(const TrainConfig& config, const TrainOptions& options = {});

}  // namespace isda::train
