#pragma once
// Child processes, started in one place for every part of the suite: isda-run's workers
// (runner/worker), isda-train's ranks (core/distributed/launcher), isda-bench's memory probe and the
// tests' helpers. fork + exec with an argument vector (never a shell); what the child does between
// the two is async-signal-safe and chosen by flags, so no caller writes that code again. A child
// starts with no signal blocked and SIGINT, SIGTERM and SIGPIPE at their defaults, whatever this
// process set for itself.

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace isda::common {

struct ChildSpec {
  std::string program;                                  // executed as is (no PATH search)
  std::vector<std::string> args;                        // without argv[0], which is `program`
  std::optional<std::vector<std::string>> environment;  // "NAME=value" entries; none: this process's
  bool null_stdin = true;                               // stdin from /dev/null (else inherited)
  // stdout and stderr: a descriptor to dup onto them (a pipe's write end), else a file appended to
  // (created 0644; the same path for both shares one descriptor), else inherited.
  int stdout_fd = -1, stderr_fd = -1;
  std::string stdout_file, stderr_file;
  int death_signal = 0;            // sent to the child when this process dies (PR_SET_PDEATHSIG; 0: none),
                                   // also if it died before the child could ask
  bool own_process_group = false;  // the child leads a new process group (kill(-pid) reaches its tree)
  int inherit_fd = -1;             // a close-on-exec descriptor the child keeps across exec
  bool write_pid_to_inherited_fd = false;  // the child writes its pid into it (a run directory's claim)
};

// This process's environment ("NAME=value" entries) without the variables in `names`: the base of a
// child's environment that sets those itself.
std::vector<std::string> environment_without(const std::vector<std::string>& names);

// Starts the child; returns its pid. Throws std::runtime_error "<program>: cannot start (<reason>)"
// when an output file cannot be opened, fork fails or exec fails (the child then exits 127 and is
// reaped here).
pid_t spawn(const ChildSpec& spec);

// The exit code of a wait status: its exit status, or 128 + N for a death by signal N.
int exit_code_of(int wait_status);
// The child's exit code once it has exited (it is reaped), nothing while it runs; -1 for a pid that
// is not (or no longer) a child of this process.
std::optional<int> poll_exit(pid_t pid);
// Waits for the child; its exit code.
int wait_exit(pid_t pid);

// `name` found in PATH ("" when it is not there); a name with a '/' is returned as it is.
std::string find_in_path(const std::string& name);

// What a program said and how it ended.
struct Captured {
  int exit_code = -1;      // 128 + N for a death by signal N; -1 when it timed out
  bool timed_out = false;  // killed (with its process group) at the deadline
  std::string out, err;    // err is empty when merged into out
};
struct CaptureOptions {
  std::chrono::milliseconds timeout{10000};
  bool merge_stderr = false;        // stderr into `out`, interleaved as written
  int death_signal = 0;             // as ChildSpec's
  size_t max_bytes = size_t{1} << 20;  // more output than this is cut, the rest read and dropped
};
// Runs `program` (found in PATH) with `args`, stdin from /dev/null, in a process group of its
// own, and returns its output and exit code; at the deadline it and its group are killed and
// reaped, never waited for. Never blocks past the deadline. Throws std::runtime_error
// "<program>: not found in PATH" or "<program>: cannot start (...)".
Captured run_captured(const std::string& program, const std::vector<std::string>& args, const CaptureOptions& options);

}  // namespace isda::common
