#pragma once
// The Slurm backend's record of its job arrays (runner/slurm_backend.h), tables
// `slurm_submissions` and `slurm_tasks` (schema 4). A submission is written as an `intent` before
// sbatch runs, so a coordinator that dies mid-submission never submits the same runs twice:
//   intent -> submitted (job id known) | abandoned (sbatch never made it);  submitted -> finished
//
// Every function throws StoreError (results/sqlite.h) for a database failure, naming the database
// file and what was being done.

#include "results/store.h"

#include <cstdint>
#include <string>
#include <vector>

namespace isda::results {

struct SlurmTaskRow {
  int64_t task = 0;  // the array index: line task + 1 of the manifest
  std::string run_id;
  bool finished = false;  // its job ended and the run's state was settled
};

struct SlurmSubmission {
  int64_t id = 0;
  int64_t sweep_id = 0;
  std::string resource_class;
  std::string manifest_path;
  std::string job_name;  // unique; how a submission whose job id was never recorded is found again
  std::string state;     // intent, submitted, abandoned or finished
  std::string job_id;    // the array's job id; empty before `submitted`
  std::vector<SlurmTaskRow> tasks;
  double created = 0, updated = 0;
};

// Stores a submission in state `intent` with one task per run (task i runs run_ids[i]), in one
// transaction, and returns its id. StoreError for a job name already used, an unknown sweep or an
// unknown run (nothing is stored then).
int64_t record_slurm_intent(ResultsStore& store, int64_t sweep_id, const std::string& resource_class,
                            const std::string& manifest_path, const std::string& job_name,
                            const std::vector<std::string>& run_ids);
// Moves the submission to `state`, recording `job_id` when non-empty (an empty one keeps the
// stored id). StoreError for an unknown submission.
void set_slurm_submission(ResultsStore& store, int64_t submission_id, const std::string& state,
                          const std::string& job_id = "");
// Marks one task settled. StoreError for an unknown submission or task.
void finish_slurm_task(ResultsStore& store, int64_t submission_id, int64_t task);
// The sweep's submissions (every sweep's for sweep_id 0) by id, each with its tasks by index;
// only those in state intent or submitted when `open_only`.
std::vector<SlurmSubmission> slurm_submissions(ResultsStore& store, int64_t sweep_id, bool open_only);

}  // namespace isda::results
