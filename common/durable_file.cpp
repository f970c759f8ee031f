#include "common/durable_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace isda::common {
namespace {

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  const int error_number = errno;
  throw FileError(path + ": " + what + " (" + std::strerror(error_number) + ")", error_number);
}

void write_all(int fd, const std::string& path, const char* data, size_t size) {
  while (size > 0) {
    const ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      fail(path, "write failed");
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
}

void fsync_directory_of(const std::string& path) {
  auto dir = std::filesystem::path(path).parent_path();
  if (dir.empty()) dir = ".";
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: some filesystems refuse to open directories
  ::fsync(fd);
  ::close(fd);
}

}  // namespace

bool is_environment_fault(int error_number) {
  return error_number == ENOSPC || error_number == EDQUOT || error_number == EIO || error_number == EROFS;
}

void write_file_atomically(const std::string& path, const std::string& bytes, unsigned mode) {
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, static_cast<mode_t>(mode));
  if (fd < 0) fail(temp, "cannot create");
  try {
    if (::fchmod(fd, static_cast<mode_t>(mode)) != 0) fail(temp, "cannot set its permissions");
    write_all(fd, temp, bytes.data(), bytes.size());
    if (::fsync(fd) != 0) fail(temp, "fsync failed");
  } catch (...) {
    ::close(fd);
    ::unlink(temp.c_str());  // a full disk must not also keep the half-written temporary file
    throw;
  }
  ::close(fd);
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error_number = errno;
    ::unlink(temp.c_str());
    errno = error_number;
    fail(path, "rename failed");
  }
  fsync_directory_of(path);
}

void append_line_durably(const std::string& path, const std::string& line) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd < 0) fail(path, "cannot open for appending");
  const std::string text = line + '\n';
  try {
    write_all(fd, path, text.data(), text.size());  // one write: O_APPEND keeps it in one piece
    if (::fsync(fd) != 0) fail(path, "fsync failed");
  } catch (...) {
    ::close(fd);
    throw;
  }
  ::close(fd);
}

bool drop_torn_last_line(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) return false;
  const auto text = read_file(path);
  if (text.empty() || text.back() == '\n') return false;
  const auto keep = text.rfind('\n');
  const auto size = keep == std::string::npos ? 0 : keep + 1;
  if (::truncate(path.c_str(), static_cast<off_t>(size)) != 0) fail(path, "cannot truncate a torn line");
  return true;
}

std::string read_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw FileError(path + ": is a directory, not a file", EISDIR);
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(path, "cannot read file");
  return buffer.str();
}

}  // namespace isda::common
