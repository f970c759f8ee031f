#include "runner/worker.h"

#include "common/run_files.h"
#include "train/run_directory.h"

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <deque>
#include <fstream>
#include <stdexcept>

namespace isda::runner {

namespace bp = boost::process;

struct Worker::Impl {
  bp::child child;
};

namespace {

// Runs in the child between fork and exec, so only async-signal-safe calls: die with the parent,
// keep the claim across exec and write this process's pid into it.
void prepare_child(int claim_descriptor, pid_t parent) {
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  if (::getppid() != parent) ::raise(SIGTERM);  // the parent died before prctl took effect
  if (claim_descriptor < 0) return;
  ::fcntl(claim_descriptor, F_SETFD, 0);  // inherit it across exec
  char text[24];
  int length = 0;
  char digits[16];
  int n = 0;
  for (pid_t pid = ::getpid(); pid > 0 && n < 16; pid /= 10) digits[n++] = static_cast<char>('0' + pid % 10);
  while (n > 0) text[length++] = digits[--n];
  text[length++] = '\n';
  if (::ftruncate(claim_descriptor, 0) == 0) {
    [[maybe_unused]] const ssize_t written = ::pwrite(claim_descriptor, text, static_cast<size_t>(length), 0);
  }
}

}  // namespace

Worker::Worker(const std::string& binary, const std::vector<std::string>& args,
               const std::vector<std::pair<std::string, std::string>>& environment, const std::string& log_path,
               int claim_descriptor)
    : impl_(std::make_unique<Impl>()) {
  auto env = boost::this_process::environment();
  bp::environment child_env = env;
  for (const auto& [name, value] : environment) child_env[name] = value;
  if (claim_descriptor >= 0) child_env[run_files::kInheritedLockVariable] = std::to_string(claim_descriptor);
  const pid_t parent = ::getpid();
  // Append rather than truncate, so that the log of every attempt is kept.
  FILE* log = std::fopen(log_path.c_str(), "a");
  if (log == nullptr) throw std::runtime_error(log_path + ": cannot open the worker log");
  try {
    impl_->child = bp::child(bp::exe = binary, bp::args = args, child_env, bp::std_in < bp::null,
                             (bp::std_out & bp::std_err) > log,
                             bp::extend::on_exec_setup = [claim_descriptor, parent](auto&) {
                               prepare_child(claim_descriptor, parent);
                             });
  } catch (const std::exception& e) {
    std::fclose(log);
    throw std::runtime_error(binary + ": cannot start the worker (" + e.what() + ")");
  }
  std::fclose(log);
}

Worker::~Worker() {
  if (impl_->child.valid() && impl_->child.running()) impl_->child.detach();
}

int Worker::pid() const { return impl_->child.id(); }

bool Worker::finished() {
  if (exit_code_ >= 0) return true;
  std::error_code ec;
  if (impl_->child.running(ec)) return false;
  // native_exit_code keeps the raw wait status, so a death by signal is told apart from exit(n).
  const int status = impl_->child.native_exit_code();
  exit_code_ = WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  return true;
}

void Worker::signal(int signal_number) const { ::kill(impl_->child.id(), signal_number); }

std::string tail_of_file(const std::string& path, int lines) {
  std::ifstream in(path);
  std::deque<std::string> last;
  std::string line;
  while (std::getline(in, line)) {
    last.push_back(line);
    if (static_cast<int>(last.size()) > lines) last.pop_front();
  }
  std::string text;
  for (const auto& l : last) text += l + "\n";
  return text;
}

}  // namespace isda::runner
