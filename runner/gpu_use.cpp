#include "runner/gpu_use.h"

#include "common/process.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <sstream>

namespace isda::runner {

int visible_gpu_count() {
  int count = 0;
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/driver/nvidia/gpus", ec), end; !ec && it != end; it.increment(ec)) {
    ++count;
  }
  if (const char* visible = std::getenv("CUDA_VISIBLE_DEVICES")) {
    const std::string list = visible;
    const int named = list.empty() ? 0 : 1 + static_cast<int>(std::count(list.begin(), list.end(), ','));
    count = std::min(count, named);
  }
  return count;
}
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

std::vector<std::string> query_gpu_use() { return query_gpu_use("nvidia-smi", std::chrono::seconds(2)); }

// The coordinator's loop waits for this call, so nothing in it may block past the deadline
// (common::run_captured kills the query at the deadline rather than wait for it).
std::vector<std::string> query_gpu_use(const std::string& tool, std::chrono::milliseconds timeout) {
  common::CaptureOptions options;
  options.timeout = timeout;
  common::Captured captured;
  try {
    captured = common::run_captured(
        tool, {"--query-gpu=index,name,utilization.gpu,memory.used,memory.total", "--format=csv,noheader,nounits"}, options);
  } catch (const std::exception&) {
    return {};  // not on PATH, not executable
  }
  if (captured.timed_out) {
    return {fmt::format("nvidia-smi gave no answer within {:.1f} s (killed; GPU use not shown)", timeout.count() / 1000.0)};
  }
  // More than a megabyte is not nvidia-smi's answer to this query.
  if (captured.exit_code != 0 || captured.out.size() >= options.max_bytes) return {};
  return parse_gpu_use(captured.out);
}

}  // namespace isda::runner
