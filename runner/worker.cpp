#include "runner/worker.h"

#include "common/process.h"
#include "common/run_files.h"
#include "train/run_directory.h"

#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <deque>
#include <fstream>
#include <iterator>
#include <thread>
#include <stdexcept>

namespace isda::runner {

struct Worker::Impl {
  pid_t pid = -1;
};

Worker::Worker(const std::string& binary, const std::vector<std::string>& args,
               const std::vector<std::pair<std::string, std::string>>& environment, const std::string& log_path,
               int claim_descriptor)
    : impl_(std::make_unique<Impl>()) {
  common::ChildSpec spec;
  spec.program = binary;
  spec.args = args;
  std::vector<std::string> set;  // the variables this worker gets its own values of
  for (const auto& variable : environment) set.push_back(variable.first);
  if (claim_descriptor >= 0) set.push_back(run_files::kInheritedLockVariable);
  auto env = common::environment_without(set);
  for (const auto& [name, value] : environment) env.push_back(name + "=" + value);
  if (claim_descriptor >= 0) env.push_back(std::string(run_files::kInheritedLockVariable) + "=" + std::to_string(claim_descriptor));
  spec.environment = std::move(env);
  // Appended rather than truncated, so that the log of every attempt is kept.
  spec.stdout_file = spec.stderr_file = log_path;
  // The worker dies with its coordinator (it checkpoints on the SIGTERM), keeps the claim across
  // exec and writes its pid into it, so the directory is claimed at every instant.
  spec.death_signal = SIGTERM;
  spec.inherit_fd = claim_descriptor;
  spec.write_pid_to_inherited_fd = claim_descriptor >= 0;
  try {
    impl_->pid = common::spawn(spec);
  } catch (const std::exception& e) {
    throw std::runtime_error(binary + ": cannot start the worker (" + e.what() + ")");
  }
}

Worker::~Worker() = default;  // a running worker is left running (its coordinator is stopping)

int Worker::pid() const { return impl_->pid; }

bool Worker::finished() {
  if (exit_code_ >= 0) return true;
  const auto code = common::poll_exit(impl_->pid);  // 128 + N for a death by signal N
  if (!code) return false;
  exit_code_ = *code;
  return true;
}

void Worker::signal(int signal_number) const { ::kill(impl_->pid, signal_number); }

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
