#pragma once
// A command's in-process run as its tests see it: exit code, stdout and stderr (for the tools'
// run_*_command functions, which take their streams).

#include <ostream>
#include <sstream>
#include <string>
#include <vector>

namespace isda::testing {

struct CommandOutcome {
  int code;
  std::string out;
  std::string err;
};

// Calls run(args, out, err) with string streams and returns what it said.
template <typename Run>
CommandOutcome run_command(Run&& run, const std::vector<std::string>& args) {
  std::ostringstream out, err;
  const int code = run(args, out, err);
  return {code, out.str(), err.str()};
}

}  // namespace isda::testing
