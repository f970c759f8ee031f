#include "runner/stall.h"

#include "train/run_directory.h"

#include <boost/process.hpp>
#include <fmt/format.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace isda::runner {
namespace {

namespace bp = boost::process;

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
  const auto gdb = bp::search_path("gdb");
  if (gdb.empty()) return "  (gdb is not installed: no user-space stacks)\n";
  bp::ipstream out;
  try {
    bp::child child(gdb, bp::args = {"-batch", "-nx", "-p", std::to_string(pid), "-ex", "thread apply all bt"},
                    bp::std_in < bp::null, (bp::std_out & bp::std_err) > out);
    std::string text, line;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    if (!child.wait_until(deadline)) {
      child.terminate();
      return fmt::format("  (gdb did not finish in {} s)\n", seconds);
    }
    while (std::getline(out, line)) text += "  " + line + "\n";
    return text;
  } catch (const std::exception& e) {
    return std::string("  (gdb failed: ") + e.what() + ")\n";
  }
}

}  // namespace

ProgressSeen read_progress(const std::string& run_dir) {
  ProgressSeen seen;
  const auto path = run_dir + "/" + train::kProgressFile;
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
