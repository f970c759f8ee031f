#include "runner/stall.h"

#include "common/durable_file.h"
#include "common/process.h"
#include "common/run_files.h"
#include "common/system.h"
#include "runner/progress.h"  // format_duration
#include "train/run_directory.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace isda::runner {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<int> children_of(int pid) {
  std::vector<int> children;
  std::error_code ec;
  for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
    std::istringstream in(read_text(task.path().string() + "/children"));
    for (int child = 0; in >> child;) children.push_back(child);
  }
  return children;
}

// gdb's backtrace of every thread of `pid`, or why there is none. gdb runs with a time limit: a
// process in uninterruptible sleep can hold it.
std::string gdb_backtraces(int pid, int seconds) {
  const auto gdb = common::find_in_path("gdb");
  if (gdb.empty()) return "  (gdb is not installed: no user-space stacks)\n";
  common::CaptureOptions options;
  options.timeout = std::chrono::seconds(seconds);
  options.merge_stderr = true;
  try {
    const auto captured =
        common::run_captured(gdb, {"-batch", "-nx", "-p", std::to_string(pid), "-ex", "thread apply all bt"}, options);
    if (captured.timed_out) return fmt::format("  (gdb did not finish in {} s)\n", seconds);
    std::string text, line;
    std::istringstream out(captured.out);
    while (std::getline(out, line)) text += "  " + line + "\n";
    return text;
  } catch (const std::exception& e) {
    return std::string("  (gdb failed: ") + e.what() + ")\n";
  }
}

}  // namespace

StallWatch::StallWatch(std::string run_dir, double configured_limit)
    : run_dir_(std::move(run_dir)), configured_limit_(configured_limit), started_(common::now_seconds()) {}

StallWatch::Verdict StallWatch::check(int worker_pid) {
  const auto now = Clock::now();
  if (now - last_check_ < std::chrono::seconds(1)) return {};
  last_check_ = now;
  if (stalled()) {
    if (kill_at_ && now >= *kill_at_) {
      for (const int pid : process_tree(worker_pid)) ::kill(pid, SIGKILL);
      kill_at_.reset();
    }
    return {};
  }
  const auto progress = read_progress(run_dir_);
  const double limit = progress.stall_limit > 0 ? progress.stall_limit : train::stall_limit_seconds(configured_limit_, 0);
  const double idle = common::now_seconds() - std::max(started_, progress.last_progress);
  if (idle < limit / 2) {
    named_slow_ = false;
    return {};
  }
  if (idle < limit) {
    if (named_slow_) return {};
    named_slow_ = true;
    return {Verdict::Kind::slow,
            fmt::format("no step finished for {} (stalled at {})", format_duration(idle), format_duration(limit))};
  }
  const auto report = run_dir_ + "/" + run_files::kStallReport;
  reason_ = fmt::format("stalled: no step finished for {} (stall limit {}{}); where it hung: {}", format_duration(idle),
                        format_duration(limit),
                        progress.epoch > 0 ? fmt::format(", last at epoch {} step {}", progress.epoch, progress.step) : "",
                        report);
  std::string message = reason_;
  try {
    common::write_file_atomically(report, reason_ + "\n\n" + describe_process_tree(worker_pid));
  } catch (const std::exception& e) {
    message += fmt::format(" (cannot write it: {})", e.what());
  }
  for (const int pid : process_tree(worker_pid)) {
    ::kill(pid, SIGTERM);
    ::kill(pid, SIGCONT);
  }
  kill_at_ = Clock::now() + std::chrono::seconds(train::kStallGraceSeconds);
  return {Verdict::Kind::stalled,
          fmt::format("{}; stopping it (SIGTERM, SIGKILL after {} s)", message, train::kStallGraceSeconds)};
}

ProgressSeen read_progress(const std::string& run_dir) {
  ProgressSeen seen;
  const auto path = run_dir + "/" + run_files::kProgress;
  struct stat info {};
  if (::stat(path.c_str(), &info) != 0) return seen;
  seen.last_progress = static_cast<double>(info.st_mtim.tv_sec) + 1e-9 * static_cast<double>(info.st_mtim.tv_nsec);
  std::istringstream in(read_text(path));
  double limit = 0;
  if (in >> seen.epoch >> seen.step >> limit) seen.stall_limit = limit;
  return seen;
}

std::vector<int> process_tree(int pid) {
  std::vector<int> tree{pid};
  for (size_t i = 0; i < tree.size(); ++i) {
    for (const int child : children_of(tree[i])) tree.push_back(child);
  }
  return tree;
}

std::string describe_process_tree(int pid, int gdb_seconds) {
  std::string text;
  for (const int p : process_tree(pid)) {
    const auto proc = "/proc/" + std::to_string(p);
    auto command = read_text(proc + "/cmdline");
    for (auto& c : command) c = c == '\0' ? ' ' : c;
    std::string state;
    std::istringstream status(read_text(proc + "/status"));
    for (std::string line; std::getline(status, line);) {
      if (line.rfind("State:", 0) == 0) state = line.substr(6);
    }
    text += fmt::format("process {}: {}\n  state:{}\n  waiting in: {}\n", p, command, state, read_text(proc + "/wchan"));
    std::error_code ec;
    for (const auto& task : std::filesystem::directory_iterator(proc + "/task", ec)) {
      const auto stack = read_text(task.path().string() + "/stack");
      if (!stack.empty()) text += fmt::format("  thread {} kernel stack:\n{}", task.path().filename().string(), stack);
    }
    text += gdb_backtraces(p, gdb_seconds);
  }
  return text;
}

}  // namespace isda::runner
