#include "runner/worker.h"

#include <boost/process.hpp>
#include <sys/wait.h>

#include <csignal>
#include <deque>
#include <fstream>
#include <stdexcept>

namespace isda::runner {

namespace bp = boost::process;

struct Worker::Impl {
  bp::child child;
};

Worker::Worker(const std::string& binary, const std::vector<std::string>& args,
               const std::vector<std::pair<std::string, std::string>>& environment, const std::string& log_path)
    : impl_(std::make_unique<Impl>()) {
  auto env = boost::this_process::environment();
  bp::environment child_env = env;
  for (const auto& [name, value] : environment) child_env[name] = value;
  // Append rather than truncate, so that the log of every attempt is kept.
  FILE* log = std::fopen(log_path.c_str(), "a");
  if (log == nullptr) throw std::runtime_error(log_path + ": cannot open the worker log");
  try {
    impl_->child = bp::child(bp::exe = binary, bp::args = args, child_env, bp::std_in < bp::null,
                             (bp::std_out & bp::std_err) > log);
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
