// isda-data: fetches data sets and previews augmentations. All logic is in command/data_command.
#include "command/data_command.h"

#include <iostream>

int main(int argc, char** argv) {
  return isda::command::run_data_command(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
