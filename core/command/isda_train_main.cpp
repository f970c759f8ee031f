// isda-train: trains one configuration. All logic is in command/train_command.
#include "command/train_command.h"

#include <iostream>

int main(int argc, char** argv) {
  isda::command::install_stop_handlers();
  return isda::command::run_train_command(std::vector<std::string>(argv + 1, argv + argc), std::cout, std::cerr);
}
