// isda-run: expands a spec into runs, runs them, records everything. Logic: runner/run_command.
#include "runner/run_command.h"

#include <iostream>

int main(int argc, char** argv) {
  isda::runner::install_interrupt_handlers();
  return isda::runner::run_command(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
