#include "train/run_directory.h"

#include "support/durable_file.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>
#include <zlib.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
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

}  // namespace

RunDirectory::RunDirectory(std::string path) : path_(std::move(path)) {
  std::error_code ec;
  std::filesystem::create_directories(path_, ec);
  if (ec || !std::filesystem::is_directory(path_)) {
    throw std::runtime_error(path_ + ": cannot create the run directory (" + ec.message() + ")");
  }
  const auto lock_path = file("lock");
  lock_fd_ = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0) throw std::runtime_error(lock_path + ": cannot open the run directory's lock");
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd_);
    throw RunDirectoryBusy(path_ + ": in use by another isda-train (pid " + std::to_string(lock_holder(path_)) + ")");
  }
  const auto pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(lock_fd_, 0) != 0 || ::pwrite(lock_fd_, pid.data(), pid.size(), 0) < 0) {
    // The pid is informative only; the flock is what excludes.
  }
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
    if (::pread(fd, text, sizeof text - 1, 0) > 0) holder = std::atoi(text);
  } else {
    ::flock(fd, LOCK_UN);
  }
  ::close(fd);
  return holder;
}

void RunDirectory::append_event(nlohmann::json event) const {
  event["time"] = std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  support::append_line_durably(file("events.jsonl"), event.dump());
}

std::vector<nlohmann::json> RunDirectory::read_events() const {
  const auto path = file("events.jsonl");
  std::vector<nlohmann::json> events;
  if (!std::filesystem::exists(path)) return events;
  support::drop_torn_last_line(path);
  std::istringstream lines(support::read_file(path));
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty()) continue;
    try {
      events.push_back(nlohmann::json::parse(line));
    } catch (const nlohmann::json::parse_error&) {
      throw std::runtime_error(path + ": line " + std::to_string(events.size() + 1) + " is not JSON");
    }
  }
  return events;
}

void RunDirectory::write_json(const char* name, const nlohmann::json& value) const {
  support::write_file_atomically(file(name), value.dump(2) + "\n");
}

bool RunDirectory::has_checkpoint() const { return std::filesystem::exists(file("checkpoint.pt")); }

void RunDirectory::write_checkpoint(const std::string& payload) const {
  std::string framed(kMagic, sizeof kMagic);
  put<uint32_t>(framed, kFormatVersion);
  put<uint32_t>(framed, crc32_of(payload));
  put<uint64_t>(framed, payload.size());
  framed += payload;
  support::write_file_atomically(file("checkpoint.pt"), framed);
}

std::string RunDirectory::read_checkpoint() const {
  const auto path = file("checkpoint.pt");
  const auto bytes = support::read_file(path);
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
