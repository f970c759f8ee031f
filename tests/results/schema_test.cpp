#include "results/schema.h"
#include "results/store.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

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
    store.register_sweep("table2", "experiments/table2.json", R"({"a": 1})");
  }
  auto store = ResultsStore::open(path);
  EXPECT_EQ(store.schema_version(), current_schema_version());
  EXPECT_EQ(store.list_sweeps().size(), 1u);
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
  ASSERT_TRUE(store.find_run("r1").has_value());
  Provenance provenance;
  provenance.git_commit = "abc123";
  store.record_provenance("r1", provenance);  // the table migration 2 added
  EXPECT_EQ(store.provenance_of("r1")->git_commit, "abc123");
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

}  // namespace
}  // namespace isda::results
