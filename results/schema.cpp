#include "results/schema.h"

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
  };
  return list;
}

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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
  transaction.commit();
}

}  // namespace isda::results
