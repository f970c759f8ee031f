#pragma once
// isda-data's command line: `fetch` downloads and unpacks a data set's official archive, `preview`
// draws a PNG grid of training images and augmented copies. The binary's main only forwards here.

#include "common/options.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::command {

// Runs isda-data with `args` (without the program name). Results go to `out`, progress notes
// ("isda-data: ...") and one-line errors ("isda-data: error: ...") to `err`. Returns an exit code
// of common/exit_codes.h: 0 done, 1 download failed, 2 bad usage, 3 missing, corrupt or
// mismatched (MD5) data or archive.
int run_data_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err);

// isda-data's subcommands with their option tables, and its exit codes, from which its parsing and
// --help come.
const Command& data_command_line();

}  // namespace isda::command
