#pragma once
// A thin RAII layer over the sqlite3 C API: a connection, prepared statements and transactions.
// Every failure becomes a StoreError whose what() is one line: "<database file>: <purpose>: <why>".
// Not thread-safe: one Database and its statements belong to one thread at a time.

#include <cstdint>
#include <stdexcept>
#include <string>

struct sqlite3;
struct sqlite3_stmt;

namespace isda::results {

// Any failure of the results store (SQLite errors, a locked or newer database, a malformed event
// log, an invalid state transition). what() is one line naming the database file.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class Database {
 public:
  enum class Mode { read_write_create, read_only };

  // Opens (or creates) the database file. Throws StoreError naming it.
  Database(std::string path, Mode mode = Mode::read_write_create);
  ~Database();
  Database(const Database&) = delete;
  Database& operator=(const Database&) = delete;
  Database(Database&& other) noexcept;
  Database& operator=(Database&& other) noexcept;

  const std::string& path() const { return path_; }
  sqlite3* handle() const { return db_; }

  // Runs one or more SQL statements that return no rows we need. Throws StoreError with `purpose`.
  void execute(const std::string& sql, const std::string& purpose);
  // Rows changed by the last INSERT, UPDATE or DELETE.
  int64_t changes() const;
  // Throws StoreError "<path>: <purpose>: <detail>" (one line).
  [[noreturn]] void fail(const std::string& purpose, const std::string& detail) const;
  // Throws StoreError with SQLite's current error message as the detail.
  [[noreturn]] void fail_with_sqlite_error(const std::string& purpose) const;

 private:
  std::string path_;
  sqlite3* db_ = nullptr;
};

// A prepared statement. Bind indices are 1-based, column indices 0-based, as in SQLite. A
// parameter written `:name` in the SQL may be bound by that name instead of its index.
class Statement {
 public:
  Statement(Database& db, const char* sql, std::string purpose);
  ~Statement();
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;
  Statement(Statement&& other) noexcept;
  Statement& operator=(Statement&&) = delete;

  Statement& bind(int index, int64_t value);
  Statement& bind(int index, int value) { return bind(index, static_cast<int64_t>(value)); }
  Statement& bind(int index, double value);  // NaN is stored as NULL
  Statement& bind(int index, const std::string& value);
  Statement& bind(int index, const char* value);  // nullptr is stored as NULL
  Statement& bind_null(int index);

  // The index of the parameter `name` (with its ':', e.g. ":run_id"). Throws StoreError when the
  // SQL has no parameter of that name. Resolve once and bind the index for a statement run per row.
  int parameter_index(const std::string& name) const;
  // Binds the parameter `name` as bind(index, value) does. Throws StoreError as parameter_index.
  template <typename Value>
  Statement& bind(const std::string& name, const Value& value) {
    return bind(parameter_index(name), value);
  }

  // Advances: true when a row is available, false when done. Throws StoreError.
  bool step();
  // Steps to completion and resets, for statements that return no rows.
  void run();
  // Makes the statement ready to run again (bindings are cleared).
  void reset();

  bool column_is_null(int column) const;
  int64_t column_int(int column) const;
  double column_double(int column) const;  // NULL reads as NaN
  std::string column_text(int column) const;  // NULL reads as ""

 private:
  Database* db_;
  sqlite3_stmt* statement_ = nullptr;
  std::string purpose_;
};

// BEGIN IMMEDIATE on construction; rolls back on destruction unless commit() ran.
class Transaction {
 public:
  Transaction(Database& db, std::string purpose);
  ~Transaction();
  Transaction(const Transaction&) = delete;
  Transaction& operator=(const Transaction&) = delete;
  void commit();

 private:
  Database& db_;
  std::string purpose_;
  bool open_ = true;
};

}  // namespace isda::results
