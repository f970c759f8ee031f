#include "results/schema.h"
#include "results/calibrations.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/slurm_submissions.h"
#include "results/store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

namespace isda::results {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

std::vector<std::string> table_names(Database& db) {
  Statement query(db, "SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name", "list tables");
  std::vector<std::string> names;
  while (query.step()) names.push_back(query.column_text(0));
  return names;
}

TEST(Schema, OpenCreatesTheParentDirectoryAndEveryTableAtTheCurrentVersion) {
  ScratchDir dir;
  const auto path = dir.file("nested/deeper/isda.db");
  {
    auto store = ResultsStore::open(path);
    EXPECT_EQ(store.schema_version(), current_schema_version());
    EXPECT_EQ(store.path(), path);
  }
  Database db(path);
  EXPECT_THAT(table_names(db), ::testing::IsSupersetOf({"schema_version", "sweeps", "runs", "sweep_runs", "epochs",
                                                        "finals", "provenance"}));
  Statement journal(db, "PRAGMA journal_mode", "read the journal mode");
  ASSERT_TRUE(journal.step());
  EXPECT_EQ(journal.column_text(0), "wal");
}

TEST(Schema, ReopeningAStoreKeepsItsVersionAndRows) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  {
    auto store = ResultsStore::open(path);
    register_sweep(store, "table2", "experiments/table2.json", R"({"a": 1})");
  }
  auto store = ResultsStore::open(path);
  EXPECT_EQ(store.schema_version(), current_schema_version());
  EXPECT_EQ(list_sweeps(store).size(), 1u);
}

TEST(Schema, AVersionOneDatabaseIsMigratedToTheCurrentVersionKeepingItsRows) {
  ASSERT_GE(current_schema_version(), 2);
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  {
    Database db(path);
    migrate(db, 1);
    EXPECT_EQ(schema_version(db), 1);
    EXPECT_THAT(table_names(db), ::testing::Not(::testing::Contains("provenance")));
    db.execute("INSERT INTO runs (id, config_json, created, updated) VALUES ('r1', '{}', 0, 0)", "seed a run");
  }
  auto store = ResultsStore::open(path);
  EXPECT_EQ(store.schema_version(), current_schema_version());
  ASSERT_TRUE(find_run(store, "r1").has_value());
  Provenance provenance;
  provenance.git_commit = "abc123";
  record_provenance(store, "r1", provenance);  // the table migration 2 added
  EXPECT_EQ(provenance_of(store, "r1")->git_commit, "abc123");
}

TEST(Schema, MigrationIsRecordedOnceperVersion) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  { Database db(path); migrate(db, 1); }
  { auto store = ResultsStore::open(path); }
  { auto store = ResultsStore::open(path); }
  Database db(path);
  Statement rows(db, "SELECT version FROM schema_version ORDER BY version", "read versions");
  std::vector<int64_t> versions;
  while (rows.step()) versions.push_back(rows.column_int(0));
  std::vector<int64_t> expected;
  for (int v = 1; v <= current_schema_version(); ++v) expected.push_back(v);
  EXPECT_EQ(versions, expected);
}

TEST(Schema, ANewerDatabaseIsRefusedWithBothVersionsNamed) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  const int newer = current_schema_version() + 1;
  {
    Database db(path);
    migrate(db);
    db.execute("INSERT INTO schema_version (version, description, applied) VALUES (" + std::to_string(newer) +
                   ", 'from the future', 0)",
               "fake a newer schema");
  }
  try {
    ResultsStore::open(path);
    FAIL() << "a newer schema was opened";
  } catch (const StoreError& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr(path));
    EXPECT_THAT(message, HasSubstr("schema version " + std::to_string(newer)));
    EXPECT_THAT(message, HasSubstr("newer than this build's " + std::to_string(current_schema_version())));
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  EXPECT_THROW(ResultsStore::open(path, ResultsStore::Mode::reader), StoreError);
}

TEST(Schema, AReaderNeedsAnExistingCurrentDatabase) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  EXPECT_THROW(ResultsStore::open(path, ResultsStore::Mode::reader), StoreError);
  EXPECT_FALSE(std::filesystem::exists(path));
  {
    Database db(path);
    migrate(db, 1);
  }
  try {
    ResultsStore::open(path, ResultsStore::Mode::reader);
    FAIL() << "a reader opened an old schema";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("to migrate"));
  }
}

int64_t count_rows(Database& db, const std::string& table) {
  Statement count(db, ("SELECT count(*) FROM " + table).c_str(), "count rows");
  count.step();
  return count.column_int(0);
}

