#pragma once
// Ingestion of a run's event log (`events.jsonl`, the records of common/run_events.h, written by
// isda-train --run-dir) into tables `epochs`, `finals` and `provenance`, and what the log says of
// the attempt, for the coordinator to settle the run's state. Read the stored rows with
// results/run_metrics.h.

#include "common/run_events.h"
#include "results/store.h"

#include <cstdint>
#include <string>

namespace isda::results {

// What an event log says, for the coordinator to set the run's state.
struct IngestResult {
  // The last lifecycle event of the attempt: `none` when it logged none, `running` when the last is
  // `start` (but a logged `done` stays `done`: isda-train logs a start when rerun on a finished run
  // directory). `unreadable`: a line of the log is not a record (`reason` names the file and line);
  // nothing of the log was stored.
  enum class Outcome { none, running, done, failed, interrupted, unreadable };
  Outcome outcome = Outcome::none;
  int64_t last_epoch = 0;    // highest epoch logged, 0 when none
  int64_t epoch_events = 0;  // epoch events read (each upserted)
  std::string reason;        // of a `failed` event, or why the log is unreadable
  events::Fault fault = events::Fault::run;  // of a `failed` event
  int exit_code = 0;         // of a `failed` event (0 when it does not say)
  int signal = 0;            // of an `interrupted` event
  bool torn_line_ignored = false;
};

// Reads the run's event log (a torn last line without '\n' is ignored), upserts one epochs row
// per epoch event, on a `done` event the finals row, and from the `environment` of the last
// `start` event that has one the worker's provenance (host, git commit and dirty flag, GPU
// model, driver, LibTorch, CUDA, cuDNN; command line, start and end are left as they are), in
// one transaction. Re-ingesting a log, or a longer version of it, never duplicates or loses a
// row. Returns the outcome of the records from byte `attempt_start` on (the log's size when the
// current attempt was launched), so an attempt never inherits an earlier one's end. A line that
// is not JSON or an event without its keys makes the outcome `unreadable` (naming the file and
// line) and stores nothing. A missing log is an empty one. Throws StoreError for an unknown run,
// a log that exists but cannot be opened, or a database failure.
IngestResult ingest_events(ResultsStore& store, const std::string& run_id, const std::string& events_jsonl_path,
                           int64_t attempt_start = 0);

}  // namespace isda::results
