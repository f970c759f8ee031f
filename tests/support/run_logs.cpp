#include "support/run_logs.h"

#include <fstream>
#include <sstream>

namespace isda::testing {

std::vector<std::string> epoch_lines(const std::string& stdout_text) {
  std::vector<std::string> lines;
  std::istringstream in(stdout_text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("epoch ", 0) == 0) lines.push_back(line.substr(0, line.find(" lambda")));
  }
  return lines;
}

int logged_epochs(const std::string& events_path) {
  std::ifstream in(events_path);
  std::string line;
  int epochs = 0;
  while (std::getline(in, line)) epochs += line.find("\"event\":\"epoch\"") != std::string::npos;
  return epochs;
}

}  // namespace isda::testing
