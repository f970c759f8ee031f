#include "results/sqlite.h"

#include <sqlite3.h>

#include <cmath>
#include <limits>
#include <utility>

namespace isda::results {
namespace {

std::string one_line(std::string text) {
  for (auto& c : text) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  return text;
}

}  // namespace

Database::Database(std::string path, Mode mode) : path_(std::move(path)) {
  const int flags = mode == Mode::read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
  const int rc = sqlite3_open_v2(path_.c_str(), &db_, flags | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    const std::string why = db_ ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
    sqlite3_close(db_);
    db_ = nullptr;
    throw StoreError(one_line(path_ + ": open the database: " + why));
  }
  sqlite3_extended_result_codes(db_, 1);
}

Database::~Database() {
  if (db_) sqlite3_close_v2(db_);
}

Database::Database(Database&& other) noexcept : path_(std::move(other.path_)), db_(std::exchange(other.db_, nullptr)) {}

Database& Database::operator=(Database&& other) noexcept {
  if (this != &other) {
    if (db_) sqlite3_close_v2(db_);
    path_ = std::move(other.path_);
    db_ = std::exchange(other.db_, nullptr);
  }
  return *this;
}

void Database::execute(const std::string& sql, const std::string& purpose) {
  char* message = nullptr;
  if (sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &message) != SQLITE_OK) {
    const std::string why = message ? message : sqlite3_errmsg(db_);
    sqlite3_free(message);
    fail(purpose, why);
  }
}

int64_t Database::changes() const { return sqlite3_changes(db_); }

void Database::fail(const std::string& purpose, const std::string& detail) const {
  throw StoreError(one_line(path_ + ": " + purpose + ": " + detail));
}

void Database::fail_with_sqlite_error(const std::string& purpose) const { fail(purpose, sqlite3_errmsg(db_)); }

Statement::Statement(Database& db, const char* sql, std::string purpose) : db_(&db), purpose_(std::move(purpose)) {
  if (sqlite3_prepare_v3(db.handle(), sql, -1, SQLITE_PREPARE_PERSISTENT, &statement_, nullptr) != SQLITE_OK) {
    db.fail_with_sqlite_error(purpose_);
  }
}

Statement::~Statement() { sqlite3_finalize(statement_); }

Statement::Statement(Statement&& other) noexcept
    : db_(other.db_), statement_(std::exchange(other.statement_, nullptr)), purpose_(std::move(other.purpose_)) {}

Statement& Statement::bind(int index, int64_t value) {
  if (sqlite3_bind_int64(statement_, index, value) != SQLITE_OK) db_->fail_with_sqlite_error(purpose_);
  return *this;
}

Statement& Statement::bind(int index, double value) {
  if (std::isnan(value)) return bind_null(index);
  if (sqlite3_bind_double(statement_, index, value) != SQLITE_OK) db_->fail_with_sqlite_error(purpose_);
  return *this;
}

Statement& Statement::bind(int index, const std::string& value) {
  if (sqlite3_bind_text(statement_, index, value.data(), static_cast<int>(value.size()), SQLITE_TRANSIENT) !=
      SQLITE_OK) {
    db_->fail_with_sqlite_error(purpose_);
  }
  return *this;
}

Statement& Statement::bind(int index, const char* value) {
  if (value == nullptr) return bind_null(index);
  return bind(index, std::string(value));
}

Statement& Statement::bind_null(int index) {
  if (sqlite3_bind_null(statement_, index) != SQLITE_OK) db_->fail_with_sqlite_error(purpose_);
  return *this;
}

int Statement::parameter_index(const std::string& name) const {
  const int index = sqlite3_bind_parameter_index(statement_, name.c_str());
  if (index == 0) db_->fail(purpose_, "the statement has no parameter " + name);
  return index;
}

bool Statement::step() {
  const int rc = sqlite3_step(statement_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  const std::string why = sqlite3_errmsg(db_->handle());
  sqlite3_reset(statement_);
  db_->fail(purpose_, why);
}

void Statement::run() {
  while (step()) {
  }
  reset();
}

void Statement::reset() {
  sqlite3_reset(statement_);
  sqlite3_clear_bindings(statement_);
}

bool Statement::column_is_null(int column) const { return sqlite3_column_type(statement_, column) == SQLITE_NULL; }

int64_t Statement::column_int(int column) const { return sqlite3_column_int64(statement_, column); }

double Statement::column_double(int column) const {
  if (column_is_null(column)) return std::numeric_limits<double>::quiet_NaN();
  return sqlite3_column_double(statement_, column);
}

std::string Statement::column_text(int column) const {
  const auto* text = sqlite3_column_text(statement_, column);
  if (text == nullptr) return {};
  return std::string(reinterpret_cast<const char*>(text), static_cast<size_t>(sqlite3_column_bytes(statement_, column)));
}

Transaction::Transaction(Database& db, std::string purpose) : db_(db), purpose_(std::move(purpose)) {
  db_.execute("BEGIN IMMEDIATE", purpose_);
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(db_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

void Transaction::commit() {
  db_.execute("COMMIT", purpose_);
  open_ = false;
}

}  // namespace isda::results
