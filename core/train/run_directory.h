#pragma once
// A run's directory on disk: the resolved config, the append-only event log the runner ingests,
// the checkpoint and the final result. Free of LibTorch.
//
//   config.json      resolved config (written once, atomically)
//   events.jsonl     one JSON object per line, fsynced: start, epoch, done, failed, interrupted
//   checkpoint.pt    the latest checkpoint (framed and checksummed, replaced atomically)
//   result.json      final metrics, written atomically when the run is done

#include <nlohmann/json.hpp>

#include <stdexcept>
#include <string>

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

class RunDirectory {
 public:
  // Creates the directory if needed and takes its lock (`lock`, holding this process's pid), so
  // that two workers never write one run. Throws RunDirectoryBusy naming the holder's pid, or
  // std::runtime_error naming the directory if it cannot be created.
  explicit RunDirectory(std::string path);
  ~RunDirectory();
  RunDirectory(const RunDirectory&) = delete;
  RunDirectory& operator=(const RunDirectory&) = delete;

  // The pid recorded in `<path>/lock` if a live process holds that lock, else 0. For coordinators.
  static int lock_holder(const std::string& path);

  const std::string& path() const { return path_; }
  std::string file(const char* name) const { return path_ + "/" + name; }

  // Appends an event (with a "time" field added) and fsyncs. Throws std::runtime_error.
  void append_event(nlohmann::json event) const;
  // The events on disk, after dropping a torn last line left by a crash.
  std::vector<nlohmann::json> read_events() const;

  void write_json(const char* name, const nlohmann::json& value) const;

  bool has_checkpoint() const;
  // Writes the checkpoint payload framed with a magic, a version and a CRC-32, atomically.
  void write_checkpoint(const std::string& payload) const;
  // The payload of the checkpoint; CheckpointError if it is truncated, corrupt or of another version.
  std::string read_checkpoint() const;

 private:
  std::string path_;
  int lock_fd_ = -1;
};

}  // namespace isda::train
