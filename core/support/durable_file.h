#pragma once
// Crash-safe file writes: a file written here is complete or absent, never torn.

#include <string>

namespace isda::support {

// Writes `bytes` to `path` via a temporary file in the same directory, fsync, rename, and fsync of
// the directory. Throws std::runtime_error naming the path on any failure.
void write_file_atomically(const std::string& path, const std::string& bytes);

// Appends one line (a '\n' is added) to `path` and fsyncs it. Throws std::runtime_error.
void append_line_durably(const std::string& path, const std::string& line);

// Drops a torn last line (one without its '\n', left by a crash mid-append). Returns true if it did.
bool drop_torn_last_line(const std::string& path);

// The whole file; throws std::runtime_error naming the path if it cannot be read.
std::string read_file(const std::string& path);

}  // namespace isda::support
