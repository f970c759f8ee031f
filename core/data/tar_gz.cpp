#include "data/tar_gz.h"

#include "data/data_error.h"

#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace isda::data {
namespace {

namespace fs = std::filesystem;

constexpr size_t kBlock = 512;
constexpr size_t kInputChunk = 1 << 16;

uint64_t round_up(uint64_t size) { return (size + kBlock - 1) / kBlock * kBlock; }

// A NUL-terminated (or full-width) header field.
std::string field(const char* header, size_t offset, size_t width) {
  const char* start = header + offset;
  return std::string(start, strnlen(start, width));
}

// Numeric header fields: octal digits (leading spaces, trailing NUL or space), or GNU base-256 when
// the high bit of the first byte is set. Returns false when malformed.
bool parse_number(const char* header, size_t offset, size_t width, uint64_t& value) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(header + offset);
  value = 0;
  if (bytes[0] & 0x80) {
    if (bytes[0] != 0x80) return false;  // negative or oversized
    for (size_t i = 1; i < width; ++i) {
      if (value >> 56) return false;
      value = value << 8 | bytes[i];
    }
    return true;
  }
  size_t i = 0;
  while (i < width && bytes[i] == ' ') ++i;
  bool digits = false;
  for (; i < width && bytes[i] >= '0' && bytes[i] <= '7'; ++i) {
    if (value >> 60) return false;
    value = value * 8 + (bytes[i] - '0');
    digits = true;
  }
  for (; i < width; ++i) {
    if (bytes[i] != ' ' && bytes[i] != '\0') return false;
  }
  return digits;
}

bool all_zero(const char* block) {
  return std::all_of(block, block + kBlock, [](char c) { return c == 0; });
}

}  // namespace

// A gzip stream read with inflate (gzip framing only, so a file that is not gzip is an error rather
// than read through as raw bytes). Concatenated gzip members are read as one stream.
struct TarGzReader::Gzip {
  explicit Gzip(const std::string& file_path) : path(file_path) {
    file = std::fopen(path.c_str(), "rb");
    if (file == nullptr) throw DataError(path + ": cannot open (" + std::strerror(errno) + ")");
    if (inflateInit2(&stream, 15 + 16) != Z_OK) {
      std::fclose(file);
      throw DataError(path + ": cannot initialise zlib");
    }
  }
  ~Gzip() {
    inflateEnd(&stream);
    std::fclose(file);
  }

  bool fill() {
    const size_t got = std::fread(input, 1, kInputChunk, file);
    if (got == 0 && std::ferror(file)) throw DataError(path + ": read error (" + std::strerror(errno) + ")");
    stream.next_in = input;
    stream.avail_in = static_cast<uInt>(got);
    return got > 0;
  }

  // Up to `size` bytes; fewer only at the end of the gzip stream.
  size_t read(char* buffer, size_t size) {
    size_t done = 0;
    while (done < size && !ended) {
      if (stream.avail_in == 0 && !fill()) {
        throw DataError(path + ": truncated gzip data (the compressed stream ends early)");
      }
      stream.next_out = reinterpret_cast<Bytef*>(buffer + done);
      stream.avail_out = static_cast<uInt>(std::min<size_t>(size - done, 1u << 30));
      const uInt before = stream.avail_out;
      const int status = inflate(&stream, Z_NO_FLUSH);
      done += before - stream.avail_out;
      if (status == Z_STREAM_END) {
        // Another gzip member may follow; anything else after the stream is ignored, as gzip does.
        if (stream.avail_in == 0) fill();
        if (stream.avail_in >= 2 && stream.next_in[0] == 0x1f && stream.next_in[1] == 0x8b) {
          inflateReset(&stream);
        } else {
          ended = true;
        }
      } else if (status != Z_OK && status != Z_BUF_ERROR) {
        const char* why = stream.msg != nullptr ? stream.msg : zError(status);
        throw DataError(path + ": corrupt gzip data (" + why + ")");
      }
    }
    return done;
  }

  std::string path;
  FILE* file = nullptr;
  z_stream stream{};
  Bytef input[kInputChunk];
  bool ended = false;
};

