#pragma once
// gzip-compressed tar archives (POSIX ustar, GNU, pax), read with libarchive: archive parsing is
// security-sensitive, so it is left to a library that is fuzzed and maintained for it. Enough to
// unpack a data set's official archive. Every problem is a one-line DataError that names the archive.
// libarchive does not check the gzip CRC: the caller checks the archive's integrity (fetch: MD5).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

struct archive;  // libarchive's reader, kept out of this header

namespace isda::data {

struct TarEntry {
  std::string name;       // path inside the archive, as stored (long names and pax paths applied)
  char type = '0';        // '0' regular file, '5' directory, '1' hard link, '2' symlink, '3' '4' '6' devices and FIFOs
  uint64_t size = 0;      // bytes of data that follow (regular files)
  std::string link_name;  // links only
  bool is_regular() const { return type == '0'; }
  bool is_directory() const { return type == '5'; }
};

// Reads a .tar.gz entry by entry. Not thread-safe.
class TarGzReader {
 public:
  // Opens `path`. Throws DataError when it cannot be opened, is a directory, is not gzip-compressed
  // or its start cannot be read as a tar archive.
  explicit TarGzReader(const std::string& path);
  ~TarGzReader();
  TarGzReader(const TarGzReader&) = delete;
  TarGzReader& operator=(const TarGzReader&) = delete;

  // Skips what is left of the current entry and reads the next header into `entry`; false at the
  // end of the archive. Throws DataError "<archive>: <problem>" for corrupt or truncated gzip data
  // or a damaged tar header.
  bool next(TarEntry& entry);
  // Reads up to `size` bytes of the current entry's data; 0 at its end. Throws DataError like next.
  size_t read(char* buffer, size_t size);

  const std::string& path() const { return path_; }

 private:
  // Throws DataError "<archive>: <what> (<libarchive's reason>)".
  [[noreturn]] void fail(const std::string& what);

  std::string path_;
  int fd_ = -1;
  struct ::archive* archive_ = nullptr;
  std::string current_;  // name of the current entry (for messages)
};

// Unpacks the regular files and directories of `archive` under `destination` (created if needed),
// keeping their relative paths; links, devices and FIFOs are skipped, never created or followed.
// Returns the relative paths of the files written, in archive order. Throws DataError naming the
// archive for any reader error, for a member whose path is absolute or has a ".." component, and
// for one whose path under `destination` goes through a symbolic link; DataError naming the
// output file when it cannot be written. Files are fsynced.
std::vector<std::string> extract_tar_gz(const std::string& archive, const std::string& destination);

}  // namespace isda::data
