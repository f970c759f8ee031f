#pragma once
// Crash-safe file writes: a file written here is complete or absent, never torn.

#include <stdexcept>
#include <string>

namespace isda::common {

// A file could not be written, read or renamed. what() names the path and the system's reason;
// `error_number` is errno (ENOSPC: the disk is full).
class FileError : public std::runtime_error {
 public:
  FileError(const std::string& message, int errno_value) : std::runtime_error(message), error_number(errno_value) {}
  int error_number;
};

// Whether a failure with this errno is the machine's fault rather than the run's (no space left,
// quota exceeded, an I/O error, a read-only file system): a rerun after it is fixed succeeds.
bool is_environment_fault(int error_number);

// Writes `bytes` to `path` via a temporary file in the same directory, fsync, rename, and fsync of
// the directory, created with permissions `mode`. Throws FileError naming the path on any failure
// (and leaves no temporary file).
void write_file_atomically(const std::string& path, const std::string& bytes, unsigned mode = 0644);

// Appends one line (a '\n' is added) to `path` and fsyncs it. Throws FileError.
void append_line_durably(const std::string& path, const std::string& line);

// Drops a torn last line (one without its '\n', left by a crash mid-append). Returns true if it did.
bool drop_torn_last_line(const std::string& path);

// The whole file; throws FileError naming the path if it cannot be read (a directory included).
std::string read_file(const std::string& path);

}  // namespace isda::common