TarGzReader::TarGzReader(const std::string& path) : path_(path), gzip_(std::make_unique<Gzip>(path)) {}

TarGzReader::~TarGzReader() = default;

void TarGzReader::fail(const std::string& what) {
  // Corrupt deflate data can inflate to garbage that fails a tar check before zlib reaches the CRC
  // at the end of the stream: report the damaged gzip data (read_exact throws) when that is the cause.
  char sink[1 << 14];
  while (gzip_->read(sink, sizeof(sink)) == sizeof(sink)) {
  }
  throw DataError(path_ + ": " + what);
}

void TarGzReader::read_exact(char* buffer, size_t size, const char* what) {
  const size_t got = gzip_->read(buffer, size);
  offset_ += got;
  if (got < size) {
    fail(std::string("truncated tar archive (ends inside ") + what +
                    (current_.empty() ? std::string() : " of " + current_) + ")");
  }
}

void TarGzReader::skip(uint64_t size, const char* what) {
  char buffer[1 << 14];
  while (size > 0) {
    const auto take = static_cast<size_t>(std::min<uint64_t>(size, sizeof(buffer)));
    read_exact(buffer, take, what);
    size -= take;
  }
}

std::string TarGzReader::read_member_data(const TarEntry& entry) {
  if (entry.size > (1u << 20)) fail("oversized tar extension header at byte " + std::to_string(offset_));
  std::string data(static_cast<size_t>(entry.size), '\0');
  read_exact(data.data(), data.size(), "an extension header");
  skip(round_up(entry.size) - entry.size, "padding");
  return data;
}

bool TarGzReader::next(TarEntry& entry) {
  skip(remaining_ + padding_, "member data");
  remaining_ = padding_ = 0;
  std::string long_name, long_link, pax_path, pax_link;
  bool have_pax_size = false;
  uint64_t pax_size = 0;
  char header[kBlock];
  for (;;) {
    const uint64_t header_offset = offset_;
    current_.clear();
    const size_t got = gzip_->read(header, kBlock);
    offset_ += got;
    if (got == 0) fail("truncated tar archive (no end-of-archive marker)");
    if (got < kBlock) fail("truncated tar archive (ends inside a header)");
    if (all_zero(header)) return false;  // end-of-archive (a second zero block may follow)

    uint64_t stored = 0;
    if (!parse_number(header, 148, 8, stored)) {
      fail("bad tar header at byte " + std::to_string(header_offset) + " (unreadable checksum)");
    }
    uint64_t unsigned_sum = 0;
    int64_t signed_sum = 0;
    for (size_t i = 0; i < kBlock; ++i) {
      const char c = i >= 148 && i < 156 ? ' ' : header[i];
      unsigned_sum += static_cast<unsigned char>(c);
      signed_sum += static_cast<signed char>(c);
    }
    if (stored != unsigned_sum && static_cast<int64_t>(stored) != signed_sum) {
      fail("bad tar header checksum at byte " + std::to_string(header_offset));
    }
    entry = TarEntry{};
    entry.type = header[156];
    if (!parse_number(header, 124, 12, entry.size)) {
      fail("bad tar header at byte " + std::to_string(header_offset) + " (unreadable size)");
    }
    entry.name = field(header, 0, 100);
    entry.link_name = field(header, 157, 100);
    // POSIX ustar splits long paths into prefix/name; GNU headers use those bytes for other fields.
    if (std::memcmp(header + 257, "ustar\0", 6) == 0) {
      const auto prefix = field(header, 345, 155);
      if (!prefix.empty()) entry.name = prefix + "/" + entry.name;
    }
    current_ = entry.name;
    if (entry.type == 'L' || entry.type == 'K') {  // GNU: the next header's long name / link name
      auto text = read_member_data(entry);
      text.resize(strnlen(text.data(), text.size()));
      (entry.type == 'L' ? long_name : long_link) = text;
      continue;
    }
    if (entry.type == 'x' || entry.type == 'g') {  // pax: "LEN key=value\n" records
      const auto records = read_member_data(entry);
      if (entry.type == 'g') continue;
      size_t pos = 0;
      while (pos < records.size()) {
        const size_t space = records.find(' ', pos);
        uint64_t length = 0;
        try {
          length = std::stoull(records.substr(pos, space - pos));
        } catch (const std::exception&) {
          length = 0;
        }
        if (space == std::string::npos || length == 0 || pos + length > records.size()) {
          fail("malformed pax header at byte " + std::to_string(header_offset));
        }
        const auto record = records.substr(space + 1, pos + length - space - 2);  // drop the newline
        const size_t eq = record.find('=');
        const auto key = record.substr(0, eq);
        const auto value = eq == std::string::npos ? std::string() : record.substr(eq + 1);
        if (key == "path") pax_path = value;
        if (key == "linkpath") pax_link = value;
        if (key == "size") {
          try {
            pax_size = std::stoull(value);
          } catch (const std::exception&) {
            fail("malformed pax size at byte " + std::to_string(header_offset));
          }
          have_pax_size = true;
        }
        pos += length;
      }
      continue;
    }
    if (!pax_path.empty()) entry.name = pax_path;
    else if (!long_name.empty()) entry.name = long_name;
    if (!pax_link.empty()) entry.link_name = pax_link;
    else if (!long_link.empty()) entry.link_name = long_link;
    if (have_pax_size) entry.size = pax_size;
    // Only regular files carry data (GNU tar stores a size for some others; skip it all the same).
    const bool has_data = entry.is_regular() || (entry.type != '1' && entry.type != '2' && entry.type != '5' &&
                                                 entry.type != '3' && entry.type != '4' && entry.type != '6');
    remaining_ = has_data ? entry.size : 0;
    padding_ = has_data ? round_up(entry.size) - entry.size : 0;
    current_ = entry.name;
    return true;
  }
}

