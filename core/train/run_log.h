#pragma once
// What a run leaves in its event log and says when it fails, for both trainers (train/trainer.h
// and core/gan): an epoch's metrics and the final result, the `start`, `epoch` and `done` records,
// the mending of a log an epoch behind its checkpoint, the one-line epoch report, and what a
// failure means (exit code, fault, reason). Free of LibTorch.

#include "common/run_events.h"
#include "support/run_environment.h"
#include "train/run_directory.h"
#include "train/train_config.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <vector>

namespace isda::train {

struct EpochMetrics {
  int64_t epoch = 0;              // 1-based
  double train_loss = 0;          // mean training loss (the augmented loss for ISDA)
  double train_error = 0;         // percent, from the clean logits
  double test_error = 0;          // percent; NaN where there is no test set
  double validation_error = 0;    // percent on the hold-out; NaN without one
  double test_top5_error = 0;     // percent of test images whose label is not among the 5 top logits
  double lambda = 0;              // lambda of the epoch's last step
  double lr = 0;
  double seconds = 0;             // wall time of the epoch (training + evaluation)
  double images_per_second = 0;   // training throughput
};

nlohmann::json to_json(const EpochMetrics& metrics);
EpochMetrics epoch_metrics_from_json(const nlohmann::json& object);

struct TrainResult {
  std::vector<EpochMetrics> epochs;
  double final_test_error = 0;
  double best_test_error = 0;
  double last10_test_error = 0;        // mean over the last min(10, epochs) epochs: the paper's metric
  double last10_validation_error = 0;  // the same on the hold-out (NaN without one)
  double last10_test_top5_error = 0;   // the same for the top-5 error (Table 4)
  // A generator run's (core/gan/class_consistency.h); NaN for a classifier.
  double class_consistency = std::numeric_limits<double>::quiet_NaN();
  double judge_test_accuracy = std::numeric_limits<double>::quiet_NaN();
};

nlohmann::json to_json(const TrainResult& result);

// The records both trainers (this one and core/gan's) append to a run directory's event log
// (common/run_events.h): an epoch's, and an attempt's `start` at (epoch, step) on `device` with its
// config and environment (LibTorch's version is the environment's).
nlohmann::json epoch_event(const EpochMetrics& metrics);
nlohmann::json start_event(int64_t epoch, int64_t step, const std::string& device, const TrainConfig& config,
                           const support::RunEnvironment& environment);

// The end of a run: result.json, then the `done` record with the final metrics.
void log_done(const RunDirectory& run_dir, const TrainResult& result);

// A crash between a checkpoint and its epoch event leaves the log an epoch behind: appends the
// epochs of `epochs` (the checkpoint's history) that the log lacks, so that every epoch is logged
// exactly once. Returns whether the log already holds a `done` record.
bool reconcile_epoch_events(const RunDirectory& run_dir, const std::vector<EpochMetrics>& epochs);

// The fixed, greppable line isda-train prints per epoch.
std::string format_epoch_line(const EpochMetrics& metrics, int64_t epochs);

// What a failure of a run means: the exit code of isda-train (common/exit_codes.h), whose fault it
// is (a full disk or a lost device is the machine's) and its one-line reason.
struct Failure {
  int exit_code = 1;
  events::Fault fault = events::Fault::run;
  std::string reason;
};
Failure failure_of(const std::exception& error);

// A failure already classified, its reason saying what the run was doing ("epoch 2, step 14:
// ..."): what train() throws once it has logged a failure. failure_of() returns its Failure.
class RunFailure : public std::runtime_error {
 public:
  explicit RunFailure(Failure failure) : std::runtime_error(failure.reason), failure_(std::move(failure)) {}
  const Failure& failure() const { return failure_; }

 private:
  Failure failure_;
};

// Appends the `failed` record of `failure` to the run directory's log, if the disk lets it.
void log_failure(const RunDirectory& run_dir, const Failure& failure);

}  // namespace isda::train
