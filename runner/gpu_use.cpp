#include "runner/gpu_use.h"

#include <cstdlib>

#include <algorithm>

#include <filesystem>

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <sstream>
#include <thread>

extern char** environ;

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

using Clock = std::chrono::steady_clock;

std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  return text.substr(first, text.find_last_not_of(" \t\r") - first + 1);
}

// Closes a file descriptor when it goes out of scope.
struct Descriptor {
  int fd = -1;
  ~Descriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// Milliseconds left until `deadline`, at least 0, for poll().
int milliseconds_left(Clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left > 0 ? static_cast<int>(left) : 0;
}

// Kills the child's process group (a wrapper script and what it started) and reaps the child.
void kill_and_reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  while (::waitpid(pid, nullptr, 0) < 0 && errno == EINTR) {
  }
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

// The coordinator's loop waits for this call, so nothing in it may block past the deadline: the
// pipe is read with poll(), and the child is killed at the deadline rather than waited for.
std::vector<std::string> query_gpu_use(const std::string& tool, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) return {};
  Descriptor read_end{fds[0]};
  Descriptor write_end{fds[1]};

  posix_spawn_file_actions_t actions;
  posix_spawnattr_t attributes;
  posix_spawn_file_actions_init(&actions);
  posix_spawnattr_init(&attributes);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, write_end.fd, STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  // Its own process group, so that a timeout kills whatever it started too; default signals and an
  // empty mask whatever isda-run set for itself.
  sigset_t no_signals, default_signals;
  sigemptyset(&no_signals);
  sigemptyset(&default_signals);
  sigaddset(&default_signals, SIGINT);
  sigaddset(&default_signals, SIGTERM);
  sigaddset(&default_signals, SIGPIPE);
  posix_spawnattr_setpgroup(&attributes, 0);
  posix_spawnattr_setsigmask(&attributes, &no_signals);
  posix_spawnattr_setsigdefault(&attributes, &default_signals);
  posix_spawnattr_setflags(&attributes, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  const std::string query = "--query-gpu=index,name,utilization.gpu,memory.used,memory.total";
  const std::string format = "--format=csv,noheader,nounits";
  char* const argv[] = {const_cast<char*>(tool.c_str()), const_cast<char*>(query.c_str()),
                        const_cast<char*>(format.c_str()), nullptr};
  pid_t pid = -1;
  const int spawned = ::posix_spawnp(&pid, tool.c_str(), &actions, &attributes, argv, environ);
  posix_spawn_file_actions_destroy(&actions);
  posix_spawnattr_destroy(&attributes);
  if (spawned != 0) return {};  // not on PATH (ENOENT), not executable
  ::close(write_end.fd);
  write_end.fd = -1;

  const auto timed_out = [&] {
    kill_and_reap(pid);
    return std::vector<std::string>{
        fmt::format("nvidia-smi gave no answer within {:.1f} s (killed; GPU use not shown)", timeout.count() / 1000.0)};
  };
  std::string text;
  char buffer[4096];
  for (;;) {
    pollfd ready{read_end.fd, POLLIN, 0};
    const int polled = ::poll(&ready, 1, milliseconds_left(deadline));
    if (polled < 0 && errno == EINTR) continue;
    if (polled == 0) return timed_out();
    if (polled < 0) {
      kill_and_reap(pid);
      return {};
    }
    const auto got = ::read(read_end.fd, buffer, sizeof buffer);
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;  // end of output (or an error: take what came)
    text.append(buffer, static_cast<size_t>(got));
    if (text.size() > (1u << 20)) {  // not nvidia-smi's answer to this query
      kill_and_reap(pid);
      return {};
    }
  }
  // The output is complete; the exit status must come by the deadline too.
  int status = 0;
  for (;;) {
    const pid_t waited = ::waitpid(pid, &status, WNOHANG);
    if (waited == pid) break;
    if (waited < 0 && errno != EINTR) return {};  // reaped elsewhere: no status to trust
    if (Clock::now() >= deadline) return timed_out();
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? parse_gpu_use(text) : std::vector<std::string>{};
}

}  // namespace isda::runner
