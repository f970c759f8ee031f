#pragma once
// Runs a program with an argument vector (no shell) and captures its exit code and output.

#include <sys/types.h>

#include <string>
#include <vector>

namespace isda::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal if it was killed
  std::string out;
  std::string err;
};

// Runs to completion.
ProcessResult run_process(const std::vector<std::string>& argv);

// Starts in the background with stdout and stderr appended to the given files; returns the pid.
// With `own_process_group` the child leads a new process group (kill(-pid, ...) reaches it and
// everything it starts).
pid_t start_process(const std::vector<std::string>& argv, const std::string& out_path, const std::string& err_path,
                    bool own_process_group = false);

// Waits for a started process; returns its exit code (128 + signal if killed).
int wait_process(pid_t pid);

}  // namespace isda::testing
