#include "results/slurm_submissions.h"

#include "results/run_ledger.h"

#include "common/system.h"

#include <fmt/format.h>

namespace isda::results {

using common::now_seconds;

int64_t record_slurm_intent(ResultsStore& store, int64_t sweep_id, const std::string& resource_class,
                            const std::string& manifest_path, const std::string& job_name,
                            const std::vector<std::string>& run_ids) {
  const std::string purpose = fmt::format("record the Slurm submission {} of sweep {}", job_name, sweep_id);
  auto& db = store.database();
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
    if (!run_exists(store, run_ids[i], purpose)) db.fail(purpose, fmt::format("no such run {}", run_ids[i]));
    task.bind(1, id).bind(2, static_cast<int64_t>(i)).bind(3, run_ids[i]).run();
  }
  transaction.commit();
  return id;
}

void set_slurm_submission(ResultsStore& store, int64_t submission_id, const std::string& state,
                          const std::string& job_id) {
  const std::string purpose = fmt::format("set Slurm submission {} to {}", submission_id, state);
  auto& db = store.database();
  Statement update(db,
                   "UPDATE slurm_submissions SET state = ?1, job_id = CASE WHEN ?2 <> '' THEN ?2 ELSE job_id END, "
                   "updated = ?3 WHERE id = ?4",
                   purpose);
  update.bind(1, state).bind(2, job_id).bind(3, now_seconds()).bind(4, submission_id).run();
  if (db.changes() != 1) db.fail(purpose, "no such submission");
}

void finish_slurm_task(ResultsStore& store, int64_t submission_id, int64_t task) {
  const std::string purpose = fmt::format("finish task {} of Slurm submission {}", task, submission_id);
  auto& db = store.database();
  Statement update(db, "UPDATE slurm_tasks SET finished = 1 WHERE submission_id = ? AND task = ?", purpose);
  update.bind(1, submission_id).bind(2, task).run();
  if (db.changes() != 1) db.fail(purpose, "no such task");
}

std::vector<SlurmSubmission> slurm_submissions(ResultsStore& store, int64_t sweep_id, bool open_only) {
  const std::string purpose = sweep_id == 0 ? std::string("list the Slurm submissions")
                                             : fmt::format("list the Slurm submissions of sweep {}", sweep_id);
  auto& db = store.database();
  Statement query(db,
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
  Statement tasks(db, "SELECT task, run_id, finished FROM slurm_tasks WHERE submission_id = ? ORDER BY task", purpose);
  for (auto& s : submissions) {
    tasks.reset();
    tasks.bind(1, s.id);
    while (tasks.step()) s.tasks.push_back({tasks.column_int(0), tasks.column_text(1), tasks.column_int(2) != 0});
  }
  return submissions;
}

}  // namespace isda::results
