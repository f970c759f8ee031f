#pragma once
// What the cost estimates of `isda-run --dry-run` are made of: throughputs measured by
// `isda-bench calibrate` (table `calibrations`, schema 8) and the epoch times the runs logged.
//
// Every function throws StoreError (results/sqlite.h) for a database failure, naming the database
// file and what was being done.

#include "results/store.h"

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

namespace isda::results {

// A throughput measured by `isda-bench calibrate`: one per (device, model, resolution, method,
// precision); a new measurement replaces the old.
struct Calibration {
  std::string device;  // "cuda: NVIDIA H200" or "cpu: <model name> (N threads)"
  std::string model;
  int64_t resolution = 0;  // image side in pixels
  std::string method;      // ce | isda (the training step measured)
  std::string precision;   // fp32 | bf16
  int64_t batch_size = 0;
  int64_t threads = 0;
  double train_images_per_second = 0;  // training steps (forward, loss, backward, SGD)
  double test_images_per_second = 0;   // evaluation (forward only)
  int64_t steps = 0;                   // measured steps
  double measured = 0;                 // Unix seconds
};

// A run's measured epochs (for cost estimates): its config and mean seconds per epoch.
struct EpochTiming {
  std::string run_id;
  std::string config_json;
  std::string gpu_model;  // from its provenance; empty on the CPU or when unknown
  double seconds_per_epoch = 0;
  int64_t epochs = 0;  // epochs behind the mean
  // A done run's time outside its epochs (process start, data loading, the last checkpoint): its
  // provenance's ended - started less the sum of its epoch times; NaN when not known.
  double overhead_seconds = std::numeric_limits<double>::quiet_NaN();
};

// Stores `calibration`, replacing the row of its key; `measured` <= 0 stores now. StoreError for
// a throughput that is not positive.
void record_calibration(ResultsStore& store, const Calibration& calibration);
// Every calibration, by key (device, model, resolution, method, precision).
std::vector<Calibration> calibrations(ResultsStore& store);
// Every run with at least one epoch whose time was logged, with its mean seconds per epoch, by run id.
std::vector<EpochTiming> epoch_timings(ResultsStore& store);

}  // namespace isda::results
