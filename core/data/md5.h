#pragma once
// MD5 (RFC 1321), only to check downloads against their published digests: not for security.

#include <cstddef>
#include <cstdint>
#include <string>

namespace isda::data {

// Incremental MD5: update() any number of times, then hex_digest() once. Not thread-safe.
class Md5 {
 public:
  Md5();
  void update(const void* data, size_t size);
  void update(const std::string& text) { update(text.data(), text.size()); }
  // The digest as 32 lowercase hex digits. Finishes the computation: call it once.
  std::string hex_digest();

 private:
  void transform(const uint8_t* block);

  uint32_t state_[4];
  uint64_t length_ = 0;  // bytes hashed so far
  uint8_t buffer_[64];
  size_t buffered_ = 0;
};

// The MD5 of a whole file as lowercase hex. Throws DataError naming the file when it cannot be read.
std::string md5_file(const std::string& path);

}  // namespace isda::data
