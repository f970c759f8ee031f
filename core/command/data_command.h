#pragma once
// isda-data's command line: `fetch` downloads and unpacks a data set's official archive, `preview`
// draws a PNG grid of training images and augmented copies. The binary's main only forwards here.

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::command {

// Exit codes of isda-data (documented in its --help).
enum DataExitCode : int {
  kDataExitOk = 0,
  kDataExitFailed = 1,  // download failed, MD5 mismatch, corrupt archive, missing or malformed data
  kDataExitUsage = 2,   // bad subcommand, flag or value
};

// Runs isda-data with `args` (without the program name). Results go to `out`, progress notes
// ("isda-data: ...") and one-line errors ("isda-data: error: ...") to `err`. Returns a DataExitCode.
int run_data_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

}  // namespace isda::command
