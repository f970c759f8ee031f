#pragma once
// ResultsStore: the connection to the SQLite database of sweeps, runs, per-epoch metrics, final
// metrics and provenance. One process writes (the coordinator, holding an exclusive lock file); any
// number may read. Workers never open it: the coordinator ingests their event logs
// (core/train/README.md).
//
// This type owns the connection, the writer lock, the schema and the prepared statements kept
// between calls; what is stored is read and written by the functions of one header per concern,
// each taking the store as its first argument:
//   results/run_ledger.h         sweeps, registration, the run lifecycle, leases, run queries
//   results/ingest.h             a run's event log -> epochs, finals, the worker's provenance
//   results/run_metrics.h        a run's epochs, finals and provenance, as stored
//   results/lambda0_choices.h    the lambda0 chosen per group of a sweep
//   results/slurm_submissions.h  the Slurm backend's job arrays and their tasks
//   results/calibrations.h       measured throughputs and the runs' epoch times (cost estimates)
//
// Times are Unix seconds (REAL). Metrics that a run does not have (no test set, no hold-out) are
// NaN in this API and NULL in the database. Every failure is a StoreError (results/sqlite.h) whose
// what() is one line naming the database file. Not thread-safe: one thread per ResultsStore.

#include "results/sqlite.h"

#include <memory>
#include <string>

namespace isda::results {

inline constexpr char kDefaultDatabasePath[] = "results/isda.db";

class ResultsStore {
 public:
  enum class Mode {
    writer,  // creates and migrates the database, holds `<path>.lock`
    reader,  // an existing database at the current version; no lock, every write fails
  };

  // Opens `path`. A writer creates the parent directory and the database, takes the exclusive
  // writer lock (StoreError naming the holder's pid when another process or ResultsStore holds
  // it) and migrates an older schema in one transaction. Both modes refuse a newer schema; a
  // reader refuses a missing database and any version but the current one.
  static ResultsStore open(const std::string& path = kDefaultDatabasePath, Mode mode = Mode::writer);

  ResultsStore(ResultsStore&&) noexcept;
  ResultsStore& operator=(ResultsStore&&) noexcept;
  ~ResultsStore();  // finalizes the kept statements, closes the database, then releases the lock

  const std::string& path() const;
  // The database's schema version (results/schema.h). Throws StoreError.
  int schema_version();

  // For the concern files of this library: the connection, to prepare statements and open
  // transactions (results/sqlite.h) on. Owned by the store; valid while it lives.
  Database& database();
  // For the statements run once per row of a large registration or ingestion: `sql` prepared on
  // first use and kept for the store's lifetime (keyed by its text), returned reset with no
  // bindings. `purpose` names the operation in a StoreError of its first preparation and of every
  // later step. Throws StoreError when `sql` does not prepare.
  Statement& kept_statement(const char* sql, const char* purpose);

 private:
  struct Impl;
  explicit ResultsStore(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace isda::results
