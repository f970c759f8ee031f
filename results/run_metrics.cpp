#include "results/run_metrics.h"

#include "results/run_ledger.h"

#include <fmt/format.h>

namespace isda::results {

void record_provenance(ResultsStore& store, const std::string& run_id, const Provenance& p) {
  const std::string purpose = fmt::format("record the provenance of run {}", run_id);
  auto& db = store.database();
  if (!run_exists(store, run_id, purpose)) db.fail(purpose, "no such run");
  Statement upsert(db,
                   "INSERT OR REPLACE INTO provenance (run_id, git_commit, git_dirty, host, gpu_model, driver, "
                   "libtorch, cuda, cudnn, command_line, started, ended) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                   purpose);
  upsert.bind(1, run_id).bind(2, p.git_commit).bind(3, p.git_dirty ? 1 : 0).bind(4, p.host).bind(5, p.gpu_model);
  upsert.bind(6, p.driver).bind(7, p.libtorch).bind(8, p.cuda).bind(9, p.cudnn).bind(10, p.command_line);
  upsert.bind(11, p.started).bind(12, p.ended).run();
}

std::vector<EpochRow> epochs_of(ResultsStore& store, const std::string& run_id) {
  Statement query(store.database(),
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

std::vector<FinalRow> finals_of(ResultsStore& store, const std::vector<std::string>& run_ids) {
  Statement query(store.database(),
                  "SELECT final_test_error, best_test_error, last10_test_error, last10_validation_error, epochs, "
                  "last10_test_top5_error, class_consistency, judge_test_accuracy FROM finals WHERE run_id = ?",
                  "read final metrics");
  std::vector<FinalRow> rows;
  for (const auto& id : run_ids) {
    query.reset();
    query.bind(1, id);
    if (!query.step()) continue;
    rows.push_back({id, query.column_double(0), query.column_double(1), query.column_double(2), query.column_double(3),
                    query.column_int(4), query.column_double(5), query.column_double(6), query.column_double(7)});
  }
  return rows;
}

std::optional<Provenance> provenance_of(ResultsStore& store, const std::string& run_id) {
  Statement query(store.database(),
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

}  // namespace isda::results
