#include "results/store.h"

#include "results/schema.h"

#include "common/system.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

namespace isda::results {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr std::array<RunState, 5> kStates = {RunState::pending, RunState::running, RunState::done, RunState::failed,
                                             RunState::interrupted};

using common::fnv1a_hex;
using common::now_seconds;

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

// One line of the event log, for error messages.
struct LogLine {
  const std::string& file;
  int64_t number;
};

double metric(const nlohmann::json& event, const char* key, const LogLine& line) {
  const auto it = event.find(key);
  if (it == event.end()) {
    throw events::EventLogError(fmt::format("{}: line {}: {} event lacks \"{}\"", line.file, line.number,
                                            event.value(events::kEvent, std::string()), key));
  }
  if (it->is_null()) return kNaN;  // isda-train writes NaN (no test set, no hold-out) as null
  if (!it->is_number()) {
    throw events::EventLogError(fmt::format("{}: line {}: \"{}\" is not a number", line.file, line.number, key));
  }
  return it->get<double>();
}

// A metric that logs of older versions lack: NaN when absent.
double optional_metric(const nlohmann::json& event, const char* key, const LogLine& line) {
  return event.contains(key) ? metric(event, key, line) : kNaN;
}

int64_t integer(const nlohmann::json& event, const char* key, const LogLine& line) {
  const auto it = event.find(key);
  if (it == event.end() || !it->is_number_integer()) {
    throw events::EventLogError(fmt::format("{}: line {}: {} event lacks an integer \"{}\"", line.file, line.number,
                                            event.value(events::kEvent, std::string()), key));
  }
  return it->get<int64_t>();
}

}  // namespace

bool is_newer(const SweepInfo& a, const SweepInfo& b) {
  return a.created != b.created ? a.created > b.created : a.id > b.id;
}

const char* to_string(RunState state) {
  switch (state) {
    case RunState::pending: return "pending";
    case RunState::running: return "running";
    case RunState::done: return "done";
    case RunState::failed: return "failed";
    case RunState::interrupted: return "interrupted";
  }
  return "unknown";
}

RunState run_state_from_string(const std::string& name) {
  for (const auto state : kStates) {
    if (name == to_string(state)) return state;
  }
  throw StoreError(fmt::format("unknown run state \"{}\" (known: pending, running, done, failed, interrupted)", name));
}

bool transition_allowed(RunState from, RunState to) {
  switch (from) {
    case RunState::pending: return to == RunState::running;
    case RunState::running:
      return to == RunState::done || to == RunState::failed || to == RunState::interrupted;
    case RunState::interrupted: return to == RunState::pending || to == RunState::running;
    case RunState::failed: return to == RunState::pending;
    case RunState::done: return false;
  }
  return false;
}

struct ResultsStore::Impl {
  // Declared before the database so that it is released after the database is closed.
  std::unique_ptr<WriterLock> lock;
  Database db;

  std::optional<Statement> insert_run, select_config, insert_member, upsert_epoch, upsert_final;

  Impl(std::unique_ptr<WriterLock> writer_lock, Database database)
      : lock(std::move(writer_lock)), db(std::move(database)) {}

  Statement& cached(std::optional<Statement>& slot, const char* sql, const char* purpose) {
    if (!slot) slot.emplace(db, sql, purpose);
    slot->reset();
    return *slot;
  }

  bool run_exists(const std::string& run_id, const std::string& purpose) {
    Statement query(db, "SELECT 1 FROM runs WHERE id = ?", purpose);
    return query.bind(1, run_id).step();
  }
};

