#include "train/run_directory.h"

#include "common/durable_file.h"
#include "common/run_events.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace isda::train {
namespace {

constexpr char kMagic[8] = {'I', 'S', 'D', 'A', 'C', 'K', 'P', 'T'};
constexpr uint32_t kFormatVersion = 1;
constexpr size_t kHeaderBytes = sizeof kMagic + 4 + 4 + 8;  // magic, version, crc32, length

template <typename T>
void put(std::string& out, T value) {
  for (size_t i = 0; i < sizeof(T); ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

template <typename T>
T get(const std::string& in, size_t offset) {
  T value = 0;
  for (size_t i = 0; i < sizeof(T); ++i) value |= static_cast<T>(static_cast<unsigned char>(in[offset + i])) << (8 * i);
  return value;
}

uint32_t crc32_of(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  size_t offset = 0;
  while (offset < bytes.size()) {  // zlib takes the length as uInt
    const auto chunk = static_cast<uInt>(std::min<size_t>(bytes.size() - offset, 1u << 30));
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + offset), chunk);
    offset += chunk;
  }
  return static_cast<uint32_t>(crc);
}

void create_directory(const std::string& path) {
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec || !std::filesystem::is_directory(path)) {
    throw std::runtime_error(path + ": cannot create the run directory (" + ec.message() + ")");
  }
}

// Opens `<dir>/lock` (close-on-exec) and takes it, or throws RunDirectoryBusy naming the holder.
int take_lock(const std::string& dir) {
  const auto lock_path = dir + "/lock";
  const int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) throw std::runtime_error(lock_path + ": cannot open the run directory's lock");
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(fd);
    const int holder = RunDirectory::lock_holder(dir);
    throw RunDirectoryBusy(dir + ": in use by another process (" +
                           (holder > 0 ? "pid " + std::to_string(holder) : std::string("a worker being started")) + ")");
  }
  return fd;
}

// The descriptor a coordinator handed down for this directory's lock, or -1. The variable is
// removed so that nothing this process starts inherits the claim by mistake.
int inherited_lock(const std::string& dir) {
  const char* text = std::getenv(run_files::kInheritedLockVariable);
  if (text == nullptr) return -1;
  const int fd = std::atoi(text);
  ::unsetenv(run_files::kInheritedLockVariable);
  struct stat held {}, ours {};
  const auto lock_path = dir + "/lock";
  if (fd <= 2 || ::fstat(fd, &held) != 0 || ::stat(lock_path.c_str(), &ours) != 0 || held.st_dev != ours.st_dev ||
      held.st_ino != ours.st_ino) {
    if (fd > 2) ::close(fd);  // another directory's claim: let it go, and lock this one as usual
    return -1;
  }
  ::fcntl(fd, F_SETFD, FD_CLOEXEC);
  return fd;
}

}  // namespace

RunDirectoryClaim::RunDirectoryClaim(const std::string& path) {
  create_directory(path);
  fd_ = take_lock(path);
  // No pid yet: a stale one of an earlier worker must not be taken for the new worker's.
  [[maybe_unused]] const int truncated = ::ftruncate(fd_, 0);
}

RunDirectoryClaim::~RunDirectoryClaim() {
  if (fd_ >= 0) ::close(fd_);
}

RunDirectory::RunDirectory(std::string path) : path_(std::move(path)) {
  create_directory(path_);
  lock_fd_ = inherited_lock(path_);
  if (lock_fd_ < 0) lock_fd_ = take_lock(path_);
  const auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is informative only; the flock is what excludes.
  }
  // A torn record left by a crash mid-append would glue onto the next one: drop it now, whether or
  // not the run has a checkpoint.
  common::drop_torn_last_line(file(run_files::kEvents));
}