int64_t pragma(Database& db, const char* name) {
  Statement query(db, (std::string("PRAGMA ") + name).c_str(), "read a pragma");
  query.step();
  return query.column_int(0);
}

// Migration 6 rebuilds the runs table (a CHECK cannot be altered): every row of it and of the
// tables that reference it stays, foreign keys hold and act as before, and nothing cascades.
TEST(Schema, RebuildingTheRunsTableKeepsEveryRunAndWhatReferencesIt) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  {
    Database db(path);
    db.execute("PRAGMA foreign_keys = ON", "enable foreign keys");  // as a store's connection has them
    migrate(db, 5);
    db.execute(R"sql(
INSERT INTO sweeps (id, name, spec_path, spec_hash, spec_json, created) VALUES (1, 's', 's.json', 'h', '{}', 0);
INSERT INTO runs (id, config_json, state, attempts, run_dir, lease_owner, lease_heartbeat, error, log_tail, created, updated)
  VALUES ('r1', '{"seed":1}', 'done', 1, 'runs/r1', NULL, NULL, '', '', 10, 11),
         ('r2', '{"seed":2}', 'failed', 2, 'runs/r2', NULL, NULL, 'NaN loss', 'tail', 12, 13),
         ('r3', '{"seed":3}', 'running', 1, 'runs/r3', 'pid 7', 14.5, '', '', 14, 15);
INSERT INTO sweep_runs (sweep_id, run_id, position) VALUES (1, 'r3', 0), (1, 'r1', 1), (1, 'r2', 2);
INSERT INTO epochs (run_id, epoch, test_error) VALUES ('r1', 1, 50), ('r1', 2, 40), ('r3', 1, 60);
INSERT INTO finals (run_id, final_test_error, epochs) VALUES ('r1', 40, 2);
INSERT INTO provenance (run_id, git_commit) VALUES ('r1', 'abc');
INSERT INTO slurm_submissions (id, sweep_id, resource_class, manifest_path, job_name, created, updated)
  VALUES (1, 1, 'gpu', 'm', 'job', 0, 0);
INSERT INTO slurm_tasks (submission_id, task, run_id) VALUES (1, 1, 'r3');
)sql",
               "seed a version 5 store");
    migrate(db, 6);
    EXPECT_EQ(schema_version(db), 6);
    EXPECT_EQ(pragma(db, "foreign_keys"), 1);  // turned off for the rebuild only
    EXPECT_EQ(count_rows(db, "runs"), 3);
    EXPECT_EQ(count_rows(db, "sweep_runs"), 3);
    EXPECT_EQ(count_rows(db, "epochs"), 3);
    EXPECT_EQ(count_rows(db, "finals"), 1);
    EXPECT_EQ(count_rows(db, "provenance"), 1);
    EXPECT_EQ(count_rows(db, "slurm_tasks"), 1);
  }
  auto store = ResultsStore::open(path);
  const auto runs = runs_of_sweep(store, 1);
  ASSERT_EQ(runs.size(), 3u);
  EXPECT_EQ(runs[0].id, "r3");
  EXPECT_EQ(runs[0].state, RunState::running);
  EXPECT_EQ(runs[0].lease_owner, "pid 7");
  EXPECT_EQ(runs[0].last_epoch, 1);
  EXPECT_EQ(runs[2].error, "NaN loss");
  EXPECT_EQ(runs[2].attempts, 2);
  EXPECT_EQ(finals_of(store, {"r1"}).size(), 1u);
  EXPECT_THROW(set_state(store, "r1", RunState::pending), StoreError);  // done is final, as before

  Database db(path);
  db.execute("PRAGMA foreign_keys = ON", "enable foreign keys");
  EXPECT_THROW(db.execute("UPDATE runs SET state = 'lost' WHERE id = 'r2'", "break the check"), StoreError);
  EXPECT_THROW(db.execute("INSERT INTO epochs (run_id, epoch) VALUES ('nobody', 1)", "orphan an epoch"), StoreError);
  db.execute("DELETE FROM runs WHERE id = 'r1'", "delete a run");
  EXPECT_EQ(count_rows(db, "epochs"), 1);  // its epochs, final and provenance went with it
  EXPECT_EQ(count_rows(db, "finals"), 0);
  EXPECT_EQ(count_rows(db, "provenance"), 0);
}

