#pragma once
// One isda-train worker process for one run, started by common/process (an argument vector,
// never a shell), its output appended to the run directory's worker.log.

#include <memory>
#include <string>
#include <vector>

namespace isda::runner {

class Worker {
 public:
  // Starts `binary args...` with `environment` additions (NAME=value) and stdout + stderr
  // appended to `log_path`. Throws std::runtime_error naming the binary if it cannot start.
  //
  // `claim_descriptor` (when >= 0) is the run directory's lock, taken by the caller
  // (train::RunDirectoryClaim): the child inherits it, writes its own pid into it before exec and
  // finds it through $ISDA_RUN_DIR_LOCK_FD, so the directory stays claimed at every instant. The
  // child also gets SIGTERM when the process that started it dies (it checkpoints and exits), so
  // no worker outlives a killed coordinator for long.
  Worker(const std::string& binary, const std::vector<std::string>& args,
         const std::vector<std::pair<std::string, std::string>>& environment, const std::string& log_path,
         int claim_descriptor = -1);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  int pid() const;
  // True once the process has exited; exit_code() is then its code (128 + signal if killed).
  bool finished();
  int exit_code() const { return exit_code_; }
  void signal(int signal_number) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  int exit_code_ = -1;
};

// A worker that a dead coordinator left behind holds its run directory's lock (its pid is in it).
// It got SIGTERM when that coordinator died, so it is checkpointing: gives it 30 s to finish, then
// kills it. Only a process whose command line is isda-train is signalled. Returns true once the
// directory is free, false if something else holds it.
bool release_orphan(const std::string& run_dir);

// The last `lines` lines of a text file ("" if it cannot be read).
std::string tail_of_file(const std::string& path, int lines);

}  // namespace isda::runner
