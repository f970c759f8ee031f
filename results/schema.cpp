#include "results/schema.h"

#include "common/system.h"

#include <fmt/format.h>

#include <chrono>
#include <vector>

namespace isda::results {
namespace {

struct Migration {
  int version;
  const char* description;
  const char* sql;
};

// Append only: a released migration never changes, a new schema is a new entry.
const std::vector<Migration>& migrations() {
  static const std::vector<Migration> list = {
      {1, "sweeps, runs, epochs, finals", R"sql(
CREATE TABLE sweeps (
  id        INTEGER PRIMARY KEY,
  name      TEXT NOT NULL,
  spec_path TEXT NOT NULL,
  spec_hash TEXT NOT NULL,
  spec_json TEXT NOT NULL,
  created   REAL NOT NULL,
  UNIQUE (name, spec_hash)
);
CREATE TABLE runs (
  id              TEXT PRIMARY KEY,
  config_json     TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'running', 'done', 'failed', 'interrupted')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  run_dir         TEXT NOT NULL DEFAULT '',
  lease_owner     TEXT,
  lease_heartbeat REAL,
  error           TEXT NOT NULL DEFAULT '',
  log_tail        TEXT NOT NULL DEFAULT '',
  created         REAL NOT NULL,
  updated         REAL NOT NULL
);
CREATE TABLE sweep_runs (
  sweep_id INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  run_id   TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  position INTEGER NOT NULL,
  PRIMARY KEY (sweep_id, run_id)
) WITHOUT ROWID;
CREATE TABLE epochs (
  run_id            TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  epoch             INTEGER NOT NULL,
  train_loss        REAL,
  train_error       REAL,
  test_error        REAL,
  validation_error  REAL,
  lambda            REAL,
  lr                REAL,
  seconds           REAL,
  images_per_second REAL,
  PRIMARY KEY (run_id, epoch)
) WITHOUT ROWID;
CREATE TABLE finals (
  run_id                  TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  final_test_error        REAL,
  best_test_error         REAL,
  last10_test_error       REAL,
  last10_validation_error REAL,
  epochs                  INTEGER NOT NULL
);
)sql"},
      {2, "provenance", R"sql(
CREATE TABLE provenance (
  run_id       TEXT PRIMARY KEY REFERENCES runs(id) ON DELETE CASCADE,
  git_commit   TEXT NOT NULL DEFAULT '',
  git_dirty    INTEGER NOT NULL DEFAULT 0,
  host         TEXT NOT NULL DEFAULT '',
  gpu_model    TEXT NOT NULL DEFAULT '',
  driver       TEXT NOT NULL DEFAULT '',
  libtorch     TEXT NOT NULL DEFAULT '',
  cuda         TEXT NOT NULL DEFAULT '',
  cudnn        TEXT NOT NULL DEFAULT '',
  command_line TEXT NOT NULL DEFAULT '',
  started      REAL,
  ended        REAL
);
)sql"},
      {3, "lambda0 choices of the two-stage protocol", R"sql(
CREATE TABLE lambda0_choices (
  sweep_id  INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  group_key TEXT NOT NULL,
  lambda0   REAL NOT NULL,
  metric    TEXT NOT NULL,
  evidence  TEXT NOT NULL,
  decided   REAL NOT NULL,
  PRIMARY KEY (sweep_id, group_key)
) WITHOUT ROWID;
)sql"},
      {4, "Slurm submissions: job arrays over manifests of runs, recorded before sbatch", R"sql(
CREATE TABLE slurm_submissions (
  id             INTEGER PRIMARY KEY,
  sweep_id       INTEGER NOT NULL REFERENCES sweeps(id) ON DELETE CASCADE,
  resource_class TEXT NOT NULL,
  manifest_path  TEXT NOT NULL,
  job_name       TEXT NOT NULL UNIQUE,
  state          TEXT NOT NULL DEFAULT 'intent'
                 CHECK (state IN ('intent', 'submitted', 'abandoned', 'finished')),
  job_id         TEXT NOT NULL DEFAULT '',
  created        REAL NOT NULL,
  updated        REAL NOT NULL
);
CREATE TABLE slurm_tasks (
  submission_id INTEGER NOT NULL REFERENCES slurm_submissions(id) ON DELETE CASCADE,
  task          INTEGER NOT NULL,
  run_id        TEXT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,
  finished      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (submission_id, task)
) WITHOUT ROWID;
CREATE INDEX slurm_tasks_by_run ON slurm_tasks (run_id);
)sql"},
      {5, "top-5 test error", R"sql(
ALTER TABLE epochs ADD COLUMN test_top5_error REAL;
ALTER TABLE finals ADD COLUMN last10_test_top5_error REAL;
)sql"},
      // SQLite evaluates `state IN (...)` in a CHECK by building a B-tree for the list on every row
      // written: half the cost of registering a 100,000-run grid. The same check as a chain of
      // comparisons costs nothing. A CHECK cannot be altered, so the table is rebuilt (SQLite's
      // documented procedure; migrate() turns foreign keys off so DROP TABLE cascades nothing).
      {6, "runs: the state check without an IN list", R"sql(
CREATE TABLE runs_rebuilt (
  id              TEXT PRIMARY KEY,
  config_json     TEXT NOT NULL,
  state           TEXT NOT NULL DEFAULT 'pending'
                  CHECK (state = 'pending' OR state = 'running' OR state = 'done' OR state = 'failed' OR
                         state = 'interrupted'),
  attempts        INTEGER NOT NULL DEFAULT 0,
  run_dir         TEXT NOT NULL DEFAULT '',
  lease_owner     TEXT,
  lease_heartbeat REAL,
  error           TEXT NOT NULL DEFAULT '',
  log_tail        TEXT NOT NULL DEFAULT '',
  created         REAL NOT NULL,
  updated         REAL NOT NULL
);
INSERT INTO runs_rebuilt (rowid, id, config_json, state, attempts, run_dir, lease_owner, lease_heartbeat, error,
                          log_tail, created, updated)
  SELECT rowid, id, config_json, state, attempts, run_dir, lease_owner, lease_heartbeat, error, log_tail, created,
         updated FROM runs ORDER BY rowid;
DROP TABLE runs;
ALTER TABLE runs_rebuilt RENAME TO runs;
)sql"},
      // Retries count failed attempts, not starts (`attempts` still counts starts), and a failure
      // that was the machine's fault (disk full, device lost) is not charged to the spec's retries.
      // A run failed before this version was charged one failure per start.
      {7, "runs: failures and the fault of the last one", R"sql(
ALTER TABLE runs ADD COLUMN failures INTEGER NOT NULL DEFAULT 0;
ALTER TABLE runs ADD COLUMN fault TEXT NOT NULL DEFAULT '';
UPDATE runs SET failures = attempts, fault = 'run' WHERE state = 'failed';
)sql"},
      // isda-bench calibrate: training and test throughput per (device, model, resolution, method,
      // precision), from which isda-run --dry-run estimates a sweep's device time before it runs.
      {8, "calibrations: images per second per device, model, resolution, method, precision", R"sql(
CREATE TABLE calibrations (
  device                 TEXT NOT NULL,
  model                  TEXT NOT NULL,
  resolution             INTEGER NOT NULL,
  method                 TEXT NOT NULL,
  precision              TEXT NOT NULL,
  batch_size             INTEGER NOT NULL,
  threads                INTEGER NOT NULL,
  train_images_per_second REAL NOT NULL CHECK (train_images_per_second > 0),
  test_images_per_second  REAL NOT NULL CHECK (test_images_per_second > 0),
  steps                  INTEGER NOT NULL,
  measured               REAL NOT NULL,
  PRIMARY KEY (device, model, resolution, method, precision)
);
)sql"},
      // A generator run (core/gan) records how often an independent judge classifier assigns its
      // images the label they were generated for, and that judge's accuracy on the real test
      // images. NULL for classifier runs and for runs finished before it was recorded.
      {9, "finals: a generator run's class consistency and its judge's test accuracy", R"sql(
ALTER TABLE finals ADD COLUMN class_consistency REAL;
ALTER TABLE finals ADD COLUMN judge_test_accuracy REAL;
)sql"},
  };
  return list;
}

using common::now_seconds;

// Foreign keys off for the lifetime of this object (restored after): a migration that rebuilds a
// parent table must not cascade its DROP TABLE into the child tables. The pragma is a no-op inside
// a transaction, so this comes before BEGIN.
class ForeignKeysOff {
 public:
  explicit ForeignKeysOff(Database& db) : db_(db) {
    Statement query(db, "PRAGMA foreign_keys", "read the foreign-key setting");
    was_on_ = query.step() && query.column_int(0) == 1;
    query.reset();
    if (was_on_) db.execute("PRAGMA foreign_keys = OFF", "turn foreign keys off to migrate");
  }
  ~ForeignKeysOff() {
    if (!was_on_) return;
    try {
      db_.execute("PRAGMA foreign_keys = ON", "turn foreign keys back on after migrating");
    } catch (const StoreError&) {
      // Only inside a transaction can this fail, and the migration's has ended by now.
    }
  }
  ForeignKeysOff(const ForeignKeysOff&) = delete;
  ForeignKeysOff& operator=(const ForeignKeysOff&) = delete;

