#pragma once
// Reading what isda-train leaves behind, for tests that drive the binary.

#include <string>
#include <vector>

namespace isda::testing {

// The `epoch ...` lines of isda-train's stdout, cut before " lambda" so that timings drop out:
// two runs that computed the same thing give equal lists.
std::vector<std::string> epoch_lines(const std::string& stdout_text);

// How many epoch records a run directory's events.jsonl holds (0 when it does not exist).
int logged_epochs(const std::string& events_path);

}  // namespace isda::testing
