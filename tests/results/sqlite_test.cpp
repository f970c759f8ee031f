// The SQLite layer's named parameters, by which ingestion binds every value.
#include "results/sqlite.h"
#include "store_test_support.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cmath>

namespace isda::results {
namespace {

using ::testing::HasSubstr;
using testing::ScratchDir;

TEST(Statement, BindsAParameterByItsName) {
  ScratchDir dir;
  Database db(dir.file("named.db"));
  db.execute("CREATE TABLE t (a TEXT, b INTEGER, c REAL)", "create the table");
  // Written in another order than the columns: each value lands in its own column all the same.
  Statement insert(db, "INSERT INTO t (a, b, c) VALUES (:a, :b, :c)", "insert");
  insert.bind(":c", 2.5).bind(":a", std::string("x")).bind(":b", int64_t{7}).run();
  insert.bind(insert.parameter_index(":c"), std::nan("")).bind(":a", "y").bind(":b", 8).run();
  Statement select(db, "SELECT a, b, c FROM t ORDER BY b", "select");
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_text(0), "x");
  EXPECT_EQ(select.column_int(1), 7);
  EXPECT_DOUBLE_EQ(select.column_double(2), 2.5);
  ASSERT_TRUE(select.step());
  EXPECT_EQ(select.column_text(0), "y");
  EXPECT_TRUE(select.column_is_null(2));  // NaN is stored as NULL, by name as by index
}

TEST(Statement, AParameterNameTheStatementLacksIsAStoreErrorNamingIt) {
  ScratchDir dir;
  Database db(dir.file("named.db"));
  db.execute("CREATE TABLE t (a TEXT)", "create the table");
  Statement insert(db, "INSERT INTO t (a) VALUES (:a)", "insert a row");
  try {
    insert.bind(":b", "x");
    FAIL() << "bound a parameter the statement does not have";
  } catch (const StoreError& e) {
    EXPECT_THAT(e.what(), HasSubstr("insert a row: the statement has no parameter :b"));
  }
}

}  // namespace
}  // namespace isda::results