 private:
  Database& db_;
  bool was_on_ = false;
};

}  // namespace

int current_schema_version() { return migrations().back().version; }

int schema_version(Database& db) {
  Statement exists(db, "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = 'schema_version'",
                   "read the schema version");
  exists.step();
  if (exists.column_int(0) == 0) return 0;
  Statement version(db, "SELECT coalesce(max(version), 0) FROM schema_version", "read the schema version");
  version.step();
  return static_cast<int>(version.column_int(0));
}

void migrate(Database& db, int target) {
  const std::string purpose = "migrate the schema";
  ForeignKeysOff foreign_keys_off(db);
  Transaction transaction(db, purpose);  // BEGIN IMMEDIATE: the version read below cannot go stale
  const int version = schema_version(db);
  if (version > current_schema_version()) {
    db.fail(purpose, fmt::format("the database has schema version {}, newer than this build's {}; use a newer "
                                 "isda-suite",
                                 version, current_schema_version()));
  }
  if (version > target) {
    db.fail(purpose, fmt::format("the database has schema version {}, newer than the requested {}", version, target));
  }
  if (version == target) {
    transaction.commit();
    return;
  }
  if (version == 0) {
    db.execute("CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, applied REAL NOT NULL)",
               purpose);
  }
  Statement record(db, "INSERT INTO schema_version (version, description, applied) VALUES (?, ?, ?)", purpose);
  for (const auto& migration : migrations()) {
    if (migration.version <= version || migration.version > target) continue;
    db.execute(migration.sql, fmt::format("migrate the schema to version {} ({})", migration.version,
                                          migration.description));
    record.bind(1, migration.version).bind(2, migration.description).bind(3, now_seconds()).run();
  }
  Statement violations(db, "PRAGMA foreign_key_check", purpose);
  if (violations.step()) {
    db.fail(purpose, fmt::format("table {} has a row whose {} is missing after the migration; nothing was changed",
                                 violations.column_text(0), violations.column_text(2)));
  }
  violations.reset();
  transaction.commit();
}

}  // namespace isda::results
