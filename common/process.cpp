#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>

extern char** environ;

namespace isda::common {
namespace {

// Writes `value` in decimal and a newline into `fd` from offset 0 (async-signal-safe).
void write_pid(int fd, pid_t value) {
  char digits[16];
  int n = 0;
  for (pid_t v = value; v > 0 && n < 16; v /= 10) digits[n++] = static_cast<char>('0' + v % 10);
  char text[24];
  int length = 0;
  while (n > 0) text[length++] = digits[--n];
  text[length++] = '\n';
  if (::ftruncate(fd, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(fd, text, static_cast<size_t>(length), 0);
  }
}

// Between fork and exec: async-signal-safe calls only. On an exec failure its errno goes to the
// parent through `report` (close-on-exec, so a successful exec closes it with nothing written).
[[noreturn]] void become_child(const ChildSpec& spec, pid_t parent, int in, int out, int err, int report,
                               char* const* argv, char* const* envp) {
  sigset_t none;
  sigemptyset(&none);
  ::sigprocmask(SIG_SETMASK, &none, nullptr);
  struct sigaction default_action {};
  default_action.sa_handler = SIG_DFL;
  for (const int signal_number : {SIGINT, SIGTERM, SIGPIPE}) ::sigaction(signal_number, &default_action, nullptr);
  if (spec.death_signal != 0) {
    ::prctl(PR_SET_PDEATHSIG, spec.death_signal);
    if (::getppid() != parent) ::raise(spec.death_signal);  // the parent died before prctl took effect
  }
  if (spec.own_process_group) ::setpgid(0, 0);
  if (in >= 0) ::dup2(in, STDIN_FILENO);
  if (out >= 0) ::dup2(out, STDOUT_FILENO);
  if (err >= 0) ::dup2(err, STDERR_FILENO);
  if (spec.inherit_fd >= 0) {
    ::fcntl(spec.inherit_fd, F_SETFD, 0);  // kept across exec
    if (spec.write_pid_to_inherited_fd) write_pid(spec.inherit_fd, ::getpid());
  }
  ::execve(argv[0], argv, envp);
  const int error = errno;
  [[maybe_unused]] const ssize_t written = ::write(report, &error, sizeof error);
  ::_exit(127);
}

// A descriptor this function opened, closed when it goes.
struct OwnedFd {
  int fd = -1;
  ~OwnedFd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

std::vector<std::string> environment_without(const std::vector<std::string>& names) {
  std::vector<std::string> kept;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    const auto name = entry.substr(0, entry.find('='));
    if (std::find(names.begin(), names.end(), name) == names.end()) kept.push_back(entry);
  }
  return kept;
}

pid_t spawn(const ChildSpec& spec) {
  const auto fail = [&spec](const std::string& why) -> std::runtime_error {
    return std::runtime_error(spec.program + ": cannot start (" + why + ")");
  };
  OwnedFd null_in, out_file, err_file;
  if (spec.null_stdin) null_in.fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const auto open_output = [&](const std::string& path) {
    const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) throw fail(path + ": " + std::strerror(errno));
    return fd;
  };
  if (spec.stdout_fd < 0 && !spec.stdout_file.empty()) out_file.fd = open_output(spec.stdout_file);
  if (spec.stderr_fd < 0 && !spec.stderr_file.empty()) {
    err_file.fd = spec.stderr_file == spec.stdout_file && out_file.fd >= 0 ? ::dup(out_file.fd) : open_output(spec.stderr_file);
  }
  const int out = spec.stdout_fd >= 0 ? spec.stdout_fd : out_file.fd;
  const int err = spec.stderr_fd >= 0 ? spec.stderr_fd : err_file.fd;

  // Everything exec needs is built before the fork.
  std::vector<std::string> arg_strings{spec.program};
  arg_strings.insert(arg_strings.end(), spec.args.begin(), spec.args.end());
  std::vector<char*> argv;
  for (auto& a : arg_strings) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  std::vector<char*> envp;
  if (spec.environment) {
    env_strings = *spec.environment;
    for (auto& e : env_strings) envp.push_back(e.data());
    envp.push_back(nullptr);
  }
  char* const* child_env = spec.environment ? envp.data() : environ;

  int report[2];
  if (::pipe2(report, O_CLOEXEC) != 0) throw fail(std::string("pipe: ") + std::strerror(errno));
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid == 0) become_child(spec, parent, null_in.fd, out, err, report[1], argv.data(), child_env);
  ::close(report[1]);
  if (pid < 0) {
    const int error = errno;
    ::close(report[0]);
    throw fail(std::string("fork: ") + std::strerror(error));
  }
  // The parent learns whether exec worked: EOF (the pipe closed by exec), or the child's errno.
  int child_error = 0;
  ssize_t got;
  do {
    got = ::read(report[0], &child_error, sizeof child_error);
  } while (got < 0 && errno == EINTR);
  ::close(report[0]);
  if (got == static_cast<ssize_t>(sizeof child_error)) {
    wait_exit(pid);
    throw fail(std::strerror(child_error));
  }
  return pid;
}

int exit_code_of(int wait_status) {
  return WIFSIGNALED(wait_status) ? 128 + WTERMSIG(wait_status) : WEXITSTATUS(wait_status);
}

std::optional<int> poll_exit(pid_t pid) {
  int status = 0;
  pid_t got;
  do {
    got = ::waitpid(pid, &status, WNOHANG);
  } while (got < 0 && errno == EINTR);
  if (got == pid) return exit_code_of(status);
  if (got < 0) return -1;  // not our child (already reaped): nothing more will come of it
  return std::nullopt;
}

int wait_exit(pid_t pid) {
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return exit_code_of(status);
}

std::string find_in_path(const std::string& name) {
  if (name.find('/') != std::string::npos) return name;
  const char* path = std::getenv("PATH");
  std::string folders = path != nullptr ? path : "/usr/bin:/bin";
  size_t begin = 0;
  while (begin <= folders.size()) {
    const size_t end = std::min(folders.find(':', begin), folders.size());
    const std::string folder = end > begin ? folders.substr(begin, end - begin) : ".";
    const std::string candidate = folder + "/" + name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate;
    begin = end + 1;
  }
  return "";
}

namespace {

int milliseconds_left(std::chrono::steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return static_cast<int>(std::max<int64_t>(0, left.count()));
}

void kill_group_and_reap(pid_t pid) {
  ::kill(-pid, SIGKILL);
  ::kill(pid, SIGKILL);
  wait_exit(pid);
}

}  // namespace

Captured run_captured(const std::string& program, const std::vector<std::string>& args, const CaptureOptions& options) {
  const auto deadline = std::chrono::steady_clock::now() + options.timeout;
  const auto path = find_in_path(program);
  if (path.empty()) throw std::runtime_error(program + ": not found in PATH");
  int out_pipe[2], err_pipe[2] = {-1, -1};
  if (::pipe2(out_pipe, O_CLOEXEC) != 0) throw std::runtime_error(program + ": cannot start (pipe)");
  OwnedFd out_read{out_pipe[0]}, out_write{out_pipe[1]}, err_read, err_write;
  if (!options.merge_stderr) {
    if (::pipe2(err_pipe, O_CLOEXEC) != 0) throw std::runtime_error(program + ": cannot start (pipe)");
    err_read.fd = err_pipe[0];
    err_write.fd = err_pipe[1];
  }
  ChildSpec spec;
  spec.program = path;
  spec.args = args;
  spec.stdout_fd = out_write.fd;
  spec.stderr_fd = options.merge_stderr ? out_write.fd : err_write.fd;
  spec.own_process_group = true;
  spec.death_signal = options.death_signal;
  const pid_t pid = spawn(spec);
  ::close(out_write.fd);
  out_write.fd = -1;
  ::close(err_write.fd);
  err_write.fd = -1;

  Captured captured;
  const auto timed_out = [&] {
    kill_group_and_reap(pid);
    captured.timed_out = true;
    captured.exit_code = -1;
    return captured;
  };
  char buffer[4096];
  for (;;) {
    std::vector<pollfd> fds;
    if (out_read.fd >= 0) fds.push_back({out_read.fd, POLLIN, 0});
    if (err_read.fd >= 0) fds.push_back({err_read.fd, POLLIN, 0});
    if (fds.empty()) break;
    const int polled = ::poll(fds.data(), fds.size(), milliseconds_left(deadline));
    if (polled < 0 && errno == EINTR) continue;
    if (polled <= 0) return timed_out();
    for (const auto& ready : fds) {
      if (ready.revents == 0) continue;
      OwnedFd& from = ready.fd == out_read.fd ? out_read : err_read;
      std::string& text = ready.fd == out_read.fd ? captured.out : captured.err;
      const auto got = ::read(from.fd, buffer, sizeof buffer);
      if (got < 0 && errno == EINTR) continue;
      if (got <= 0) {  // end of output (or an error: take what came)
        ::close(from.fd);
        from.fd = -1;
        continue;
      }
      if (text.size() < options.max_bytes) text.append(buffer, std::min(static_cast<size_t>(got), options.max_bytes - text.size()));
    }
  }
  // The output is complete; the exit status must come by the deadline too.
  for (;;) {
    if (const auto code = poll_exit(pid)) {
      captured.exit_code = *code;
      return captured;
    }
    if (std::chrono::steady_clock::now() >= deadline) return timed_out();
    ::usleep(5000);
  }
}

}  // namespace isda::common
