#pragma once
// A run's directory on disk (file names: common/run_files.h): the resolved config, the append-only event log the runner ingests,
// the checkpoint and the final result. Free of LibTorch.
//
//   lock             flock'ed by the one process that works in the directory; holds its pid
//   config.json      resolved config (written once, atomically)
//   events.jsonl     one JSON object per line, fsynced: start, epoch, done, failed, interrupted
//                    (the records: common/run_events.h)
//   checkpoint.pt    the latest checkpoint (framed and checksummed, replaced atomically)
//   result.json      final metrics, written atomically when the run is done
//   interrupted      present while the last attempt stopped on a signal after checkpointing
//   progress         "<epoch> <step> <stall limit in seconds>": rewritten (not fsynced) at most once
//                    a second while training steps finish, so its modification time says when the
//                    worker last made progress (isda-run and the Slurm job script watch it)
//   stall.txt        what isda-run learnt of a worker it found stalled: when, and its stacks
//
// The claim is never left open at any instant of a launch: a coordinator takes the lock with a
// RunDirectoryClaim before the worker exists, the worker inherits that descriptor (it writes its
// pid into the lock between fork and exec) and RunDirectory adopts it.

#include "common/run_files.h"

#include <nlohmann/json.hpp>

#include <chrono>

#include <stdexcept>
#include <string>
#include <vector>

namespace isda::train {

// A checkpoint that is corrupt, from another format version or from another config.
class CheckpointError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Another live process works in the run directory.
class RunDirectoryBusy : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A coordinator's hold on a run directory's lock, taken before it spawns the worker and handed to
// the worker as an inherited descriptor (see runner/worker.cpp), so that the directory is claimed
// at every instant from before the spawn until the worker exits. The descriptor is close-on-exec:
// only the child it is handed to (which clears that flag) inherits it.
class RunDirectoryClaim {
 public:
  // Creates the directory if needed and takes its lock, writing no pid yet (the worker writes its
  // own). Throws RunDirectoryBusy naming the holder, std::runtime_error if it cannot be created.
  explicit RunDirectoryClaim(const std::string& path);
  ~RunDirectoryClaim();  // closes this process's descriptor; a child that inherited it keeps the lock
  RunDirectoryClaim(const RunDirectoryClaim&) = delete;
  RunDirectoryClaim& operator=(const RunDirectoryClaim&) = delete;

  int descriptor() const { return fd_; }

 private:
  int fd_ = -1;
};

// The default stall limit: seconds without a finished step after which a worker counts as stalled.
// `configured` (config key stall_limit) when positive, else the larger of 10 minutes and 20 times
// the slowest step so far (0: none measured yet).
inline constexpr int kStallLimitFloorSeconds = 600;  // a worker gets 10 minutes whatever its steps take
inline constexpr int kStallSlowestStepFactor = 20;
inline constexpr int kStallGraceSeconds = 30;  // from a stalled worker's SIGTERM to its SIGKILL
double stall_limit_seconds(double configured, double slowest_step_seconds);

class RunDirectory;

// A trainer's notes of progress: step_finished() after every step rewrites the progress file at
// most once a second, with the stall limit its slowest step so far gives.
class ProgressNotes {
 public:
  ProgressNotes(const RunDirectory* run_dir, double configured_stall_limit);
  void step_finished(int64_t epoch, int64_t step);

 private:
  using Clock = std::chrono::steady_clock;
  const RunDirectory* run_dir_;  // not owned; null: nothing is written
  double configured_;
  double slowest_ = 0;
  Clock::time_point last_step_;
  Clock::time_point last_written_{};
};

class RunDirectory {
 public:
  // Creates the directory if needed and takes its lock (`lock`, holding this process's pid), so
  // that two workers never write one run: the descriptor named by $ISDA_RUN_DIR_LOCK_FD when it is
  // this directory's lock (a coordinator's claim, adopted), else a new one. Then drops a torn last
  // line of the event log. Throws RunDirectoryBusy naming the holder's pid, or std::runtime_error
  // naming the directory if it cannot be created.
  explicit RunDirectory(std::string path);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  // Who holds `<path>/lock`: 0 nobody; the pid written in it while a live process holds it; -1 while
  // it is held but carries no pid yet (a claim being handed to a worker that is starting).
  static int lock_holder(const std::string& path);

  const std::string& path() const { return path_; }
  // The descriptor of the held lock (close-on-exec), for handing the claim to a child as a
  // coordinator does (isda-train's launcher gives it to rank 0).
  int lock_descriptor() const { return lock_fd_; }
  std::string file(const char* name) const { return run_files::path(path_, name); }

  // Appends an event (with a "time" field added) and fsyncs. Throws common::FileError.
  void append_event(nlohmann::json event) const;
  // The events on disk (a torn last line was dropped when the directory was opened). Throws
  // events::EventLogError naming the file and line of a line that is not a record.
  std::vector<nlohmann::json> read_events() const;
  // The byte size of the event log (0 when there is none): where the next record will start.
  static int64_t event_log_size(const std::string& path);

  // The marker of a stop on a signal after a checkpoint (common/run_events.h), set when the run
  // stops so and cleared when an attempt starts.
  void mark_interrupted(int signal_number) const;
  void clear_interrupted_mark() const;

  // Rewrites the progress file: "<epoch> <step> <stall limit>" (epoch 1-based, step within it).
  // Never throws: a note that cannot be written only makes the worker look slower.
  void note_progress(int64_t epoch, int64_t step, double stall_limit) const;

  void write_json(const char* name, const nlohmann::json& value) const;

  bool has_checkpoint() const;
  // Writes the checkpoint payload framed with a magic, a version and a CRC-32, atomically.
  void write_checkpoint(const std::string& payload) const;
  // The payload of the checkpoint; CheckpointError if it is truncated, corrupt or of another version.
  std::string read_checkpoint() const;
  // The same for the checkpoint file at `path`, without claiming its directory: how a classifier
  // reads a finished generator run that other classifiers read at the same time.
  static std::string read_checkpoint_file(const std::string& path);

 private:
  std::string path_;
  int lock_fd_ = -1;
};

}  // namespace isda::train