RunDirectory::~RunDirectory() {
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

int RunDirectory::lock_holder(const std::string& path) {
  const auto lock_path = path + "/lock";
  const int fd = ::open(lock_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 0;
  int holder = 0;
  if (::flock(fd, LOCK_SH | LOCK_NB) != 0) {  // held exclusively: someone is alive in there
    char text[32] = {};
    holder = ::pread(fd, text, sizeof text - 1, 0) > 0 ? std::atoi(text) : 0;
    if (holder <= 0) holder = -1;
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return holder;
}

void RunDirectory::append_event(nlohmann::json event) const {
  event[events::kTime] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  common::append_line_durably(file(run_files::kEvents), event.dump());
}

std::vector<nlohmann::json> RunDirectory::read_events() const {
  const auto path = file(run_files::kEvents);
  std::vector<nlohmann::json> records;
  if (!std::filesystem::exists(path)) return records;
  const auto text = common::read_file(path);
  size_t begin = 0;
  int64_t number = 0;
  while (begin < text.size()) {
    const size_t end = text.find('\n', begin);
    if (end == std::string::npos) break;  // torn by a crash after this directory was opened
    ++number;
    if (end > begin) records.push_back(events::parse_record(text.data() + begin, text.data() + end, path, number));
    begin = end + 1;
  }
  return records;
}

int64_t RunDirectory::event_log_size(const std::string& path) {
  std::error_code ec;
  const auto size = std::filesystem::file_size(path + "/" + run_files::kEvents, ec);
  return ec ? 0 : static_cast<int64_t>(size);
}

void RunDirectory::mark_interrupted(int signal_number) const {
  common::write_file_atomically(file(run_files::kInterrupted), std::to_string(signal_number) + "\n");
}

void RunDirectory::clear_interrupted_mark() const {
  std::error_code ec;
  std::filesystem::remove(file(run_files::kInterrupted), ec);
}

void RunDirectory::note_progress(int64_t epoch, int64_t step, double stall_limit) const {
  // Not durable on purpose: its time matters while the worker lives, and a crash loses nothing.
  const auto target = file(run_files::kProgress);
  const auto temporary = target + ".tmp";
  std::ofstream out(temporary, std::ios::trunc);
  out << epoch << ' ' << step << ' ' << static_cast<int64_t>(std::ceil(stall_limit)) << '\n';
  out.close();
  std::error_code ignored;
  if (out) std::filesystem::rename(temporary, target, ignored);
}

double stall_limit_seconds(double configured, double slowest_step_seconds) {
  if (configured > 0) return configured;
  return std::max<double>(kStallLimitFloorSeconds, kStallSlowestStepFactor * slowest_step_seconds);
}

ProgressNotes::ProgressNotes(const RunDirectory* run_dir, double configured_stall_limit)
    : run_dir_(run_dir), configured_(configured_stall_limit), last_step_(Clock::now()) {}

void ProgressNotes::step_finished(int64_t epoch, int64_t step) {
  const auto now = Clock::now();
  slowest_ = std::max(slowest_, std::chrono::duration<double>(now - last_step_).count());
  last_step_ = now;
  if (run_dir_ == nullptr || now - last_written_ < std::chrono::seconds(1)) return;
  run_dir_->note_progress(epoch, step, stall_limit_seconds(configured_, slowest_));
  last_written_ = now;
}

void RunDirectory::write_json(const char* name, const nlohmann::json& value) const {
  common::write_file_atomically(file(name), value.dump(2) + "\n");
}

bool RunDirectory::has_checkpoint() const { return std::filesystem::exists(file(run_files::kCheckpoint)); }

void RunDirectory::write_checkpoint(const std::string& payload) const {
  std::string framed(kMagic, sizeof kMagic);
  put<uint32_t>(framed, kFormatVersion);
  put<uint32_t>(framed, crc32_of(payload));
  put<uint64_t>(framed, payload.size());
  framed += payload;
  common::write_file_atomically(file(run_files::kCheckpoint), framed);
}

std::string RunDirectory::read_checkpoint() const { return read_checkpoint_file(file(run_files::kCheckpoint)); }

std::string RunDirectory::read_checkpoint_file(const std::string& path) {
  const auto bytes = common::read_file(path);
  if (bytes.size() < kHeaderBytes || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0) {
    throw CheckpointError(path + ": not an isda-suite checkpoint");
  }
  const auto version = get<uint32_t>(bytes, 8);
  if (version != kFormatVersion) {
    throw CheckpointError(path + ": checkpoint format " + std::to_string(version) + ", this build reads " +
                          std::to_string(kFormatVersion));
  }
  const auto length = get<uint64_t>(bytes, 16);
  if (bytes.size() - kHeaderBytes != length) {
    throw CheckpointError(path + ": truncated (" + std::to_string(bytes.size() - kHeaderBytes) + " of " +
                          std::to_string(length) + " bytes)");
  }
  auto payload = bytes.substr(kHeaderBytes);
  if (crc32_of(payload) != get<uint32_t>(bytes, 12)) throw CheckpointError(path + ": corrupt (checksum mismatch)");
  return payload;
}

}  // namespace isda::train
