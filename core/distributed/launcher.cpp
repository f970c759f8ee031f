#include "distributed/launcher.h"

#include "common/durable_file.h"
#include "common/process.h"
#include "common/run_files.h"
#include "distributed/world.h"  // kRendezvousFileVariable

#include <nlohmann/json.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <stdexcept>
#include <thread>


namespace isda::distributed {
namespace {

using Clock = std::chrono::steady_clock;

struct Rank {
  pid_t pid = -1;
  int stderr_fd = -1;
  std::string pending;    // a partial line of stderr
  std::string failure_file;  // where it writes why it failed (write_rank_failure)
  std::optional<int> status;  // wait status once it exited
  bool sigkilled = false;     // the launcher had to SIGKILL it (it outlived the grace period)
};

std::string signal_name(int signal_number) {
  const char* name = ::sigabbrev_np(signal_number);
  return name != nullptr ? std::string("SIG") + name : "signal " + std::to_string(signal_number);
}

void relay(Rank& rank, int index, std::ostream& err, bool flush_partial) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(rank.stderr_fd, buffer, sizeof buffer);
    if (n <= 0) break;
    rank.pending.append(buffer, static_cast<size_t>(n));
  }
  size_t newline;
  while ((newline = rank.pending.find('\n')) != std::string::npos || (flush_partial && !rank.pending.empty())) {
    const auto line = rank.pending.substr(0, newline);
    rank.pending.erase(0, newline == std::string::npos ? std::string::npos : newline + 1);
    if (index > 0) err << "rank " << index << ": ";
    err << line << '\n';
  }
  err.flush();
}


}  // namespace

bool write_rank_failure(const RankFailure& failure) {
  const char* path = std::getenv(kRankFailureFileVariable);
  if (path == nullptr || *path == '\0') return false;
  const nlohmann::json record = {{"exit_code", failure.exit_code}, {"fault", failure.fault}, {"reason", failure.reason},
                                 {"secondary", failure.secondary}};
  try {
    common::write_file_atomically(path, record.dump() + "\n");
    return true;
  } catch (const std::exception&) {
    return false;
  }
}

std::optional<RankFailure> read_rank_failure(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return std::nullopt;
  try {
    const auto record = nlohmann::json::parse(common::read_file(path));
    RankFailure failure;
    failure.exit_code = record.at("exit_code").get<int>();
    failure.fault = record.at("fault").get<std::string>();
    failure.reason = record.at("reason").get<std::string>();
    failure.secondary = record.at("secondary").get<bool>();
    return failure;
  } catch (const std::exception&) {
    return std::nullopt;  // torn or foreign: the rank's exit status is all there is
  }
}

int free_local_port() {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) throw std::runtime_error(std::string("cannot open a socket: ") + std::strerror(errno));
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (::bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      ::getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    ::close(fd);
    throw std::runtime_error(std::string("cannot find a free port: ") + std::strerror(errno));
  }
  ::close(fd);
  return ntohs(address.sin_port);
}

namespace {

// A private folder for the ranks' rendezvous file (World::rendezvous_file): no port is chosen, so
// two runs on one machine never meet each other's ranks. Removed when the launch ends.
class RendezvousFolder {
 public:
  RendezvousFolder() {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/isda-rendezvous-XXXXXX";
    if (::mkdtemp(pattern.data()) == nullptr) {
      throw std::runtime_error("cannot make the ranks' rendezvous folder " + pattern + ": " + std::strerror(errno));
    }
    path_ = pattern;
  }
  ~RendezvousFolder() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  RendezvousFolder(const RendezvousFolder&) = delete;
  RendezvousFolder& operator=(const RendezvousFolder&) = delete;
  std::string file() const { return path_ + "/store"; }
  std::string failure_file(int rank) const { return path_ + "/failure." + std::to_string(rank) + ".json"; }

 private:
  std::string path_;
};

std::string hung_reason(int rank, std::chrono::milliseconds grace) {
  return "rank " + std::to_string(rank) + ": hung: the other ranks timed out waiting for it (dist_timeout), and it " +
         "ignored SIGTERM for " + std::to_string(grace.count() / 1000) + " s until the launcher killed it";
}

bool is_stop_signal(int signal_number) {
  return signal_number == SIGINT || signal_number == SIGTERM || signal_number == SIGUSR1;
}

}  // namespace

