#include "runner/worker.h"

#include "common/run_files.h"
#include "train/run_directory.h"

#include <boost/process.hpp>
#include <boost/process/extend.hpp>
#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <deque>
#include <fstream>
#include <iterator>
#include <thread>
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

namespace {

// How long an orphaned worker may take to checkpoint and exit after its SIGTERM before it is killed.
constexpr auto kOrphanGrace = std::chrono::seconds(30);

bool is_isda_train(int pid) {
  std::ifstream cmdline("/proc/" + std::to_string(pid) + "/cmdline");
  std::string text((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  return text.find("isda-train") != std::string::npos;
}

// Waits until nobody holds `run_dir`'s lock or `deadline` passes; true when it is free.
bool wait_for_release(const std::string& run_dir, std::chrono::steady_clock::time_point deadline) {
  while (train::RunDirectory::lock_holder(run_dir) != 0) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

}  // namespace

// A worker that a dead coordinator left behind holds its run directory's lock (its pid is in it).
// It got SIGTERM when that coordinator died (see Worker), so it is checkpointing: give it time to
// finish, then kill it. Only a process whose command line is isda-train is signalled. Returns true
// once the directory is free, false if something else holds it.
bool release_orphan(const std::string& run_dir) {
  // A holder is recognised by its command line, which for a moment it does not show: a claim being
  // handed to a starting worker has no pid yet, a child between fork and exec still shows isda-run's
  // command line, and an exiting worker shows none while it still holds the lock. Look again for up
  // to 3 s before deciding that something else holds the directory.
  int holder = train::RunDirectory::lock_holder(run_dir);
  for (int i = 0; i < 150 && (holder < 0 || (holder > 0 && holder != ::getpid() && !is_isda_train(holder))); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    holder = train::RunDirectory::lock_holder(run_dir);
  }
  if (holder == 0) return true;
  if (holder < 0 || holder == ::getpid() || !is_isda_train(holder)) return false;
  ::kill(holder, SIGTERM);
  if (wait_for_release(run_dir, std::chrono::steady_clock::now() + kOrphanGrace)) return true;
  ::kill(holder, SIGKILL);
  return wait_for_release(run_dir, std::chrono::steady_clock::now() + std::chrono::seconds(5));
}

}  // namespace isda::runner
