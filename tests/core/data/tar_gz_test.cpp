#include "data/data_error.h"
#include "core/data/data_error_of.h"
#include "data/tar_gz.h"
#include "support/idx_files.h"  // ScratchDir
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

namespace isda::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::StartsWith;

std::string read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& path, const std::string& bytes) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << bytes;
}

// A tree with nested folders, an empty file, a file over one block, a path over 100 characters.
std::map<std::string, std::string> sample_tree() {
  std::string big;
  for (int i = 0; i < 70000; ++i) big += static_cast<char>((i * 7) & 0xff);
  const std::string long_name = "top/" + std::string(60, 'n') + "/" + std::string(60, 'm') + ".bin";
  return {{"top/a.txt", "alpha\n"}, {"top/empty.bin", ""}, {"top/sub/big.bin", big}, {long_name, "long\n"}};
}

// `tar czf archive -C dir top` with the given --format.
std::string make_archive(const testing::ScratchDir& dir, const std::string& format) {
  for (const auto& [name, bytes] : sample_tree()) write_all(dir.path() / "tree" / name, bytes);
  const auto archive = dir.file(format + ".tar.gz");
  const auto r = testing::run_process(
      {"/usr/bin/tar", "--format=" + format, "-czf", archive, "-C", (dir.path() / "tree").string(), "top"});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return archive;
}

// One ustar header block for `name`, `size` bytes of type `type` (a link to `link`), with a
// correct checksum.
std::string ustar_header(const std::string& name, size_t size, char type = '0', const std::string& link = "") {
  std::string h(512, '\0');
  std::memcpy(&h[0], name.data(), std::min<size_t>(name.size(), 100));
  std::memcpy(&h[157], link.data(), std::min<size_t>(link.size(), 100));
  std::snprintf(&h[100], 8, "%07o", 0644);
  std::snprintf(&h[108], 8, "%07o", 0);
  std::snprintf(&h[116], 8, "%07o", 0);
  std::snprintf(&h[124], 12, "%011zo", size);
  std::snprintf(&h[136], 12, "%011o", 0);
  h[156] = type;
  std::memcpy(&h[257], "ustar\0" "00", 8);
  std::memset(&h[148], ' ', 8);
  unsigned sum = 0;
  for (const char c : h) sum += static_cast<unsigned char>(c);
  std::snprintf(&h[148], 8, "%06o", sum);
  return h;
}

std::string member(const std::string& name, const std::string& data) {
  std::string out = ustar_header(name, data.size()) + data;
  out.resize((out.size() + 511) / 512 * 512, '\0');
  return out;
}

void write_gzip(const std::string& path, const std::string& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr);
  ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  gzclose(file);
}

TEST(TarGzTest, ReadsWhatGnuTarWritesInEachFormat) {
  for (const std::string format : {"gnu", "ustar", "pax"}) {
    testing::ScratchDir dir;
    const auto archive = make_archive(dir, format);
    const auto out = dir.path() / "out";
    auto written = extract_tar_gz(archive, out.string());
    const auto tree = sample_tree();
    EXPECT_EQ(written.size(), tree.size()) << format;
    for (const auto& [name, bytes] : tree) {
      EXPECT_EQ(read_all(out / name), bytes) << format << ": " << name;
    }
  }
}

TEST(TarGzTest, ListsEntriesWithTypesAndSizes) {
  testing::ScratchDir dir;
  const auto archive = make_archive(dir, "gnu");
  TarGzReader reader(archive);
  TarEntry entry;
  std::map<std::string, TarEntry> entries;
  while (reader.next(entry)) entries[entry.name] = entry;
  ASSERT_EQ(entries.count("top/"), 1u);
  EXPECT_TRUE(entries["top/"].is_directory());
  EXPECT_TRUE(entries["top/sub/big.bin"].is_regular());
  EXPECT_EQ(entries["top/sub/big.bin"].size, 70000u);
  EXPECT_EQ(entries.count("top/" + std::string(60, 'n') + "/" + std::string(60, 'm') + ".bin"), 1u);  // GNU long name
}

TEST(TarGzTest, ATruncatedArchiveIsOneLineNamingIt) {
  testing::ScratchDir dir;
  const auto archive = make_archive(dir, "gnu");
  const auto bytes = read_all(archive);
  // Inside the data, inside the gzip trailer (which libarchive reports without a reason), at the start.
  for (const size_t size : {bytes.size() / 2, bytes.size() - 9, bytes.size() - 4, size_t{20}}) {
    const auto cut = dir.file("cut.tar.gz");
    write_all(cut, bytes.substr(0, size));
    const auto message = data_error_of([&] { extract_tar_gz(cut, dir.file("out")); });
    EXPECT_THAT(message, StartsWith(cut + ": unreadable ")) << size;
    EXPECT_THAT(message, HasSubstr("truncated")) << size;
  }
}

TEST(TarGzTest, ABadHeaderChecksumIsOneLineNamingIt) {
  testing::ScratchDir dir;
  auto tar = member("top/a.txt", "alpha\n") + member("top/b.txt", "beta\n") + std::string(1024, '\0');
  tar[512 + 512 + 3] ^= 0x20;  // a letter of the second header's name
  const auto archive = dir.file("bad.tar.gz");
  write_gzip(archive, tar);
  const auto message = data_error_of([&] { extract_tar_gz(archive, dir.file("out")); });
  EXPECT_EQ(message, archive + ": unreadable tar archive after member \"top/a.txt\" (damaged tar archive)");
  EXPECT_FALSE(fs::exists(dir.path() / "out" / "top" / "b.txt"));
}