// Version 7 counts failures apart from starts: a run failed before it was charged one failure per
// start (what the retries counted then); no other run is charged anything.
TEST(Schema, FailuresStartAsTheOldAttemptsOfFailedRunsOnly) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  {
    Database db(path);
    migrate(db, 6);
    db.execute(R"sql(
INSERT INTO runs (id, config_json, state, attempts, created, updated)
  VALUES ('r1', '{"seed":1}', 'done', 3, 0, 0), ('r2', '{"seed":2}', 'failed', 2, 0, 0),
         ('r3', '{"seed":3}', 'interrupted', 4, 0, 0);
)sql",
               "seed a version 6 store");
  }
  auto store = ResultsStore::open(path);
  EXPECT_EQ(store.schema_version(), current_schema_version());
  EXPECT_EQ(find_run(store, "r1")->failures, 0);
  EXPECT_EQ(find_run(store, "r2")->failures, 2);
  EXPECT_EQ(find_run(store, "r2")->fault, "run");
  EXPECT_EQ(find_run(store, "r3")->failures, 0);
  EXPECT_EQ(find_run(store, "r3")->attempts, 4);
  EXPECT_EQ(find_run(store, "r3")->fault, "");
}

TEST(Schema, ANewStoreHasLargePagesAndAnOldOneKeepsItsOwn) {
  ScratchDir dir;
  {
    auto store = ResultsStore::open(dir.file("new.db"));
  }
  {
    Database db(dir.file("new.db"));
    EXPECT_EQ(pragma(db, "page_size"), 16384);
  }
  {
    Database db(dir.file("old.db"));
    migrate(db, 1);
  }
  {
    auto store = ResultsStore::open(dir.file("old.db"));
    EXPECT_EQ(store.schema_version(), current_schema_version());
  }
  Database db(dir.file("old.db"));
  EXPECT_EQ(pragma(db, "page_size"), 4096);
}

// Version 8 adds calibrations: a version 7 store gains the table, empty, and keeps its runs.
TEST(Schema, CalibrationsAreRecordedReplacedByTheirKeyAndRefusedWhenNotPositive) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  {
    Database db(path);
    migrate(db, 7);
    db.execute("INSERT INTO runs (id, config_json, state, created, updated) VALUES ('r1', '{}', 'done', 0, 0)",
               "seed a version 7 store");
  }
  auto store = ResultsStore::open(path);
  EXPECT_TRUE(find_run(store, "r1").has_value());
  EXPECT_TRUE(calibrations(store).empty());
  Calibration c{"cpu: test (2 threads)", "resnet8", 28, "isda", "fp32", 64, 2, 400, 2000, 5, 0};
  record_calibration(store, c);
  c.train_images_per_second = 500;
  record_calibration(store, c);  // the same key: replaced
  c.method = "ce";
  record_calibration(store, c);
  const auto rows = calibrations(store);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0].method, "ce");
  EXPECT_EQ(rows[1].method, "isda");
  EXPECT_DOUBLE_EQ(rows[1].train_images_per_second, 500);
  EXPECT_EQ(rows[1].resolution, 28);
  EXPECT_GT(rows[1].measured, 0);
  c.test_images_per_second = 0;
  try {
    record_calibration(store, c);
    FAIL() << "a zero throughput was recorded";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("images per second must be positive, got 500 and 0"));
  }
}

// Version 9 adds a generator run's class consistency and its judge's accuracy to `finals`: the
// final rows of a version 8 store keep their values and have neither (NULL, NaN in FinalRow).
TEST(Schema, FinalsOfAnOlderStoreGainTheClassConsistencyAsUnknown) {
  ScratchDir dir;
  const auto path = dir.file("isda.db");
  {
    Database db(path);
    migrate(db, 8);
    db.execute(R"sql(
INSERT INTO runs (id, config_json, state, created, updated) VALUES ('r1', '{"task":"cgan"}', 'done', 0, 0);
INSERT INTO finals (run_id, final_test_error, best_test_error, last10_test_error, last10_validation_error, epochs,
                    last10_test_top5_error) VALUES ('r1', 40, 30, 35, NULL, 25, 12.5);
)sql",
               "seed a version 8 store");
  }
  auto store = ResultsStore::open(path);
  EXPECT_EQ(store.schema_version(), current_schema_version());
  const auto finals = finals_of(store, {"r1"});
  ASSERT_EQ(finals.size(), 1u);
  EXPECT_DOUBLE_EQ(finals[0].final_test_error, 40);
  EXPECT_DOUBLE_EQ(finals[0].best_test_error, 30);
  EXPECT_DOUBLE_EQ(finals[0].last10_test_error, 35);
  EXPECT_TRUE(std::isnan(finals[0].last10_validation_error));
  EXPECT_EQ(finals[0].epochs, 25);
  EXPECT_DOUBLE_EQ(finals[0].last10_test_top5_error, 12.5);
  EXPECT_TRUE(std::isnan(finals[0].class_consistency));
  EXPECT_TRUE(std::isnan(finals[0].judge_test_accuracy));
}

}  // namespace
}  // namespace isda::results
