#include "data/data_error.h"
#include "data/md5.h"
#include "support/idx_files.h"  // ScratchDir

#include <gtest/gtest.h>

#include <fstream>
#include <string>
#include <utility>
#include <vector>

namespace isda::data {
namespace {

std::string md5_of(const std::string& text) {
  Md5 md5;
  md5.update(text);
  return md5.hex_digest();
}

// RFC 1321, appendix A.5.
const std::vector<std::pair<std::string, std::string>> kRfc1321 = {
    {"", "d41d8cd98f00b204e9800998ecf8427e"},
    {"a", "0cc175b9c0f1b6a831c399e269772661"},
    {"abc", "900150983cd24fb0d6963f7d28e17f72"},
    {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
    {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
    {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", "d174ab98d277d9f5a5611c2c9f419d9f"},
    {"12345678901234567890123456789012345678901234567890123456789012345678901234567890",
     "57edf4a22be3c955ac49da2e2107b67a"},
};

TEST(Md5Test, MatchesTheRfc1321TestSuite) {
  for (const auto& [text, digest] : kRfc1321) EXPECT_EQ(md5_of(text), digest) << '"' << text << '"';
}

TEST(Md5Test, PiecewiseUpdatesEqualOneUpdate) {
  std::string text;
  for (int i = 0; i < 1000; ++i) text += static_cast<char>((i * 131) & 0xff);
  const std::string whole = md5_of(text);
  for (const size_t split : {0, 1, 55, 56, 63, 64, 65, 127, 128, 500, 999}) {
    Md5 md5;
    md5.update(text.data(), split);
    md5.update(text.data() + split, text.size() - split);
    EXPECT_EQ(md5.hex_digest(), whole) << split;
  }
  Md5 bytewise;
  for (const char c : text) bytewise.update(&c, 1);
  EXPECT_EQ(bytewise.hex_digest(), whole);
}

TEST(Md5Test, HashesFilesAndNamesAMissingOne) {
  testing::ScratchDir dir;
  std::ofstream(dir.file("m.txt"), std::ios::binary) << "message digest";
  EXPECT_EQ(md5_file(dir.file("m.txt")), "f96b697d7cb7938d525a2f31aaf161d0");
  try {
    md5_file(dir.file("absent.bin"));
    ADD_FAILURE();
  } catch (const DataError& e) {
    EXPECT_EQ(std::string(e.what()).rfind(dir.file("absent.bin") + ": cannot open", 0), 0u) << e.what();
  }
}

}  // namespace
}  // namespace isda::data
