#pragma once
// Runs a program with an argument vector (no shell) and captures its exit code and output.

#include <string>
#include <vector>

namespace isda::testing {

struct ProcessResult {
  int exit_code = -1;  // 128 + signal if it was killed
  std::string out;
  std::string err;
};

ProcessResult run_process(const std::vector<std::string>& argv);

}  // namespace isda::testing
