#pragma once
// gzip-compressed tar archives (POSIX ustar, GNU long names, pax paths), read sequentially with
// zlib: enough to unpack a data set's official archive. Every problem is a one-line DataError that
// names the archive.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace isda::data {

struct TarEntry {
  std::string name;       // path inside the archive (GNU 'L' long names and pax "path" applied)
  char type = '0';        // '0' regular file, '5' directory, '1' hard link, '2' symlink, ...
  uint64_t size = 0;      // bytes of data that follow (regular files)
  std::string link_name;  // links only
  bool is_regular() const { return type == '0' || type == '\0' || type == '7'; }
  bool is_directory() const { return type == '5'; }
};

// Reads a .tar.gz entry by entry. Not thread-safe.
class TarGzReader {
 public:
  // Opens `path`. Throws DataError when it cannot be opened.
  explicit TarGzReader(const std::string& path);
  ~TarGzReader();
  TarGzReader(const TarGzReader&) = delete;
  TarGzReader& operator=(const TarGzReader&) = delete;

  // Skips what is left of the current entry and reads the next header into `entry`; false at the
  // end-of-archive marker. Throws DataError for corrupt gzip data, a truncated archive, a header
  // whose checksum does not match, or a malformed size field.
  bool next(TarEntry& entry);
  // Reads up to `size` bytes of the current entry's data; 0 at its end. Throws DataError like next.
  size_t read(char* buffer, size_t size);

  const std::string& path() const { return path_; }

 private:
  struct Gzip;
  // Throws DataError "<archive>: <what>", or the gzip layer's error when the rest of the stream is corrupt.
  [[noreturn]] void fail(const std::string& what);
  void read_exact(char* buffer, size_t size, const char* what);
  void skip(uint64_t size, const char* what);
  std::string read_member_data(const TarEntry& entry);

  std::string path_;
  std::unique_ptr<Gzip> gzip_;
  uint64_t offset_ = 0;     // bytes of the tar stream consumed
  uint64_t remaining_ = 0;  // data bytes of the current entry not yet read
  uint64_t padding_ = 0;    // zero bytes after the current entry's data
  std::string current_;     // name of the current entry (for messages)
};

// Unpacks the regular files and directories of `archive` under `destination` (created if needed),
// keeping their relative paths; links and special files are skipped. Returns the relative paths of
// the files written, in archive order. Throws DataError naming the archive for any reader error and
// for a member whose path is absolute or has a ".." component; DataError naming the output file
// when it cannot be written.
std::vector<std::string> extract_tar_gz(const std::string& archive, const std::string& destination);

}  // namespace isda::data
