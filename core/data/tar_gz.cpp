#include "data/tar_gz.h"

#include "data/data_error.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>

namespace isda::data {
namespace {

namespace fs = std::filesystem;

constexpr size_t kReadBlock = 1 << 16;

// libarchive's message for the last error as part of one line ("Truncated tar archive" ->
// "truncated tar archive").
std::string reason(struct archive* a) {
  const char* text = archive_error_string(a);
  // A gzip trailer cut short fails without a message (libarchive 3.6).
  std::string message = text != nullptr                        ? text
                        : archive_errno(a) > 0                  ? std::strerror(archive_errno(a))
                                                                : "truncated or damaged data";
  std::replace(message.begin(), message.end(), '\n', ' ');
  while (!message.empty() && std::isspace(static_cast<unsigned char>(message.back()))) message.pop_back();
  if (message.size() > 1 && std::isupper(static_cast<unsigned char>(message[0])) &&
      !std::isupper(static_cast<unsigned char>(message[1]))) {
    message[0] = static_cast<char>(std::tolower(static_cast<unsigned char>(message[0])));
  }
  return message;
}

char type_of(struct archive_entry* entry) {
  if (archive_entry_hardlink(entry) != nullptr) return '1';
  switch (archive_entry_filetype(entry)) {
    case AE_IFREG: return '0';
    case AE_IFDIR: return '5';
    case AE_IFLNK: return '2';
    case AE_IFCHR: return '3';
    case AE_IFBLK: return '4';
    case AE_IFIFO: return '6';
    default: return '?';
  }
}

// Creates the directories of `relative` under `root` one component at a time, refusing to go
// through a symbolic link (never created here, but the destination may hold one).
void create_directories_under(const fs::path& root, const fs::path& relative, const std::string& archive,
                              const std::string& member) {
  fs::path at = root;
  for (const auto& part : relative) {
    at /= part;
    std::error_code error;
    const auto status = fs::symlink_status(at, error);
    if (fs::is_symlink(status)) {
      throw DataError(archive + ": member path \"" + member + "\" goes through the symbolic link " + at.string());
    }
    if (fs::is_directory(status)) continue;
    fs::create_directory(at, error);
    if (error) throw DataError(at.string() + ": cannot create directory (" + error.message() + ")");
  }
}

// A file being written, closed if an error leaves it open.
struct OutputFile {
  int fd = -1;
  ~OutputFile() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

TarGzReader::TarGzReader(const std::string& path) : path_(path) {
  fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd_ < 0) throw DataError(path_ + ": cannot open (" + std::strerror(errno) + ")");
  struct stat info {};
  const auto refuse = [this](const std::string& why) {
    ::close(fd_);
    throw DataError(path_ + ": " + why);
  };
  if (::fstat(fd_, &info) != 0) refuse(std::string("cannot open (") + std::strerror(errno) + ")");
  if (S_ISDIR(info.st_mode)) refuse("is a directory, not a .tar.gz");
  // gzip-compressed tar only: anything else (a plain tar, another compression, zip) is refused
  // rather than handed to a parser nobody needs here.
  unsigned char magic[2] = {0, 0};
  if (::pread(fd_, magic, 2, 0) != 2 || magic[0] != 0x1f || magic[1] != 0x8b) {
    refuse("not gzip-compressed data (expected a .tar.gz)");
  }
  archive_ = archive_read_new();
  if (archive_ == nullptr) refuse("cannot initialise libarchive");
  archive_read_support_filter_gzip(archive_);
  archive_read_support_format_tar(archive_);
  // Opening reads ahead to recognise the format: a damaged or truncated start fails here.
  if (archive_read_open_fd(archive_, fd_, kReadBlock) != ARCHIVE_OK) {
    const std::string why = reason(archive_);
    archive_read_free(archive_);
    refuse("unreadable .tar.gz (" + why + ")");
  }
  if (archive_filter_code(archive_, 0) != ARCHIVE_FILTER_GZIP) {
    archive_read_free(archive_);
    refuse("not gzip-compressed data (expected a .tar.gz)");
  }
}

TarGzReader::~TarGzReader() {
  archive_read_free(archive_);
  ::close(fd_);
}

void TarGzReader::fail(const std::string& what) {
  throw DataError(path_ + ": " + what + " (" + reason(archive_) + ")");
}

bool TarGzReader::next(TarEntry& entry) {
  struct archive_entry* header = nullptr;
  const int status = archive_read_next_header(archive_, &header);
  if (status == ARCHIVE_EOF) return false;
  // ARCHIVE_WARN is a header read with a remark (an odd charset, say); RETRY (a bad checksum),
  // FAILED and FATAL are a damaged or truncated archive.
  if (status != ARCHIVE_OK && status != ARCHIVE_WARN) {
    fail(current_.empty() ? std::string("unreadable tar archive at its first member")
                          : "unreadable tar archive after member \"" + current_ + "\"");
  }
  entry = TarEntry{};
  const char* name = archive_entry_pathname(header);
  entry.name = name != nullptr ? name : "";
  entry.type = type_of(header);
  entry.size = archive_entry_size_is_set(header) ? static_cast<uint64_t>(std::max<la_int64_t>(0, archive_entry_size(header))) : 0;
  const char* link = entry.type == '1' ? archive_entry_hardlink(header) : archive_entry_symlink(header);
  if (link != nullptr) entry.link_name = link;
  current_ = entry.name;
  return true;
}

size_t TarGzReader::read(char* buffer, size_t size) {
  const la_ssize_t got = archive_read_data(archive_, buffer, size);
  if (got < 0) fail("unreadable data of member \"" + current_ + "\"");
  return static_cast<size_t>(got);
}

std::vector<std::string> extract_tar_gz(const std::string& archive, const std::string& destination) {
  TarGzReader reader(archive);
  std::vector<std::string> written;
  std::error_code error;
  fs::create_directories(destination, error);
  if (error) throw DataError(destination + ": cannot create directory (" + error.message() + ")");
  TarEntry entry;
  std::vector<char> buffer(kReadBlock);
  while (reader.next(entry)) {
    if (!entry.is_regular() && !entry.is_directory()) continue;  // links, devices, FIFOs
    const fs::path relative = fs::path(entry.name).lexically_normal();
    bool unsafe = relative.is_absolute();
    for (const auto& part : relative) unsafe = unsafe || part == "..";
    if (unsafe) throw DataError(archive + ": unsafe member path \"" + entry.name + "\"");
    if (relative.empty() || relative == ".") continue;
    const fs::path target = fs::path(destination) / relative;
    if (entry.is_directory()) {
      create_directories_under(destination, relative, archive, entry.name);
      continue;
    }
    create_directories_under(destination, relative.parent_path(), archive, entry.name);
    if (fs::is_symlink(fs::symlink_status(target, error))) {
      throw DataError(archive + ": member path \"" + entry.name + "\" is the symbolic link " + target.string());
    }
    // O_NOFOLLOW: a symbolic link that appears at the file's own name meanwhile is not written through.
    OutputFile out{::open(target.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644)};
    if (out.fd < 0) throw DataError(target.string() + ": cannot write (" + std::strerror(errno) + ")");
    size_t got;
    while ((got = reader.read(buffer.data(), buffer.size())) > 0) {
      for (size_t done = 0; done < got;) {
        const auto wrote = ::write(out.fd, buffer.data() + done, got - done);
        if (wrote < 0 && errno == EINTR) continue;
        if (wrote < 0) throw DataError(target.string() + ": write failed (" + std::strerror(errno) + ")");
        done += static_cast<size_t>(wrote);
      }
    }
    // Durable before the caller renames it into place.
    if (::fsync(out.fd) != 0 || ::close(std::exchange(out.fd, -1)) != 0) {
      throw DataError(target.string() + ": write failed (" + std::strerror(errno) + ")");
    }
    written.push_back(relative.generic_string());
  }
  return written;
}

}  // namespace isda::data