namespace {

constexpr const char* kRunColumns =
    "SELECT r.id, r.config_json, r.state, r.attempts, "
    "(SELECT coalesce(max(e.epoch), 0) FROM epochs e WHERE e.run_id = r.id), r.run_dir, "
    "coalesce(r.lease_owner, ''), r.lease_heartbeat, r.error, r.log_tail, r.created, r.updated, r.failures, r.fault "
    "FROM runs r ";

RunInfo run_info_of(const Statement& row) {
  RunInfo info;
  info.id = row.column_text(0);
  info.config_json = row.column_text(1);
  info.state = run_state_from_string(row.column_text(2));
  info.attempts = row.column_int(3);
  info.last_epoch = row.column_int(4);
  info.run_dir = row.column_text(5);
  info.lease_owner = row.column_text(6);
  info.lease_heartbeat = row.column_double(7);
  info.error = row.column_text(8);
  info.log_tail = row.column_text(9);
  info.created = row.column_double(10);
  info.updated = row.column_double(11);
  info.failures = row.column_int(12);
  info.fault = row.column_text(13);
  return info;
}

std::vector<RunInfo> run_infos(Statement& query) {
  std::vector<RunInfo> runs;
  while (query.step()) runs.push_back(run_info_of(query));
  return runs;
}

// The worker's side of a run's provenance, from the `environment` of its last start event
// (support::RunEnvironment); the coordinator's side (command line, start, end) stays as it is. A
// field of another type than isda-train writes is stored empty.
void record_environment(Database& db, const std::string& run_id, const nlohmann::json& environment,
                        const std::string& purpose) {
  const auto text = [&](const char* key) {
    const auto it = environment.find(key);
    return it != environment.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  const auto dirty = environment.find("git_dirty");
  Statement upsert(db,
                   "INSERT INTO provenance (run_id, git_commit, git_dirty, host, gpu_model, driver, libtorch, cuda, cudnn) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
                   "git_commit = excluded.git_commit, git_dirty = excluded.git_dirty, host = excluded.host, "
                   "gpu_model = excluded.gpu_model, driver = excluded.driver, libtorch = excluded.libtorch, "
                   "cuda = excluded.cuda, cudnn = excluded.cudnn",
                   purpose);
  upsert.bind(1, run_id).bind(2, text("git_commit"));
  upsert.bind(3, dirty != environment.end() && dirty->is_boolean() && dirty->get<bool>() ? 1 : 0);
  upsert.bind(4, text("host")).bind(5, text("gpu_model")).bind(6, text("driver")).bind(7, text("libtorch"));
  upsert.bind(8, text("cuda")).bind(9, text("cudnn")).run();
}

}  // namespace

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

int64_t ResultsStore::register_sweep(const std::string& name, const std::string& spec_path,
                                     const std::string& spec_json) {
  const std::string purpose = fmt::format("register sweep \"{}\"", name);
  auto& db = impl_->db;
  std::string canonical;
  try {
    canonical = nlohmann::json::parse(spec_json).dump();  // keys sorted: equal specs hash equal
  } catch (const nlohmann::json::exception& e) {
    db.fail(purpose, fmt::format("{}: the spec is not JSON ({})", spec_path, e.what()));
  }
  const auto hash = fnv1a_hex(canonical);
  Transaction transaction(db, purpose);
  Statement insert(db,
                   "INSERT INTO sweeps (name, spec_path, spec_hash, spec_json, created) VALUES (?, ?, ?, ?, ?) "
                   "ON CONFLICT (name, spec_hash) DO NOTHING",
                   purpose);
  insert.bind(1, name).bind(2, spec_path).bind(3, hash).bind(4, canonical).bind(5, now_seconds()).run();
  Statement select(db, "SELECT id FROM sweeps WHERE name = ? AND spec_hash = ?", purpose);
  select.bind(1, name).bind(2, hash).step();
  const auto id = select.column_int(0);
  select.reset();
  transaction.commit();
  return id;
}

namespace {

// Throws StoreError (naming both states) unless the run exists and may move to `to`.
void check_transition(Database& db, const std::string& run_id, RunState to, const std::string& purpose) {
  Statement current(db, "SELECT state FROM runs WHERE id = ?", purpose);
  if (!current.bind(1, run_id).step()) db.fail(purpose, "no such run");
  const auto from = run_state_from_string(current.column_text(0));
  current.reset();
  if (!transition_allowed(from, to)) {
    db.fail(purpose, fmt::format("the run is {}, and {} -> {} is not a lifecycle transition", to_string(from),
                                 to_string(from), to_string(to)));
  }
}

// Whether two configs (JSON objects) agree in every key but `ignored`; a key on one side only counts.
bool same_but(const std::string& a_json, const std::string& b_json, const std::vector<std::string>& ignored) {
  auto a = nlohmann::json::parse(a_json, nullptr, false);
  auto b = nlohmann::json::parse(b_json, nullptr, false);
  if (!a.is_object() || !b.is_object()) return false;
  for (const auto& key : ignored) {
    a.erase(key);
    b.erase(key);
  }
  return a == b;
}

}  // namespace

RegisterResult ResultsStore::register_runs(int64_t sweep_id, const std::vector<RunRecord>& runs,
                                           const std::vector<std::string>& execution_keys) {
  const std::string purpose = fmt::format("register the runs of sweep {}", sweep_id);
  auto& db = impl_->db;
  Transaction transaction(db, purpose);
  {
    Statement sweep(db, "SELECT 1 FROM sweeps WHERE id = ?", purpose);
    if (!sweep.bind(1, sweep_id).step()) db.fail(purpose, "no such sweep");
  }
  auto& insert = impl_->cached(impl_->insert_run,
                               "INSERT INTO runs (id, config_json, run_dir, created, updated) VALUES (?, ?, ?, ?, ?) "
                               "ON CONFLICT (id) DO NOTHING",
                               "register runs");
  auto& config = impl_->cached(impl_->select_config, "SELECT config_json FROM runs WHERE id = ?", "register runs");
  auto& member = impl_->cached(impl_->insert_member,
                               "INSERT INTO sweep_runs (sweep_id, run_id, position) VALUES (?, ?, ?) "
                               "ON CONFLICT (sweep_id, run_id) DO NOTHING",
                               "register runs");
  // Inserting in key order keeps the B-tree writes sequential: several times faster for a big grid
  // of hash ids than the grid's order. The grid's order is kept in sweep_runs.position.
  // Sorted by the ids' first eight bytes as a big-endian number (the same order as the strings'),
  // then by the whole id: integers compare without chasing each id's heap pointer (100,000 small
  // runs registered in 0.32 s instead of 0.36 s on the 2-core CPU machine).
  std::vector<std::pair<uint64_t, size_t>> order(runs.size());
  for (size_t i = 0; i < order.size(); ++i) {
    uint64_t prefix = 0;
    const auto& id = runs[i].id;
    for (size_t b = 0; b < 8; ++b) prefix = prefix << 8 | (b < id.size() ? static_cast<unsigned char>(id[b]) : 0u);
    order[i] = {prefix, i};
  }
  std::sort(order.begin(), order.end(), [&runs](const auto& a, const auto& b) {
    return a.first != b.first ? a.first < b.first : runs[a.second].id < runs[b.second].id;
  });
  const double now = now_seconds();
  RegisterResult result;
  for (const auto& [prefix, position] : order) {
    const auto& run = runs[position];
    insert.bind(1, run.id).bind(2, run.config_json).bind(3, run.run_dir).bind(4, now).bind(5, now).run();
    if (db.changes() == 1) {
      ++result.added;
    } else {
      ++result.existing;
      config.bind(1, run.id).step();
      const auto stored = config.column_text(0);
      config.reset();
      if (stored != run.config_json) {
        if (!same_but(stored, run.config_json, execution_keys)) {
          db.fail(purpose, fmt::format("run {} is already registered with another config (a hash collision or a "
                                       "non-canonical config); nothing was registered",
                                       run.id));
        }
        Statement update(db, "UPDATE runs SET config_json = ?, updated = ? WHERE id = ?", purpose);
        update.bind(1, run.config_json).bind(2, now).bind(3, run.id).run();
      }
    }
    member.bind(1, sweep_id).bind(2, run.id).bind(3, static_cast<int64_t>(position)).run();
  }
  transaction.commit();
  return result;
}

void ResultsStore::set_state(const std::string& run_id, RunState to, const std::string& error,
                             const std::string& log_tail) {
  if (to == RunState::failed) {
    record_failure(run_id, events::Fault::run, error, log_tail);
    return;
  }
  if (to == RunState::running) {
    start_attempt(run_id, "");
    if (!error.empty() || !log_tail.empty()) {
      Statement update(impl_->db,
                       "UPDATE runs SET error = CASE WHEN ?1 <> '' THEN ?1 ELSE error END, "
                       "log_tail = CASE WHEN ?2 <> '' THEN ?2 ELSE log_tail END WHERE id = ?3",
                       "set the state of run " + run_id);
      update.bind(1, error).bind(2, log_tail).bind(3, run_id).run();
    }
    return;
  }
  const std::string purpose = fmt::format("set run {} to {}", run_id, to_string(to));
  auto& db = impl_->db;
  Transaction transaction(db, purpose);
  check_transition(db, run_id, to, purpose);
  Statement update(db,
                   "UPDATE runs SET state = ?1, "
                   "error = CASE WHEN ?1 = 'done' THEN '' WHEN ?2 <> '' THEN ?2 ELSE error END, "
                   "log_tail = CASE WHEN ?3 <> '' THEN ?3 ELSE log_tail END, "
                   "lease_owner = NULL, lease_heartbeat = NULL, updated = ?4 WHERE id = ?5",
                   purpose);
  update.bind(1, to_string(to)).bind(2, error).bind(3, log_tail).bind(4, now_seconds()).bind(5, run_id).run();
  transaction.commit();
}

void ResultsStore::record_failure(const std::string& run_id, events::Fault fault, const std::string& error,
                                  const std::string& log_tail) {
  const std::string purpose = fmt::format("set run {} to failed", run_id);
  auto& db = impl_->db;
  Transaction transaction(db, purpose);
  check_transition(db, run_id, RunState::failed, purpose);
  Statement update(db,
                   "UPDATE runs SET state = 'failed', failures = failures + ?1, fault = ?2, "
                   "error = CASE WHEN ?3 <> '' THEN ?3 ELSE error END, "
                   "log_tail = CASE WHEN ?4 <> '' THEN ?4 ELSE log_tail END, "
                   "lease_owner = NULL, lease_heartbeat = NULL, updated = ?5 WHERE id = ?6",
                   purpose);
  update.bind(1, events::is_charged(fault) ? 1 : 0).bind(2, events::to_string(fault)).bind(3, error);
  update.bind(4, log_tail).bind(5, now_seconds()).bind(6, run_id).run();
  transaction.commit();
}

void ResultsStore::start_attempt(const std::string& run_id, const std::string& owner) {
  const std::string purpose = fmt::format("start an attempt of run {}", run_id);
  auto& db = impl_->db;
  Transaction transaction(db, purpose);
  check_transition(db, run_id, RunState::running, purpose);
  const double now = now_seconds();
  Statement update(db,
                   "UPDATE runs SET state = 'running', attempts = attempts + 1, lease_owner = ?, "
                   "lease_heartbeat = ?, updated = ? WHERE id = ?",
                   purpose);
  update.bind(1, owner.empty() ? nullptr : owner.c_str()).bind(2, now).bind(3, now).bind(4, run_id).run();
  transaction.commit();
}

bool ResultsStore::heartbeat(const std::string& run_id, const std::string& owner) {
  Statement update(impl_->db,
                   "UPDATE runs SET lease_heartbeat = ?1, updated = ?1 "
                   "WHERE id = ?2 AND state = 'running' AND lease_owner = ?3",
                   fmt::format("renew the lease of run {}", run_id));
  update.bind(1, now_seconds()).bind(2, run_id).bind(3, owner).run();
  return impl_->db.changes() == 1;
}

std::vector<RunInfo> ResultsStore::stale_runs(double older_than_seconds) {
  Statement query(impl_->db,
                  (std::string(kRunColumns) +
                   "WHERE r.state = 'running' AND (r.lease_heartbeat IS NULL OR r.lease_heartbeat < ?) ORDER BY r.id")
                      .c_str(),
                  "find stale leases");
  query.bind(1, now_seconds() - older_than_seconds);
  return run_infos(query);
}

IngestResult ResultsStore::ingest_events(const std::string& run_id, const std::string& events_jsonl_path,
                                         int64_t attempt_start) {
  const std::string purpose = fmt::format("ingest the events of run {}", run_id);
  auto& db = impl_->db;
  if (!impl_->run_exists(run_id, purpose)) db.fail(purpose, "no such run");
  IngestResult result;
  std::string text;
  if (std::filesystem::exists(events_jsonl_path)) {
    std::ifstream in(events_jsonl_path, std::ios::binary);
    if (!in) db.fail(purpose, fmt::format("{}: cannot open ({})", events_jsonl_path, std::strerror(errno)));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  auto& epoch = impl_->cached(
      impl_->upsert_epoch,
      "INSERT INTO epochs (run_id, epoch, train_loss, train_error, test_error, validation_error, lambda, lr, seconds, "
      "images_per_second, test_top5_error) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id, epoch) DO UPDATE SET "
      "train_loss = excluded.train_loss, train_error = excluded.train_error, test_error = excluded.test_error, "
      "validation_error = excluded.validation_error, lambda = excluded.lambda, lr = excluded.lr, "
      "seconds = excluded.seconds, images_per_second = excluded.images_per_second, "
      "test_top5_error = excluded.test_top5_error",
      "ingest epochs");
  auto& final_row = impl_->cached(
      impl_->upsert_final,
      "INSERT INTO finals (run_id, final_test_error, best_test_error, last10_test_error, last10_validation_error, "
      "epochs, last10_test_top5_error) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (run_id) DO UPDATE SET "
      "final_test_error = excluded.final_test_error, best_test_error = excluded.best_test_error, "
      "last10_test_error = excluded.last10_test_error, last10_validation_error = excluded.last10_validation_error, "
      "epochs = excluded.epochs, last10_test_top5_error = excluded.last10_test_top5_error",
      "ingest final metrics");

  Transaction transaction(db, purpose);  // rolled back (nothing stored) if a line is not a record
  nlohmann::json environment;  // of the last start event that has one
  size_t begin = 0;
  int64_t number = 0;
  try {
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    if (end == std::string::npos) {  // a torn last line: the worker died mid-append
      result.torn_line_ignored = true;
      break;
    }
    ++number;
    const LogLine line{events_jsonl_path, number};
    const auto first = text.data() + begin;
    const auto last = text.data() + end;
    // Records before the attempt's start are an earlier attempt's: their data counts, their end not.
    const bool this_attempt = static_cast<int64_t>(begin) >= attempt_start;
    begin = end + 1;
    if (first == last) continue;
    const auto event = events::parse_record(first, last, line.file, line.number);
    const auto& name = event.at(events::kEvent).get_ref<const std::string&>();
    using Outcome = IngestResult::Outcome;
    if (name == events::kEpoch) {
      const auto epoch_number = integer(event, events::kEpoch, line);
      epoch.bind(1, run_id).bind(2, epoch_number);
      int column = 3;
      for (const char* key : events::kEpochMetrics) {
        epoch.bind(column++, key == std::string("test_top5_error") ? optional_metric(event, key, line)
                                                                   : metric(event, key, line));
      }
      epoch.run();
      ++result.epoch_events;
      result.last_epoch = std::max(result.last_epoch, epoch_number);
      if (this_attempt && result.outcome == Outcome::none) result.outcome = Outcome::running;
    } else if (name == events::kStart) {
      // isda-train logs a start even when rerun on a finished run directory; done stays done.
      if (this_attempt && result.outcome != Outcome::done) {
        result.outcome = Outcome::running;
        result.reason.clear();
        result.signal = 0;
      }
      const auto found = event.find(events::kEnvironment);
      if (found != event.end() && found->is_object()) environment = *found;
    } else if (name == events::kDone) {
      final_row.bind(1, run_id);
      int column = 2;
      for (const char* key : events::kDoneMetrics) {
        if (column == 6) final_row.bind(column++, integer(event, events::kEpochs, line));
        final_row.bind(column++, key == std::string("last10_test_top5_error") ? optional_metric(event, key, line)
                                                                              : metric(event, key, line));
      }
      final_row.run();
      result.outcome = Outcome::done;  // whichever attempt logged it: a finished run stays finished
    } else if (name == events::kFailed && this_attempt && result.outcome != Outcome::done) {
      result.outcome = Outcome::failed;
      result.reason = event.value(events::kReason, std::string());
      result.fault = events::fault_from_string(event.value(events::kFault, std::string()));
      const auto code = event.find(events::kExitCode);
      result.exit_code = code != event.end() && code->is_number_integer() ? code->get<int>() : 0;
    } else if (name == events::kInterrupted && this_attempt && result.outcome != Outcome::done) {
      result.outcome = Outcome::interrupted;
      result.signal = static_cast<int>(integer(event, events::kSignal, line));
    }
    // Other events are for humans and later versions; they carry nothing to store.
  }
  } catch (const events::EventLogError& e) {
    IngestResult unreadable;
    unreadable.outcome = IngestResult::Outcome::unreadable;
    unreadable.reason = e.what();
    return unreadable;  // the transaction rolls back: nothing of this log is stored
  }
  if (!environment.is_null()) record_environment(db, run_id, environment, purpose);
  transaction.commit();
  return result;
}

void ResultsStore::record_provenance(const std::string& run_id, const Provenance& p) {
  const std::string purpose = fmt::format("record the provenance of run {}", run_id);
  auto& db = impl_->db;
  if (!impl_->run_exists(run_id, purpose)) db.fail(purpose, "no such run");
  Statement upsert(db,
                   "INSERT OR REPLACE INTO provenance (run_id, git_commit, git_dirty, host, gpu_model, driver, "
                   "libtorch, cuda, cudnn, command_line, started, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   purpose);
  upsert.bind(1, run_id).bind(2, p.git_commit).bind(3, p.git_dirty ? 1 : 0).bind(4, p.host).bind(5, p.gpu_model);
  upsert.bind(6, p.driver).bind(7, p.libtorch).bind(8, p.cuda).bind(9, p.cudnn).bind(10, p.command_line);
  upsert.bind(11, p.started).bind(12, p.ended).run();
}

Lambda0Choice ResultsStore::record_lambda0_choice(int64_t sweep_id, const Lambda0Choice& choice) {
  const std::string purpose = fmt::format("record the lambda0 choice of sweep {} for {}", sweep_id, choice.group_key);
  auto& db = impl_->db;
  Transaction transaction(db, purpose);
  Statement insert(db,
                   "INSERT OR IGNORE INTO lambda0_choices (sweep_id, group_key, lambda0, metric, evidence, decided) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   purpose);
  insert.bind(1, sweep_id).bind(2, choice.group_key).bind(3, choice.lambda0).bind(4, choice.metric);
  insert.bind(5, choice.evidence).bind(6, now_seconds()).run();
  transaction.commit();
  for (auto& recorded : lambda0_choices(sweep_id)) {
    if (recorded.group_key == choice.group_key) return recorded;
  }
  db.fail(purpose, "the choice was not recorded");
}

std::vector<Lambda0Choice> ResultsStore::lambda0_choices(int64_t sweep_id) {
  Statement query(impl_->db,
                  "SELECT group_key, lambda0, metric, evidence, decided FROM lambda0_choices WHERE sweep_id = ? "
                  "ORDER BY group_key",
                  fmt::format("read the lambda0 choices of sweep {}", sweep_id));
  query.bind(1, sweep_id);
  std::vector<Lambda0Choice> choices;
  while (query.step()) {
    choices.push_back({query.column_text(0), query.column_double(1), query.column_text(2), query.column_text(3),
                       query.column_double(4)});
  }
  return choices;
}

void ResultsStore::record_calibration(const Calibration& c) {
  const std::string purpose = fmt::format("record the calibration of {} at {} px ({}, {}) on {}", c.model, c.resolution,
                                          c.method, c.precision, c.device);
  auto& db = impl_->db;
  if (!(c.train_images_per_second > 0) || !(c.test_images_per_second > 0)) {
    db.fail(purpose, fmt::format("images per second must be positive, got {} and {}", c.train_images_per_second,
                                 c.test_images_per_second));
  }
  Statement insert(db,
                   "INSERT OR REPLACE INTO calibrations (device, model, resolution, method, precision, batch_size, "
                   "threads, train_images_per_second, test_images_per_second, steps, measured) "
                   "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   purpose);
  insert.bind(1, c.device).bind(2, c.model).bind(3, c.resolution).bind(4, c.method).bind(5, c.precision);
  insert.bind(6, c.batch_size).bind(7, c.threads).bind(8, c.train_images_per_second).bind(9, c.test_images_per_second);
  insert.bind(10, c.steps).bind(11, c.measured > 0 ? c.measured : now_seconds()).run();
}

std::vector<Calibration> ResultsStore::calibrations() {
  Statement query(impl_->db,
                  "SELECT device, model, resolution, method, precision, batch_size, threads, train_images_per_second, "
                  "test_images_per_second, steps, measured FROM calibrations ORDER BY device, model, resolution, method, "
                  "precision",
                  "read the calibrations");
  std::vector<Calibration> rows;
  while (query.step()) {
    rows.push_back({query.column_text(0), query.column_text(1), query.column_int(2), query.column_text(3),
                    query.column_text(4), query.column_int(5), query.column_int(6), query.column_double(7),
                    query.column_double(8), query.column_int(9), query.column_double(10)});
  }
  return rows;
}

std::vector<EpochTiming> ResultsStore::epoch_timings() {
  Statement query(impl_->db,
                  "SELECT r.id, r.config_json, coalesce(p.gpu_model, ''), avg(e.seconds), count(*), "
                  "CASE WHEN r.state = 'done' AND p.ended IS NOT NULL AND p.started IS NOT NULL "
                  "THEN p.ended - p.started - sum(e.seconds) END FROM runs r "
                  "JOIN epochs e ON e.run_id = r.id LEFT JOIN provenance p ON p.run_id = r.id "
                  "WHERE e.seconds > 0 GROUP BY r.id ORDER BY r.id",
                  "read the runs' epoch times");
  std::vector<EpochTiming> rows;
  while (query.step()) {
    rows.push_back({query.column_text(0), query.column_text(1), query.column_text(2), query.column_double(3),
                    query.column_int(4), query.column_double(5)});
  }
  return rows;
}

std::vector<SweepInfo> ResultsStore::list_sweeps() {
  Statement query(impl_->db,
                  "SELECT id, name, spec_path, spec_hash, spec_json, created, "
                  "(SELECT count(*) FROM sweep_runs m WHERE m.sweep_id = s.id) FROM sweeps s ORDER BY id",
                  "list sweeps");
  std::vector<SweepInfo> sweeps;
  while (query.step()) {
    sweeps.push_back({query.column_int(0), query.column_text(1), query.column_text(2), query.column_text(3),
                      query.column_text(4), query.column_double(5), query.column_int(6)});
  }
  return sweeps;
}

std::optional<RunInfo> ResultsStore::find_run(const std::string& run_id) {
  Statement query(impl_->db, (std::string(kRunColumns) + "WHERE r.id = ?").c_str(), "find run " + run_id);
  query.bind(1, run_id);
  if (!query.step()) return std::nullopt;
  return run_info_of(query);
}

std::vector<RunInfo> ResultsStore::runs_of_sweep(int64_t sweep_id) {
  Statement query(impl_->db,
                  (std::string(kRunColumns) +
                   "JOIN sweep_runs m ON m.run_id = r.id WHERE m.sweep_id = ? ORDER BY m.position, r.id")
                      .c_str(),
                  fmt::format("list the runs of sweep {}", sweep_id));
  query.bind(1, sweep_id);
  return run_infos(query);
}

StateCounts ResultsStore::counts_by_state(int64_t sweep_id) {
  Statement query(impl_->db,
                  "SELECT r.state, count(*) FROM runs r JOIN sweep_runs m ON m.run_id = r.id "
                  "WHERE m.sweep_id = ? GROUP BY r.state",
                  fmt::format("count the runs of sweep {}", sweep_id));
  query.bind(1, sweep_id);
  StateCounts counts;
  while (query.step()) {
    const auto n = query.column_int(1);
    switch (run_state_from_string(query.column_text(0))) {
      case RunState::pending: counts.pending = n; break;
      case RunState::running: counts.running = n; break;
      case RunState::done: counts.done = n; break;
      case RunState::failed: counts.failed = n; break;
      case RunState::interrupted: counts.interrupted = n; break;
    }
  }
  return counts;
}

std::vector<EpochRow> ResultsStore::epochs_of(const std::string& run_id) {
  Statement query(impl_->db,
                  "SELECT epoch, train_loss, train_error, test_error, validation_error, lambda, lr, seconds, "
                  "images_per_second, test_top5_error FROM epochs WHERE run_id = ? ORDER BY epoch",
                  "list the epochs of run " + run_id);
  query.bind(1, run_id);
  std::vector<EpochRow> rows;
  while (query.step()) {
    rows.push_back({query.column_int(0), query.column_double(1), query.column_double(2), query.column_double(3),
                    query.column_double(4), query.column_double(5), query.column_double(6), query.column_double(7),
                    query.column_double(8), query.column_double(9)});
  }
  return rows;
}

std::vector<FinalRow> ResultsStore::finals_of(const std::vector<std::string>& run_ids) {
  Statement query(impl_->db,
                  "SELECT final_test_error, best_test_error, last10_test_error, last10_validation_error, epochs, "
                  "last10_test_top5_error FROM finals WHERE run_id = ?",
                  "read final metrics");
  std::vector<FinalRow> rows;
  for (const auto& id : run_ids) {
    query.reset();
    query.bind(1, id);
    if (!query.step()) continue;
    rows.push_back({id, query.column_double(0), query.column_double(1), query.column_double(2), query.column_double(3),
                    query.column_int(4), query.column_double(5)});
  }
  return rows;
}

std::optional<Provenance> ResultsStore::provenance_of(const std::string& run_id) {
  Statement query(impl_->db,
                  "SELECT git_commit, git_dirty, host, gpu_model, driver, libtorch, cuda, cudnn, command_line, "
                  "started, ended FROM provenance WHERE run_id = ?",
                  "read the provenance of run " + run_id);
  query.bind(1, run_id);
  if (!query.step()) return std::nullopt;
  Provenance p;
  p.git_commit = query.column_text(0);
  p.git_dirty = query.column_int(1) != 0;
  p.host = query.column_text(2);
  p.gpu_model = query.column_text(3);
  p.driver = query.column_text(4);
  p.libtorch = query.column_text(5);
  p.cuda = query.column_text(6);
  p.cudnn = query.column_text(7);
  p.command_line = query.column_text(8);
  p.started = query.column_double(9);
  p.ended = query.column_double(10);
  return p;
}

int64_t ResultsStore::record_slurm_intent(int64_t sweep_id, const std::string& resource_class,
                                          const std::string& manifest_path, const std::string& job_name,
                                          const std::vector<std::string>& run_ids) {
  const std::string purpose = fmt::format("record the Slurm submission {} of sweep {}", job_name, sweep_id);
  auto& db = impl_->db;
  Transaction transaction(db, purpose);
  const double now = now_seconds();
  Statement insert(db,
                   "INSERT INTO slurm_submissions (sweep_id, resource_class, manifest_path, job_name, created, updated) "
                   "VALUES (?, ?, ?, ?, ?, ?)",
                   purpose);
  insert.bind(1, sweep_id).bind(2, resource_class).bind(3, manifest_path).bind(4, job_name).bind(5, now).bind(6, now);
  insert.run();
  Statement select(db, "SELECT id FROM slurm_submissions WHERE job_name = ?", purpose);
  select.bind(1, job_name).step();
  const auto id = select.column_int(0);
  select.reset();
  Statement task(db, "INSERT INTO slurm_tasks (submission_id, task, run_id) VALUES (?, ?, ?)", purpose);
  for (size_t i = 0; i < run_ids.size(); ++i) {
    if (!impl_->run_exists(run_ids[i], purpose)) db.fail(purpose, fmt::format("no such run {}", run_ids[i]));
    task.bind(1, id).bind(2, static_cast<int64_t>(i)).bind(3, run_ids[i]).run();
  }
  transaction.commit();
  return id;
}

void ResultsStore::set_slurm_submission(int64_t submission_id, const std::string& state, const std::string& job_id) {
  const std::string purpose = fmt::format("set Slurm submission {} to {}", submission_id, state);
  Statement update(impl_->db,
                   "UPDATE slurm_submissions SET state = ?1, job_id = CASE WHEN ?2 <> '' THEN ?2 ELSE job_id END, "
                   "updated = ?3 WHERE id = ?4",
                   purpose);
  update.bind(1, state).bind(2, job_id).bind(3, now_seconds()).bind(4, submission_id).run();
  if (impl_->db.changes() != 1) impl_->db.fail(purpose, "no such submission");
}

void ResultsStore::finish_slurm_task(int64_t submission_id, int64_t task) {
  const std::string purpose = fmt::format("finish task {} of Slurm submission {}", task, submission_id);
  Statement update(impl_->db, "UPDATE slurm_tasks SET finished = 1 WHERE submission_id = ? AND task = ?", purpose);
  update.bind(1, submission_id).bind(2, task).run();
  if (impl_->db.changes() != 1) impl_->db.fail(purpose, "no such task");
}

std::vector<SlurmSubmission> ResultsStore::slurm_submissions(int64_t sweep_id, bool open_only) {
  const std::string purpose =
      sweep_id == 0 ? std::string("list the Slurm submissions") : fmt::format("list the Slurm submissions of sweep {}", sweep_id);
  Statement query(impl_->db,
                  "SELECT id, sweep_id, resource_class, manifest_path, job_name, state, job_id, created, updated "
                  "FROM slurm_submissions WHERE (?1 = 0 OR sweep_id = ?1) "
                  "AND (?2 = 0 OR state IN ('intent', 'submitted')) ORDER BY id",
                  purpose);
  query.bind(1, sweep_id).bind(2, open_only ? 1 : 0);
  std::vector<SlurmSubmission> submissions;
  while (query.step()) {
    SlurmSubmission s;
    s.id = query.column_int(0);
    s.sweep_id = query.column_int(1);
    s.resource_class = query.column_text(2);
    s.manifest_path = query.column_text(3);
    s.job_name = query.column_text(4);
    s.state = query.column_text(5);
    s.job_id = query.column_text(6);
    s.created = query.column_double(7);
    s.updated = query.column_double(8);
    submissions.push_back(std::move(s));
  }
  Statement tasks(impl_->db, "SELECT task, run_id, finished FROM slurm_tasks WHERE submission_id = ? ORDER BY task",
                  purpose);
  for (auto& s : submissions) {
    tasks.reset();
    tasks.bind(1, s.id);
    while (tasks.step()) s.tasks.push_back({tasks.column_int(0), tasks.column_text(1), tasks.column_int(2) != 0});
  }
  return submissions;
}

}  // namespace isda::results