TEST(TarGzTest, CorruptGzipIsOneLineNamingIt) {
  testing::ScratchDir dir;
  const auto archive = make_archive(dir, "gnu");
  auto bytes = read_all(archive);
  for (size_t i = bytes.size() / 3; i < bytes.size() / 3 + 64; ++i) bytes[i] = static_cast<char>(~bytes[i]);
  const auto corrupt = dir.file("corrupt.tar.gz");
  write_all(corrupt, bytes);
  const auto message = data_error_of([&] { extract_tar_gz(corrupt, dir.file("out")); });
  EXPECT_THAT(message, StartsWith(corrupt + ": unreadable "));

  const auto plain = dir.file("plain.tar.gz");  // a tar, not gzip-compressed
  write_all(plain, member("a", "x") + std::string(1024, '\0'));
  EXPECT_EQ(data_error_of([&] { extract_tar_gz(plain, dir.file("out")); }),
            plain + ": not gzip-compressed data (expected a .tar.gz)");
  const auto text = dir.file("text.tar.gz");
  write_all(text, "hello\n");
  EXPECT_EQ(data_error_of([&] { extract_tar_gz(text, dir.file("out")); }),
            text + ": not gzip-compressed data (expected a .tar.gz)");
  const auto not_tar = dir.file("not-tar.tar.gz");  // gzip, but not a tar inside
  write_gzip(not_tar, std::string(2000, 'x'));
  EXPECT_THAT(data_error_of([&] { extract_tar_gz(not_tar, dir.file("out")); }), StartsWith(not_tar + ": unreadable "));
  EXPECT_THAT(data_error_of([&] { extract_tar_gz(dir.file("absent.tar.gz"), dir.file("out")); }),
              StartsWith(dir.file("absent.tar.gz") + ": cannot open"));
  EXPECT_EQ(data_error_of([&] { extract_tar_gz(dir.path().string(), dir.file("out")); }),
            dir.path().string() + ": is a directory, not a .tar.gz");
}

TEST(TarGzTest, RefusesMemberPathsOutsideTheDestination) {
  testing::ScratchDir dir;
  for (const std::string name : {"../escape.txt", "/etc/escape.txt", "top/../../escape.txt"}) {
    const auto archive = dir.file("unsafe.tar.gz");
    write_gzip(archive, member(name, "x") + std::string(1024, '\0'));
    EXPECT_EQ(data_error_of([&] { extract_tar_gz(archive, dir.file("out")); }),
              archive + ": unsafe member path \"" + name + "\"");
  }
  EXPECT_FALSE(fs::exists(dir.path() / "escape.txt"));
}

// Links are never created, so nothing later in the archive can be written through one; a link the
// destination already holds is not followed either.
TEST(TarGzTest, LinksAreSkippedAndNeverFollowed) {
  testing::ScratchDir dir;
  const auto outside = dir.path() / "outside";
  fs::create_directories(outside);
  const auto archive = dir.file("links.tar.gz");
  write_gzip(archive, ustar_header("top/link", 0, '2', outside.string()) +   // symlink out of the tree
                          ustar_header("top/up", 0, '2', "../..") +           // relative, upwards
                          ustar_header("top/hard", 0, '1', "/etc/passwd") +   // hard link to a system file
                          member("top/link/x.txt", "x\n") + member("top/up/y.txt", "y\n") +
                          member("top/a.txt", "alpha\n") + std::string(1024, '\0'));
  const auto out = dir.path() / "out";
  const auto written = extract_tar_gz(archive, out.string());
  EXPECT_EQ(written, (std::vector<std::string>{"top/link/x.txt", "top/up/y.txt", "top/a.txt"}));
  EXPECT_FALSE(fs::is_symlink(out / "top" / "link"));
  EXPECT_FALSE(fs::is_symlink(out / "top" / "up"));
  EXPECT_FALSE(fs::exists(fs::symlink_status(out / "top" / "hard")));
  EXPECT_EQ(read_all(out / "top" / "link" / "x.txt"), "x\n");
  EXPECT_TRUE(fs::is_empty(outside));
  EXPECT_FALSE(fs::exists(dir.path() / "y.txt"));

  // A destination that already holds a link, as a folder on the way or at a file's own name.
  const auto linked = dir.path() / "linked";
  fs::create_directories(linked);
  fs::create_directory_symlink(outside, linked / "top");
  EXPECT_EQ(data_error_of([&] { extract_tar_gz(archive, linked.string()); }),
            archive + ": member path \"top/link/x.txt\" goes through the symbolic link " + (linked / "top").string());
  fs::remove(linked / "top");
  fs::create_directories(linked / "top");
  fs::create_symlink(outside / "a.txt", linked / "top" / "a.txt");
  EXPECT_EQ(data_error_of([&] { extract_tar_gz(archive, linked.string()); }),
            archive + ": member path \"top/a.txt\" is the symbolic link " + (linked / "top" / "a.txt").string());
  EXPECT_TRUE(fs::is_empty(outside));
}

TEST(TarGzTest, ListsLinksWithTheirTargets) {
  testing::ScratchDir dir;
  const auto archive = dir.file("links.tar.gz");
  write_gzip(archive, ustar_header("s", 0, '2', "target") + ustar_header("h", 0, '1', "a.txt") + std::string(1024, '\0'));
  TarGzReader reader(archive);
  TarEntry entry;
  ASSERT_TRUE(reader.next(entry));
  EXPECT_EQ(entry.type, '2');
  EXPECT_EQ(entry.link_name, "target");
  ASSERT_TRUE(reader.next(entry));
  EXPECT_EQ(entry.type, '1');
  EXPECT_EQ(entry.link_name, "a.txt");
  EXPECT_FALSE(reader.next(entry));
}

}  // namespace
}  // namespace isda::data