LaunchResult launch_local_ranks(const LaunchOptions& options, std::ostream& err) {
  const RendezvousFolder rendezvous;
  const auto base_env =
      common::environment_without({"RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT", kRendezvousFileVariable,
                                   kRankFailureFileVariable, run_files::kInheritedLockVariable});
  std::vector<std::vector<std::string>> env_strings(static_cast<size_t>(options.ranks), base_env);
  for (int r = 0; r < options.ranks; ++r) {
    auto& env = env_strings[static_cast<size_t>(r)];
    env.push_back("RANK=" + std::to_string(r));
    env.push_back("LOCAL_RANK=" + std::to_string(r));
    env.push_back("WORLD_SIZE=" + std::to_string(options.ranks));
    env.push_back("MASTER_ADDR=127.0.0.1");
    env.push_back(std::string(kRendezvousFileVariable) + "=" + rendezvous.file());
    env.push_back(std::string(kRankFailureFileVariable) + "=" + rendezvous.failure_file(r));
    if (r == 0 && options.run_dir_lock_descriptor >= 0) {
      env.push_back(std::string(run_files::kInheritedLockVariable) + "=" + std::to_string(options.run_dir_lock_descriptor));
    }
  }

  std::vector<Rank> ranks(static_cast<size_t>(options.ranks));
  const auto stop_all = [&](int signal_number) {
    for (auto& rank : ranks) {
      if (rank.pid > 0 && !rank.status) ::kill(rank.pid, signal_number);
    }
  };
  for (int r = 0; r < options.ranks; ++r) {
    int pipe_fds[2];
    if (::pipe2(pipe_fds, O_CLOEXEC) != 0) {
      stop_all(SIGKILL);
      throw std::runtime_error(std::string("cannot start the ranks: ") + std::strerror(errno));
    }
    // Each rank dies with the launcher (it checkpoints on the SIGTERM); rank 0 keeps the run
    // directory's claim across exec.
    common::ChildSpec spec;
    spec.program = options.binary;
    spec.args = options.args;
    spec.environment = env_strings[static_cast<size_t>(r)];
    spec.null_stdin = false;
    spec.stderr_fd = pipe_fds[1];
    spec.death_signal = SIGTERM;
    if (r == 0) spec.inherit_fd = options.run_dir_lock_descriptor;
    pid_t pid = -1;
    try {
      pid = common::spawn(spec);
    } catch (const std::exception& e) {
      ::close(pipe_fds[0]);
      ::close(pipe_fds[1]);
      stop_all(SIGKILL);
      throw std::runtime_error("cannot start rank " + std::to_string(r) + ": " + e.what());
    }
    ::close(pipe_fds[1]);
    ::fcntl(pipe_fds[0], F_SETFL, O_NONBLOCK);
    ranks[static_cast<size_t>(r)].pid = pid;
    ranks[static_cast<size_t>(r)].stderr_fd = pipe_fds[0];
    ranks[static_cast<size_t>(r)].failure_file = rendezvous.failure_file(r);
  }

  LaunchResult result;
  bool first_was_secondary = false;  // the failure reported so far only echoed another rank's
  std::optional<Clock::time_point> kill_at;
  int forwarded = 0;
  const auto exit_code_of = [](int status) {
    return WIFSIGNALED(status) ? 128 + WTERMSIG(status) : WEXITSTATUS(status);
  };
  for (;;) {
    std::vector<pollfd> fds;
    for (const auto& rank : ranks) {
      if (rank.stderr_fd >= 0) fds.push_back({rank.stderr_fd, POLLIN, 0});
    }
    if (!fds.empty()) ::poll(fds.data(), fds.size(), 50);
    else std::this_thread::sleep_for(std::chrono::milliseconds(50));
    for (size_t r = 0; r < ranks.size(); ++r) {
      if (ranks[r].stderr_fd >= 0) relay(ranks[r], static_cast<int>(r), err, false);
    }
    const int signal = options.stop_signal ? options.stop_signal->load() : 0;
    if (signal != 0 && forwarded == 0) {
      forwarded = signal;
      stop_all(signal);
    }
    bool all_done = true;
    for (size_t r = 0; r < ranks.size(); ++r) {
      auto& rank = ranks[r];
      if (!rank.status) {
        int status = 0;
        if (::waitpid(rank.pid, &status, WNOHANG) == rank.pid) {
          rank.status = status;
          relay(rank, static_cast<int>(r), err, true);
          ::close(rank.stderr_fd);
          rank.stderr_fd = -1;
          const int code = exit_code_of(status);
          // A rank that exits (not dies) with 128 + a stop signal checkpointed with the others and
          // stopped: the signal reached the launcher, or one rank directly (the ranks agree on it).
          const bool stopped = WIFEXITED(status) && code > 128 && is_stop_signal(code - 128);
          const bool stopped_as_asked = forwarded != 0 && code == 128 + forwarded;
          if (code != 0 && !stopped && !stopped_as_asked) {
            // The first failure, unless it only echoes another rank's: that one's own reason wins.
            const auto said = WIFSIGNALED(status) ? std::nullopt : read_rank_failure(rank.failure_file);
            const bool secondary = said && said->secondary;
            const bool replace = result.failed_rank < 0 || (!secondary && !result.killed && first_was_secondary);
            if (replace) {
              first_was_secondary = secondary;
              result.failed_rank = static_cast<int>(r);
              result.exit_code = code;
              result.killed = WIFSIGNALED(status);
              result.reason = "rank " + std::to_string(r) + ": " +
                              (WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
                                                         signal_name(WTERMSIG(status)) + ")"
                               : said              ? said->reason
                                                   : "exited with status " + std::to_string(code) + " without saying why");
            }
            if (!kill_at) {
              kill_at = Clock::now() + options.grace;
              stop_all(SIGTERM);
            }
          }
        }
      }
      all_done = all_done && rank.status.has_value();
    }
    if (all_done) break;
    if (kill_at && Clock::now() >= *kill_at) {
      for (auto& rank : ranks) rank.sigkilled = rank.sigkilled || !rank.status;
      stop_all(SIGKILL);
    }
  }
  if (result.failed_rank < 0) {
    result.exit_code = exit_code_of(*ranks[0].status);
    return result;
  }
  // The failed rank died of the launcher's own SIGKILL: the others only said that it did not answer
  // (a rank's own reason would have won above), and it ignored SIGTERM for the grace period. It hung
  // (stopped, deadlocked, or stuck in the kernel); resuming it would hang again, so it is a
  // failure, not a kill.
  const auto& failed = ranks[static_cast<size_t>(result.failed_rank)];
  if (result.killed && failed.sigkilled && WTERMSIG(*failed.status) == SIGKILL) {
    result.hung = true;
    result.killed = false;
    result.exit_code = 1;  // kExitFailed
    result.reason = hung_reason(result.failed_rank, options.grace);
  }
  return result;
}

}  // namespace isda::distributed
