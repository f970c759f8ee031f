#pragma once
// Small facts about the machine and the clock that several parts of the suite record.

#include <string>

namespace isda::common {

// Unix time in seconds (wall clock), as every timestamp in the results store and event logs.
double now_seconds();

// This machine's host name ("" if it cannot be read).
std::string host_name();

// FNV-1a (64 bits) of `text` as 16 hex digits: how the store tells apart versions of one spec.
std::string fnv1a_hex(const std::string& text);

// Bytes of memory this machine can give a new allocation without swapping (MemAvailable of
// /proc/meminfo), or -1 where that cannot be read.
long long available_memory_bytes();

// `path` made absolute (against the working directory) and normalised; no file system access.
std::string absolute_path(const std::string& path);

}  // namespace isda::common
