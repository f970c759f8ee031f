#pragma once
// isda-report's command line; its main only forwards here.

#include "common/options.h"

#include <iosfwd>
#include <string>
#include <vector>

namespace isda::report {

// Runs `isda-report [--table ID | --figure ID | --sweep NAME] [--format F] [--metric M] [--out FILE]
// [--db PATH]` or `isda-report --list`. Results go to `out` (or --out), diagnostics to `err`, each
// error as one line "isda-report: error: ...". `out_is_terminal`: `out` is a terminal, so the
// terminal format may use ANSI bold. Exit codes: 0 ok, 2 bad usage, unknown table or figure, or a
// bad layout, 6 results store missing or unreadable (1: an unexpected failure, still one line); the
// table of every tool's codes is common/exit_codes.h.
int report_command(const std::vector<std::string>& args, std::ostream& out, std::ostream& err, bool out_is_terminal);

// isda-report's option table and exit codes, from which its parsing and --help come.
const Command& report_command_line();

}  // namespace isda::report
