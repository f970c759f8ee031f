#pragma once
// The Slurm commands the Slurm backend needs (sbatch, squeue, sacct, scancel), behind an interface
// so that the backend's logic is tested without a cluster. The real one runs the commands with
// Boost.Process (argument vectors, never a shell) and parses their --parsable / -h -o outputs.

#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

namespace isda::runner {

// A Slurm command that failed or printed what it should not; what() is one line with its stderr.
class SlurmError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One array task as the scheduler reports it.
struct JobTask {
  std::string job_name;
  std::string array_job_id;  // the array's job id (%F), e.g. "1234"
  int64_t task = -1;         // the array index (%K); -1 for a job that is not an array
  std::string state;         // e.g. PENDING, RUNNING, COMPLETED, CANCELLED (first word only)
  std::string nodes;         // where it runs or ran; may be empty
};

// Where a task is in its life, for the backend.
enum class TaskPhase {
  queued,   // waiting to start (also after a requeue)
  running,  // its batch script runs (or is completing)
  ended,    // will not run again
};
// Unknown states count as running: the backend then waits rather than declaring a live job gone.
TaskPhase phase_of(const std::string& state);

class Scheduler {
 public:
  virtual ~Scheduler() = default;
  // Runs sbatch with `arguments` (--parsable is added); returns the job id. Throws SlurmError.
  virtual std::string submit(const std::vector<std::string>& arguments) = 0;
  // The tasks of the jobs with these names that the controller still knows (queued, running, or
  // ended within MinJobAge). Throws SlurmError when the controller cannot be asked.
  virtual std::vector<JobTask> live_tasks(const std::vector<std::string>& job_names) = 0;
  // The tasks of these job ids from the accounting database; empty where accounting is disabled.
  virtual std::vector<JobTask> accounted_tasks(const std::vector<std::string>& job_ids) = 0;
  // scancel of these job ids (whole arrays) and of the jobs with these names. Jobs that ended
  // meanwhile are no error. Throws SlurmError.
  virtual void cancel(const std::vector<std::string>& job_ids, const std::vector<std::string>& job_names) = 0;
};

// The real commands, found in PATH.
std::unique_ptr<Scheduler> make_slurm_commands();

// Parsers of the commands' outputs (exposed for tests). Each throws SlurmError naming the command
// and the offending line.
// `sbatch --parsable`: "1234" or "1234;cluster".
std::string parse_sbatch_output(const std::string& out);
// `squeue -h -r -t all -o "%j|%F|%K|%T|%N"`.
std::vector<JobTask> parse_squeue_output(const std::string& out);
// `sacct -n -P -X -o JobID,JobName,State,NodeList`: JobID "1234_5" (or "1234_[0-3%2]" while pending).
std::vector<JobTask> parse_sacct_output(const std::string& out);
// An array index list as Slurm prints it: "5", "0-3", "[0-3,7]", "0-9%2".
std::vector<int64_t> expand_task_ids(const std::string& text);

}  // namespace isda::runner
