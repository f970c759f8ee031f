#pragma once
// One isda-train worker process for one run, launched with Boost.Process (an argument vector,
// never a shell), its output appended to the run directory's worker.log.

#include <memory>
#include <string>
#include <vector>

namespace isda::runner {

class Worker {
 public:
  // Starts `binary args...` with `environment` additions (NAME=value) and stdout + stderr
  // appended to `log_path`. Throws std::runtime_error naming the binary if it cannot start.
  Worker(const std::string& binary, const std::vector<std::string>& args,
         const std::vector<std::pair<std::string, std::string>>& environment, const std::string& log_path);
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

// The last `lines` lines of a text file ("" if it cannot be read).
std::string tail_of_file(const std::string& path, int lines);

}  // namespace isda::runner
