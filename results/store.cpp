#include "results/store.h"

#include "results/schema.h"

#include "common/system.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <unordered_map>

namespace isda::results {
namespace {

// The exclusive writer lock: flock(2) on `<db>.lock`, which holds "pid N on HOST" while held.
// flock locks belong to the open file, so a second ResultsStore in the same process is refused too.
class WriterLock {
 public:
  explicit WriterLock(const std::string& database_path) : path_(database_path + ".lock") {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0) {
      throw StoreError(fmt::format("{}: take the writer lock: cannot open {} ({})", database_path, path_,
                                   std::strerror(errno)));
    }
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int error = errno;
      std::string holder;
      {
        std::ifstream in(path_);
        std::getline(in, holder);
      }
      ::close(fd_);
      fd_ = -1;
      if (error == EWOULDBLOCK) {
        throw StoreError(fmt::format("{}: take the writer lock: another writer holds it ({}); one coordinator "
                                     "writes a store at a time",
                                     database_path, holder.empty() ? "pid unknown" : holder));
      }
      throw StoreError(fmt::format("{}: take the writer lock: flock {} failed ({})", database_path, path_,
                                   std::strerror(error)));
    }
    const auto host = common::host_name();
    const auto holder = fmt::format("pid {} on {}\n", ::getpid(), host.empty() ? "unknown host" : host);
    if (::ftruncate(fd_, 0) == 0) {
      [[maybe_unused]] const auto written = ::pwrite(fd_, holder.data(), holder.size(), 0);  // informative only
    }
  }
  ~WriterLock() {
    if (fd_ >= 0) {
      [[maybe_unused]] const int truncated = ::ftruncate(fd_, 0);
      ::close(fd_);  // releases the flock
    }
  }
  WriterLock(const WriterLock&) = delete;
  WriterLock& operator=(const WriterLock&) = delete;

 private:
  std::string path_;
  int fd_ = -1;
};

}  // namespace

struct ResultsStore::Impl {
  // Declared before the database so that it is released after the database is closed.
  std::unique_ptr<WriterLock> lock;
  Database db;
  // Declared after the database so that they are finalized before it is closed.
  std::unordered_map<std::string, Statement> kept;

  Impl(std::unique_ptr<WriterLock> writer_lock, Database database)
      : lock(std::move(writer_lock)), db(std::move(database)) {}
};

ResultsStore::ResultsStore(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ResultsStore::ResultsStore(ResultsStore&&) noexcept = default;
ResultsStore& ResultsStore::operator=(ResultsStore&&) noexcept = default;
ResultsStore::~ResultsStore() = default;

ResultsStore ResultsStore::open(const std::string& path, Mode mode) {
  std::unique_ptr<WriterLock> lock;
  if (mode == Mode::writer) {
    const auto parent = std::filesystem::path(path).parent_path();
    std::error_code ec;
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) throw StoreError(fmt::format("{}: create the directory {}: {}", path, parent.string(), ec.message()));
    lock = std::make_unique<WriterLock>(path);
  } else if (!std::filesystem::exists(path)) {
    throw StoreError(fmt::format("{}: open the results store: no such file (isda-run creates it)", path));
  }
  Database db(path, mode == Mode::writer ? Database::Mode::read_write_create : Database::Mode::read_only);
  db.execute("PRAGMA busy_timeout = 5000", "set the busy timeout");
  db.execute("PRAGMA foreign_keys = ON", "enable foreign keys");
  if (mode == Mode::writer) {
    // For a new database (an existing one keeps its own): a 100,000-run registration writes ~80 MB
    // through the WAL, frame by frame; 16 KB pages take a sixth off its time (SQLite's default: 4 KB).
    db.execute("PRAGMA page_size = 16384", "set the page size");
    Statement journal(db, "PRAGMA journal_mode = WAL", "enable write-ahead logging");
    const auto journal_mode = journal.step() ? journal.column_text(0) : std::string();
    journal.reset();  // a statement in progress would block the migration's COMMIT
    if (journal_mode != "wal") db.fail("enable write-ahead logging", "the journal mode stays \"" + journal_mode + "\"");
    db.execute("PRAGMA synchronous = NORMAL", "set synchronous mode");
    // A 100,000-run registration touches tens of MB of B-tree pages in one transaction; with SQLite's
    // default 2 MB cache it would spill to the WAL over and over.
    db.execute("PRAGMA cache_size = -65536", "set the page cache size");
    migrate(db);
  } else {
    const int version = results::schema_version(db);
    if (version != current_schema_version()) {
      db.fail("open the results store",
              fmt::format("schema version {}, this build reads {}{}", version, current_schema_version(),
                          version < current_schema_version() ? " (open it with isda-run once to migrate it)"
                                                             : " (use a newer isda-suite)"));
    }
  }
  return ResultsStore(std::make_unique<Impl>(std::move(lock), std::move(db)));
}

const std::string& ResultsStore::path() const { return impl_->db.path(); }

int ResultsStore::schema_version() { return results::schema_version(impl_->db); }

Database& ResultsStore::database() { return impl_->db; }

Statement& ResultsStore::kept_statement(const char* sql, const char* purpose) {
  auto found = impl_->kept.find(sql);
  if (found == impl_->kept.end()) found = impl_->kept.try_emplace(sql, impl_->db, sql, purpose).first;
  found->second.reset();
  return found->second;
}

}  // namespace isda::results
