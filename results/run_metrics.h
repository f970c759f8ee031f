#pragma once
// A run's results as stored: its per-epoch metrics (table `epochs`), its final metrics (`finals`)
// and its provenance (`provenance`). Ingestion writes the first two and the worker's side of the
// third (results/ingest.h); the coordinator records its own side here. The runner and the report
// read them.
//
// Every function throws StoreError (results/sqlite.h) for a database failure, naming the database
// file and what was being done.

#include "results/store.h"

#include <cstdint>
#include <limits>
#include <optional>
#include <string>
#include <vector>

namespace isda::results {

// One epoch as isda-train logs it (train::EpochMetrics).
struct EpochRow {
  int64_t epoch = 0;  // 1-based
  double train_loss = 0, train_error = 0, test_error = 0, validation_error = 0;
  double lambda = 0, lr = 0, seconds = 0, images_per_second = 0;
  double test_top5_error = 0;  // NaN for runs logged before it was recorded
};

struct FinalRow {
  std::string run_id;
  double final_test_error = 0, best_test_error = 0, last10_test_error = 0, last10_validation_error = 0;
  int64_t epochs = 0;
  double last10_test_top5_error = 0;  // NaN for runs logged before it was recorded
  // A generator run's (common/run_events.h: events::kClassConsistency, kJudgeTestAccuracy): the
  // share (0..1) of its fixed set of images that an independent judge classifier assigns the label
  // they were generated for, and that judge's accuracy (0..1) on the real test images, the ceiling
  // of the first. NaN for classifier runs and for runs logged before they were recorded.
  double class_consistency = std::numeric_limits<double>::quiet_NaN();
  double judge_test_accuracy = std::numeric_limits<double>::quiet_NaN();
};

struct Provenance {
  std::string git_commit;
  bool git_dirty = false;
  std::string host, gpu_model, driver, libtorch, cuda, cudnn, command_line;
  double started = 0;  // NaN when unknown
  double ended = 0;    // NaN while running
};

// Replaces the run's provenance with `provenance`, every field (read it with provenance_of first
// to keep the worker's side). Throws StoreError for an unknown run.
void record_provenance(ResultsStore& store, const std::string& run_id, const Provenance& provenance);

// The run's epochs, by epoch; empty for a run without any (or an unknown run).
std::vector<EpochRow> epochs_of(ResultsStore& store, const std::string& run_id);
// The final metrics of those of `run_ids` that have them, in the order of `run_ids`.
std::vector<FinalRow> finals_of(ResultsStore& store, const std::vector<std::string>& run_ids);
// The run's provenance, or nullopt when none was recorded.
std::optional<Provenance> provenance_of(ResultsStore& store, const std::string& run_id);

}  // namespace isda::results