size_t TarGzReader::read(char* buffer, size_t size) {
  const auto take = static_cast<size_t>(std::min<uint64_t>(size, remaining_));
  if (take == 0) return 0;
  read_exact(buffer, take, "member data");
  remaining_ -= take;
  return take;
}

std::vector<std::string> extract_tar_gz(const std::string& archive, const std::string& destination) {
  TarGzReader reader(archive);
  std::vector<std::string> written;
  std::error_code error;
  fs::create_directories(destination, error);
  if (error) throw DataError(destination + ": cannot create directory (" + error.message() + ")");
  TarEntry entry;
  std::vector<char> buffer(1 << 16);
  while (reader.next(entry)) {
    if (!entry.is_regular() && !entry.is_directory()) continue;
    const fs::path relative = fs::path(entry.name).lexically_normal();
    bool unsafe = relative.is_absolute();
    for (const auto& part : relative) unsafe = unsafe || part == "..";
    if (unsafe) throw DataError(archive + ": unsafe member path \"" + entry.name + "\"");
    if (relative.empty() || relative == ".") continue;
    const fs::path target = fs::path(destination) / relative;
    if (entry.is_directory()) {
      fs::create_directories(target, error);
      if (error) throw DataError(target.string() + ": cannot create directory (" + error.message() + ")");
      continue;
    }
    fs::create_directories(target.parent_path(), error);
    if (error) throw DataError(target.parent_path().string() + ": cannot create directory (" + error.message() + ")");
    std::unique_ptr<FILE, int (*)(FILE*)> out(std::fopen(target.c_str(), "wb"), &std::fclose);
    if (!out) throw DataError(target.string() + ": cannot write (" + std::strerror(errno) + ")");
    size_t got;
    while ((got = reader.read(buffer.data(), buffer.size())) > 0) {
      if (std::fwrite(buffer.data(), 1, got, out.get()) != got) {
        throw DataError(target.string() + ": write failed (" + std::strerror(errno) + ")");
      }
    }
    // Durable before the caller renames it into place.
    if (std::fflush(out.get()) != 0 || ::fsync(::fileno(out.get())) != 0 || std::fclose(out.release()) != 0) {
      throw DataError(target.string() + ": write failed (" + std::strerror(errno) + ")");
    }
    written.push_back(relative.generic_string());
  }
  return written;
}

}  // namespace isda::data
