#include "results/ingest.h"

#include "results/run_ledger.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <sstream>

namespace isda::results {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Every parameter is named as its column, and the metrics' columns as the log's keys, so a value
// is bound by name and a column added to a table or a key to a record cannot shift the others.
constexpr const char* kUpsertEpoch =
    "INSERT INTO epochs (run_id, epoch, train_loss, train_error, test_error, validation_error, lambda, lr, seconds, "
    "images_per_second, test_top5_error) VALUES (:run_id, :epoch, :train_loss, :train_error, :test_error, "
    ":validation_error, :lambda, :lr, :seconds, :images_per_second, :test_top5_error) "
    "ON CONFLICT (run_id, epoch) DO UPDATE SET "
    "train_loss = excluded.train_loss, train_error = excluded.train_error, test_error = excluded.test_error, "
    "validation_error = excluded.validation_error, lambda = excluded.lambda, lr = excluded.lr, "
    "seconds = excluded.seconds, images_per_second = excluded.images_per_second, "
    "test_top5_error = excluded.test_top5_error";
constexpr const char* kUpsertFinal =
    "INSERT INTO finals (run_id, final_test_error, best_test_error, last10_test_error, last10_validation_error, "
    "epochs, last10_test_top5_error, class_consistency, judge_test_accuracy) VALUES (:run_id, :final_test_error, "
    ":best_test_error, :last10_test_error, :last10_validation_error, :epochs, :last10_test_top5_error, "
    ":class_consistency, :judge_test_accuracy) ON CONFLICT (run_id) DO UPDATE SET "
    "final_test_error = excluded.final_test_error, best_test_error = excluded.best_test_error, "
    "last10_test_error = excluded.last10_test_error, last10_validation_error = excluded.last10_validation_error, "
    "epochs = excluded.epochs, last10_test_top5_error = excluded.last10_test_top5_error, "
    "class_consistency = excluded.class_consistency, judge_test_accuracy = excluded.judge_test_accuracy";
// A generator run's shares in its done record (null for a classifier, absent in older logs).
constexpr const char* kDoneShares[] = {events::kClassConsistency, events::kJudgeTestAccuracy};
// The worker's side of a run's provenance; the coordinator's side (command line, start, end) is
// left as it is.
constexpr const char* kUpsertEnvironment =
    "INSERT INTO provenance (run_id, git_commit, git_dirty, host, gpu_model, driver, libtorch, cuda, cudnn) "
    "VALUES (:run_id, :git_commit, :git_dirty, :host, :gpu_model, :driver, :libtorch, :cuda, :cudnn) "
    "ON CONFLICT (run_id) DO UPDATE SET "
    "git_commit = excluded.git_commit, git_dirty = excluded.git_dirty, host = excluded.host, "
    "gpu_model = excluded.gpu_model, driver = excluded.driver, libtorch = excluded.libtorch, "
    "cuda = excluded.cuda, cudnn = excluded.cudnn";

// The parameter index of each key (":" + key) in `statement`, looked up once per ingestion rather
// than once per row. Throws StoreError for a key the SQL has no parameter for.
template <size_t N>
std::array<int, N> parameters_named(const Statement& statement, const char* const (&keys)[N]) {
  std::array<int, N> indices{};
  for (size_t i = 0; i < N; ++i) indices[i] = statement.parameter_index(std::string(":") + keys[i]);
  return indices;
}

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

// A share (0..1) that logs of older versions lack: NaN when absent or null; another number is an
// EventLogError naming the key (a percentage written where a share belongs, say).
double optional_share(const nlohmann::json& event, const char* key, const LogLine& line) {
  const double value = optional_metric(event, key, line);
  if (std::isnan(value) || (value >= 0 && value <= 1)) return value;
  throw events::EventLogError(fmt::format("{}: line {}: \"{}\" is {}, not a share between 0 and 1", line.file,
                                          line.number, key, event.at(key).dump()));
}

int64_t integer(const nlohmann::json& event, const char* key, const LogLine& line) {
  const auto it = event.find(key);
  if (it == event.end() || !it->is_number_integer()) {
    throw events::EventLogError(fmt::format("{}: line {}: {} event lacks an integer \"{}\"", line.file, line.number,
                                            event.value(events::kEvent, std::string()), key));
  }
  return it->get<int64_t>();
}

// The worker's side of a run's provenance, from the `environment` of its last start event
// (events::Environment; a field of another type than isda-train writes is stored empty).
void record_environment(Database& db, const std::string& run_id, const nlohmann::json& record,
                        const std::string& purpose) {
  const auto environment = events::environment_from_json(record);
  Statement upsert(db, kUpsertEnvironment, purpose);
  upsert.bind(":run_id", run_id)
      .bind(":git_commit", environment.git_commit)
      .bind(":git_dirty", environment.git_dirty ? 1 : 0)
      .bind(":host", environment.host)
      .bind(":gpu_model", environment.gpu_model)
      .bind(":driver", environment.driver)
      .bind(":libtorch", environment.libtorch)
      .bind(":cuda", environment.cuda)
      .bind(":cudnn", environment.cudnn);
  upsert.run();
}

}  // namespace

IngestResult ingest_events(ResultsStore& store, const std::string& run_id, const std::string& events_jsonl_path,
                           int64_t attempt_start) {
  const std::string purpose = fmt::format("ingest the events of run {}", run_id);
  auto& db = store.database();
  if (!run_exists(store, run_id, purpose)) db.fail(purpose, "no such run");
  IngestResult result;
  std::string text;
  if (std::filesystem::exists(events_jsonl_path)) {
    std::ifstream in(events_jsonl_path, std::ios::binary);
    if (!in) db.fail(purpose, fmt::format("{}: cannot open ({})", events_jsonl_path, std::strerror(errno)));
    std::ostringstream buffer;
    buffer << in.rdbuf();
    text = buffer.str();
  }
  auto& epoch = store.kept_statement(kUpsertEpoch, "ingest epochs");
  const auto epoch_metrics = parameters_named(epoch, events::kEpochMetrics);
  auto& final_row = store.kept_statement(kUpsertFinal, "ingest final metrics");
  const auto done_metrics = parameters_named(final_row, events::kDoneMetrics);
  const auto done_shares = parameters_named(final_row, kDoneShares);

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
        epoch.bind(":run_id", run_id).bind(":epoch", epoch_number);
        for (size_t i = 0; i < std::size(events::kEpochMetrics); ++i) {
          const char* key = events::kEpochMetrics[i];
          epoch.bind(epoch_metrics[i], key == std::string("test_top5_error") ? optional_metric(event, key, line)
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
        final_row.bind(":run_id", run_id);
        for (size_t i = 0; i < std::size(events::kDoneMetrics); ++i) {
          const char* key = events::kDoneMetrics[i];
          final_row.bind(done_metrics[i], key == std::string("last10_test_top5_error")
                                              ? optional_metric(event, key, line)
                                              : metric(event, key, line));
        }
        for (size_t i = 0; i < std::size(kDoneShares); ++i) {
          final_row.bind(done_shares[i], optional_share(event, kDoneShares[i], line));
        }
        final_row.bind(":epochs", integer(event, events::kEpochs, line));
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

}  // namespace isda::results
