#include "common/exit_codes.h"

namespace isda {

std::string exit_codes_help(const std::vector<ExitCodeUse>& uses) {
  constexpr size_t kWidth = 100;
  std::string text = "exit codes:", line_start_padding = "            ";
  size_t line_length = text.size();
  bool first = true;
  for (const auto& use : uses) {
    const auto code = use.code == kExitSignal ? std::string("128+N") : std::to_string(use.code);
    std::string item = (first ? " " : ", ") + code + " " + use.meaning;
    if (!first && line_length + item.size() > kWidth) {
      text += ",\n" + line_start_padding;
      item = item.substr(2);
      line_length = line_start_padding.size();
    }
    text += item;
    line_length += item.size();
    first = false;
  }
  return text + "\n";
}

}  // namespace isda
