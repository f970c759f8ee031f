#include "runner/gpu_use.h"

#include <boost/process.hpp>
#include <fmt/format.h>

#include <chrono>
#include <sstream>

namespace isda::runner {
namespace {

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

}  // namespace

std::vector<std::string> parse_gpu_use(const std::string& csv) {
  std::vector<std::string> lines;
  std::istringstream in(csv);
  std::string line;
  while (std::getline(in, line)) {
    std::vector<std::string> fields;
    std::istringstream cells(line);
    std::string cell;
    while (std::getline(cells, cell, ',')) fields.push_back(trim(cell));
    if (fields.size() != 5) continue;
    try {
      const double used_mib = std::stod(fields[3]);
      const double total_mib = std::stod(fields[4]);
      lines.push_back(fmt::format("GPU {} {}: {}% busy, {:.1f}/{:.1f} GiB", fields[0], fields[1], std::stoi(fields[2]),
                                  used_mib / 1024, total_mib / 1024));
    } catch (const std::logic_error&) {
      // "[N/A]" or another field nvidia-smi could not read: leave the GPU out.
    }
  }
  return lines;
}

std::vector<std::string> query_gpu_use() {
  namespace bp = boost::process;
  const auto tool = bp::search_path("nvidia-smi");
  if (tool.empty()) return {};
  try {
    bp::ipstream output;
    bp::child child(tool, "--query-gpu=index,name,utilization.gpu,memory.used,memory.total",
                    "--format=csv,noheader,nounits", bp::std_in < bp::null, bp::std_out > output, bp::std_err > bp::null);
    std::string text, line;
    while (std::getline(output, line)) text += line + '\n';
    if (!child.wait_for(std::chrono::seconds(2))) {
      child.terminate();
      return {};
    }
    return child.exit_code() == 0 ? parse_gpu_use(text) : std::vector<std::string>{};
  } catch (const std::exception&) {
    return {};
  }
}

}  // namespace isda::runner
