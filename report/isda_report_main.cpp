// isda-report: the paper's tables and curves from the results store. Logic: report/report_command.
#include "report/report_command.h"

#include <unistd.h>

#include <iostream>

int main(int argc, char** argv) {
  const bool stdout_is_terminal = ::isatty(STDOUT_FILENO) == 1;
  return isda::report::report_command(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr,
                                      stdout_is_terminal);
}
