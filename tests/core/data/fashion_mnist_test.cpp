#include "data/fashion_mnist.h"
#include "core/data/data_error_of.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace isda::data {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

using Bytes = std::vector<unsigned char>;

constexpr const char* kInstallCommand = "apt-get install dataset-fashion-mnist";

void append_u32(Bytes& out, uint32_t value) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<unsigned char>(value >> shift));
}

// An IDX file whose header says `count` records of rows x cols, followed by `pixels` as given, so
// that tests can make the header and the data disagree.
Bytes idx_images(uint32_t count, uint32_t rows, uint32_t cols, const Bytes& pixels, uint32_t magic = 0x00000803) {
  Bytes out;
  append_u32(out, magic);
  append_u32(out, count);
  append_u32(out, rows);
  append_u32(out, cols);
  out.insert(out.end(), pixels.begin(), pixels.end());
  return out;
}

Bytes idx_labels(uint32_t count, const Bytes& labels) {
  Bytes out;
  append_u32(out, 0x00000801);
  append_u32(out, count);
  out.insert(out.end(), labels.begin(), labels.end());
  return out;
}

// Distinct-looking bytes so that a reader that mixes up records or positions is caught.
Bytes pattern_pixels(int64_t count, int64_t rows, int64_t cols) {
  Bytes pixels;
  for (int64_t record = 0; record < count; ++record) {
    for (int64_t i = 0; i < rows * cols; ++i) pixels.push_back(static_cast<unsigned char>((record * 31 + i * 7) & 0xff));
  }
  return pixels;
}

void write_gz(const std::string& path, const Bytes& bytes) {
  gzFile file = gzopen(path.c_str(), "wb");
  ASSERT_NE(file, nullptr) << path;
  if (!bytes.empty()) {
    ASSERT_EQ(gzwrite(file, bytes.data(), static_cast<unsigned>(bytes.size())), static_cast<int>(bytes.size()));
  }
  ASSERT_EQ(gzclose(file), Z_OK);
}

void write_raw(const std::string& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

Bytes read_raw(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

torch::Tensor as_tensor(const Bytes& bytes) {
  return torch::tensor(std::vector<int64_t>(bytes.begin(), bytes.end()), torch::kInt64);
}

class FashionMnistTest : public ::testing::Test {
 protected:
  void SetUp() override {
    static std::atomic<int> next_id{0};
    std::random_device random;
    // pid + counter + random: unique across parallel ctest runs and repeated tests alike.
    for (;;) {
      dir_ = fs::temp_directory_path() / ("isda_fashion_mnist_test_" + std::to_string(getpid()) + "_" +
                                          std::to_string(next_id++) + "_" + std::to_string(random()));
      if (fs::create_directory(dir_)) break;
    }
  }

  void TearDown() override {
    std::error_code ignored;
    fs::remove_all(dir_, ignored);
  }

  std::string path(const std::string& name) const { return (dir_ / name).string(); }
  std::string root() const { return dir_.string(); }

  // A well-formed Fashion-MNIST split ("train" or "t10k") of the given labels under dir_.
  void write_split(const std::string& split, const Bytes& labels) {
    const auto count = static_cast<uint32_t>(labels.size());
    write_gz(path(split + "-images-idx3-ubyte.gz"), idx_images(count, 28, 28, pattern_pixels(count, 28, 28)));
    write_gz(path(split + "-labels-idx1-ubyte.gz"), idx_labels(count, labels));
  }

  fs::path dir_;
};

TEST_F(FashionMnistTest, ReadIdxImagesRoundTripsValuesAndShape) {
  write_gz(path("images.gz"), idx_images(3, 4, 5, pattern_pixels(3, 4, 5)));
  const torch::Tensor images = read_idx_images(path("images.gz"));
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{3, 1, 4, 5}));
  EXPECT_EQ(images.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(images.is_contiguous());
  EXPECT_TRUE(images.device().is_cpu());
  EXPECT_TRUE(torch::equal(images.flatten().to(torch::kInt64), as_tensor(pattern_pixels(3, 4, 5))));
  // Record 1, row 2, column 3 is flat position 1*20 + 2*5 + 3 of the pattern.
  EXPECT_EQ(images[1][0][2][3].item<int64_t>(), (1 * 31 + 13 * 7) & 0xff);
}

TEST_F(FashionMnistTest, ReadIdxImagesLimitKeepsTheFirstRecords) {
  write_gz(path("images.gz"), idx_images(3, 4, 5, pattern_pixels(3, 4, 5)));
  const torch::Tensor two = read_idx_images(path("images.gz"), 2);
  EXPECT_EQ(two.sizes(), (std::vector<int64_t>{2, 1, 4, 5}));
  EXPECT_TRUE(torch::equal(two.flatten().to(torch::kInt64), as_tensor(pattern_pixels(2, 4, 5))));
  EXPECT_EQ(read_idx_images(path("images.gz"), 10).size(0), 3);
  EXPECT_EQ(read_idx_images(path("images.gz"), -1).size(0), 3);
}

TEST_F(FashionMnistTest, ReadIdxImagesLimitReadsOnlyWhatItNeeds) {
  // The header promises 5 records but only 3 follow: fine as long as no more than 3 are asked for.
  write_gz(path("images.gz"), idx_images(5, 4, 5, pattern_pixels(3, 4, 5)));
  EXPECT_EQ(read_idx_images(path("images.gz"), 3).size(0), 3);
  EXPECT_THAT(data_error_of([&] { read_idx_images(path("images.gz"), 4); }),
              HasSubstr("header promises 5 records of 20 bytes, file ends after 3 records"));
}

TEST_F(FashionMnistTest, ReadIdxImagesAlsoReadsUncompressedFiles) {
  write_raw(path("images"), idx_images(2, 3, 3, pattern_pixels(2, 3, 3)));
  const torch::Tensor images = read_idx_images(path("images"));
  EXPECT_EQ(images.sizes(), (std::vector<int64_t>{2, 1, 3, 3}));
  EXPECT_TRUE(torch::equal(images.flatten().to(torch::kInt64), as_tensor(pattern_pixels(2, 3, 3))));
}

TEST_F(FashionMnistTest, ReadIdxLabelsRoundTripsValues) {
  const Bytes labels = {0, 9, 3, 5, 9};
  write_gz(path("labels.gz"), idx_labels(5, labels));
  const torch::Tensor read = read_idx_labels(path("labels.gz"), 10);
  EXPECT_EQ(read.scalar_type(), torch::kInt64);
  EXPECT_EQ(read.sizes(), (std::vector<int64_t>{5}));
  EXPECT_TRUE(torch::equal(read, as_tensor(labels)));
  EXPECT_TRUE(torch::equal(read_idx_labels(path("labels.gz"), 10, 2), as_tensor({0, 9})));
}

TEST_F(FashionMnistTest, ReadIdxLabelsRejectsNonPositiveClassCount) {
  write_gz(path("labels.gz"), idx_labels(1, {0}));
  EXPECT_THROW(read_idx_labels(path("labels.gz"), 0), std::invalid_argument);
}

TEST_F(FashionMnistTest, LoadFashionMnistReadsBothSplits) {
  write_split("train", {9, 0, 0, 3});
  write_split("t10k", {9, 2});

  const Dataset train = load_fashion_mnist(root(), /*train=*/true);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{4, 1, 28, 28}));
  EXPECT_EQ(train.images.scalar_type(), torch::kUInt8);
  EXPECT_TRUE(train.images.is_contiguous());
  EXPECT_TRUE(torch::equal(train.images.flatten().to(torch::kInt64), as_tensor(pattern_pixels(4, 28, 28))));
  EXPECT_EQ(train.labels.scalar_type(), torch::kInt64);
  EXPECT_TRUE(torch::equal(train.labels, as_tensor({9, 0, 0, 3})));

  const Dataset test = load_fashion_mnist(root(), /*train=*/false);
  EXPECT_EQ(test.images.size(0), 2);
  EXPECT_TRUE(torch::equal(test.labels, as_tensor({9, 2})));
}

TEST_F(FashionMnistTest, LoadFashionMnistLimitKeepsTheFirstRecords) {
  write_split("train", {9, 0, 0, 3});
  const Dataset train = load_fashion_mnist(root(), /*train=*/true, 3);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{3, 1, 28, 28}));
  EXPECT_TRUE(torch::equal(train.images.flatten().to(torch::kInt64), as_tensor(pattern_pixels(3, 28, 28))));
  EXPECT_TRUE(torch::equal(train.labels, as_tensor({9, 0, 0})));
}

TEST_F(FashionMnistTest, MissingFileIsNotFound) {
  const std::string missing = path("nothing-here.gz");
  const std::string message = data_error_of([&] { read_idx_images(missing); });
  EXPECT_THAT(message, HasSubstr(missing));
  EXPECT_THAT(message, HasSubstr("not found"));
  EXPECT_THAT(data_error_of([&] { read_idx_labels(missing, 10); }), HasSubstr("not found"));
}

TEST_F(FashionMnistTest, LoadFashionMnistMissingFileSaysHowToInstall) {
  const std::string message = data_error_of([&] { load_fashion_mnist(root(), true); });
  EXPECT_THAT(message, HasSubstr(path("train-images-idx3-ubyte.gz")));
  EXPECT_THAT(message, HasSubstr("file not found"));
  EXPECT_THAT(message, HasSubstr(kInstallCommand));
  EXPECT_THAT(message, HasSubstr("ISDA_FASHION_MNIST_DIR"));

  // With the images present, the labels file is the one named.
  write_gz(path("t10k-images-idx3-ubyte.gz"), idx_images(1, 28, 28, pattern_pixels(1, 28, 28)));
  const std::string labels_message = data_error_of([&] { load_fashion_mnist(root(), false); });
  EXPECT_THAT(labels_message, HasSubstr(path("t10k-labels-idx1-ubyte.gz")));
  EXPECT_THAT(labels_message, HasSubstr(kInstallCommand));
}

TEST_F(FashionMnistTest, LoadFashionMnistMissingRootSaysHowToInstall) {
  const std::string missing_root = path("no-such-dir");
  const std::string message = data_error_of([&] { load_fashion_mnist(missing_root, true); });
  EXPECT_THAT(message, HasSubstr(missing_root));
  EXPECT_THAT(message, HasSubstr("file not found"));
  EXPECT_THAT(message, HasSubstr(kInstallCommand));
}

TEST_F(FashionMnistTest, TruncatedImageFileSaysHowFarItGets) {
  Bytes pixels = pattern_pixels(3, 4, 5);
  pixels.resize(pixels.size() + 7, 0);  // part of a fourth record
  write_gz(path("images.gz"), idx_images(5, 4, 5, pixels));
  const std::string message = data_error_of([&] { read_idx_images(path("images.gz")); });
  EXPECT_THAT(message, HasSubstr(path("images.gz")));
  EXPECT_THAT(message, HasSubstr("truncated: header promises 5 records of 20 bytes, file ends after 3 records"));
}

TEST_F(FashionMnistTest, TruncatedLabelFileSaysHowFarItGets) {
  write_gz(path("labels.gz"), idx_labels(6, {1, 2, 3, 4}));
  const std::string message = data_error_of([&] { read_idx_labels(path("labels.gz"), 10); });
  EXPECT_THAT(message, HasSubstr(path("labels.gz")));
  EXPECT_THAT(message, HasSubstr("truncated: header promises 6 records of 1 bytes, file ends after 4 records"));
}

TEST_F(FashionMnistTest, TruncatedHeaderIsReported) {
  write_gz(path("images.gz"), {0x00, 0x00, 0x08, 0x03, 0x00, 0x00});
  const std::string message = data_error_of([&] { read_idx_images(path("images.gz")); });
  EXPECT_THAT(message, HasSubstr(path("images.gz")));
  EXPECT_THAT(message, HasSubstr("truncated"));
  EXPECT_THAT(message, HasSubstr("IDX header"));
}

TEST_F(FashionMnistTest, CutGzipStreamIsTruncated) {
  write_gz(path("whole.gz"), idx_images(50, 28, 28, pattern_pixels(50, 28, 28)));
  Bytes compressed = read_raw(path("whole.gz"));
  compressed.resize(compressed.size() / 2);
  write_raw(path("half.gz"), compressed);
  const std::string message = data_error_of([&] { read_idx_images(path("half.gz")); });
  EXPECT_THAT(message, HasSubstr(path("half.gz")));
  EXPECT_THAT(message, HasSubstr("truncated: header promises 50 records of 784 bytes"));
}

TEST_F(FashionMnistTest, BadMagicShowsExpectedAndFoundInHex) {
  write_gz(path("labels.gz"), idx_labels(2, {1, 2}));
  const std::string message = data_error_of([&] { read_idx_images(path("labels.gz")); });
  EXPECT_THAT(message, HasSubstr(path("labels.gz")));
  EXPECT_THAT(message, HasSubstr("bad magic number 0x00000801, expected 0x00000803"));

  write_gz(path("junk.gz"), idx_images(1, 1, 1, {7}, /*magic=*/0x12345678));
  EXPECT_THAT(data_error_of([&] { read_idx_labels(path("junk.gz"), 10); }),
              HasSubstr("bad magic number 0x12345678, expected 0x00000801"));
}

TEST_F(FashionMnistTest, ZeroRecordsAreAnError) {
  write_gz(path("images.gz"), idx_images(0, 28, 28, {}));
  const std::string message = data_error_of([&] { read_idx_images(path("images.gz")); });
  EXPECT_THAT(message, HasSubstr(path("images.gz")));
  EXPECT_THAT(message, HasSubstr("holds no records"));
  write_gz(path("labels.gz"), idx_labels(0, {}));
  EXPECT_THAT(data_error_of([&] { read_idx_labels(path("labels.gz"), 10); }), HasSubstr("holds no records"));
}

TEST_F(FashionMnistTest, ImplausibleDimensionsAreAnError) {
  write_gz(path("no-rows.gz"), idx_images(1, 0, 28, {}));
  const std::string message = data_error_of([&] { read_idx_images(path("no-rows.gz")); });
  EXPECT_THAT(message, HasSubstr(path("no-rows.gz")));
  EXPECT_THAT(message, HasSubstr("implausible record shape 0x28"));
  write_gz(path("wide.gz"), idx_images(1, 28, 5000, {}));
  EXPECT_THAT(data_error_of([&] { read_idx_images(path("wide.gz")); }), HasSubstr("implausible record shape 28x5000"));
}

TEST_F(FashionMnistTest, HugeRecordCountFailsWithoutHugeAllocation) {
  // 4 billion 4096x4096 records would be 72 PB; the error must come from the data, not from malloc.
  write_gz(path("images.gz"), idx_images(0xffffffffu, 4096, 4096, pattern_pixels(1, 4096, 4096)));
  EXPECT_THAT(data_error_of([&] { read_idx_images(path("images.gz")); }),
              HasSubstr("header promises 4294967295 records of 16777216 bytes, file ends after 1 records"));
}

TEST_F(FashionMnistTest, CorruptGzipBytesAreReported) {
  // A gzip header (magic 1f 8b, deflate, no flags) followed by a deflate block of reserved type 3.
  write_raw(path("images.gz"), {0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x03, 0xff, 0xff, 0x13, 0x37,
                                0xde, 0xad, 0xbe, 0xef, 0x00, 0x42});
  const std::string message = data_error_of([&] { read_idx_images(path("images.gz")); });
  EXPECT_THAT(message, HasSubstr(path("images.gz")));
  EXPECT_THAT(message, HasSubstr("gzip data is corrupt"));
  EXPECT_THAT(message, HasSubstr("invalid block type"));  // zlib's own words, via gzerror
}

TEST_F(FashionMnistTest, CorruptGzipChecksumIsReportedOnAFullRead) {
  write_gz(path("labels.gz"), idx_labels(4, {1, 2, 3, 4}));
  Bytes compressed = read_raw(path("labels.gz"));
  compressed[compressed.size() - 8] ^= 0xff;  // the trailer's CRC-32 comes 8 bytes from the end
  write_raw(path("labels.gz"), compressed);
  const std::string message = data_error_of([&] { read_idx_labels(path("labels.gz"), 10); });
  EXPECT_THAT(message, HasSubstr(path("labels.gz")));
  EXPECT_THAT(message, HasSubstr("gzip data is corrupt (incorrect data check)"));
}

TEST_F(FashionMnistTest, DataBeyondWhatTheHeaderPromisesIsAnError) {
  write_gz(path("labels.gz"), idx_labels(2, {1, 2, 3}));
  const std::string message = data_error_of([&] { read_idx_labels(path("labels.gz"), 10); });
  EXPECT_THAT(message, HasSubstr(path("labels.gz")));
  EXPECT_THAT(message, HasSubstr("more data than its header promises"));
  // A limit below the count never reaches the excess.
  EXPECT_TRUE(torch::equal(read_idx_labels(path("labels.gz"), 10, 1), as_tensor({1})));
}

TEST_F(FashionMnistTest, LabelOutOfRangeNamesTheRecord) {
  write_gz(path("labels.gz"), idx_labels(4, {1, 2, 10, 3}));
  const std::string message = data_error_of([&] { read_idx_labels(path("labels.gz"), 10); });
  EXPECT_THAT(message, HasSubstr(path("labels.gz")));
  EXPECT_THAT(message, HasSubstr("record 2 has label 10, outside [0, 10)"));
  EXPECT_THAT(data_error_of([&] { read_idx_labels(path("labels.gz"), 2); }),
              HasSubstr("record 1 has label 2, outside [0, 2)"));

  write_split("train", {0, 1, 2});
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_labels(3, {0, 1, 200}));
  EXPECT_THAT(data_error_of([&] { load_fashion_mnist(root(), true); }),
              HasSubstr("record 2 has label 200, outside [0, 10)"));
}

TEST_F(FashionMnistTest, CountMismatchNamesBothFilesAndCounts) {
  write_split("train", {0, 1, 2, 3});
  write_gz(path("train-labels-idx1-ubyte.gz"), idx_labels(3, {0, 1, 2}));
  const std::string message = data_error_of([&] { load_fashion_mnist(root(), true); });
  EXPECT_THAT(message, HasSubstr(path("train-images-idx3-ubyte.gz")));
  EXPECT_THAT(message, HasSubstr(path("train-labels-idx1-ubyte.gz")));
  EXPECT_THAT(message, HasSubstr("4 images"));
  EXPECT_THAT(message, HasSubstr("3 labels"));
  // A limit does not hide the disagreement.
  EXPECT_THAT(data_error_of([&] { load_fashion_mnist(root(), true, 2); }), HasSubstr("3 labels"));
}

TEST_F(FashionMnistTest, WrongImageSizeIsRejectedByLoadFashionMnist) {
  write_gz(path("t10k-images-idx3-ubyte.gz"), idx_images(2, 27, 28, pattern_pixels(2, 27, 28)));
  write_gz(path("t10k-labels-idx1-ubyte.gz"), idx_labels(2, {0, 1}));
  const std::string message = data_error_of([&] { load_fashion_mnist(root(), false); });
  EXPECT_THAT(message, HasSubstr(path("t10k-images-idx3-ubyte.gz")));
  EXPECT_THAT(message, HasSubstr("images are 27x28"));
  EXPECT_THAT(message, HasSubstr("28x28"));
  // The generic reader takes any plausible size.
  EXPECT_EQ(read_idx_images(path("t10k-images-idx3-ubyte.gz")).sizes(), (std::vector<int64_t>{2, 1, 27, 28}));
}

// Restores ISDA_FASHION_MNIST_DIR however the test ends, so other tests see the caller's value.
class ScopedRootEnv {
 public:
  ScopedRootEnv() {
    if (const char* value = std::getenv(kName)) saved_ = value;
  }
  ~ScopedRootEnv() {
    if (saved_) {
      setenv(kName, saved_->c_str(), 1);
    } else {
      unsetenv(kName);
    }
  }
  static constexpr const char* kName = "ISDA_FASHION_MNIST_DIR";

 private:
  std::optional<std::string> saved_;
};

TEST(FashionMnistRoot, HonoursTheEnvironmentVariable) {
  const ScopedRootEnv restore;
  ASSERT_EQ(setenv(ScopedRootEnv::kName, "/somewhere/else", 1), 0);
  EXPECT_EQ(default_fashion_mnist_root(), "/somewhere/else");
  ASSERT_EQ(setenv(ScopedRootEnv::kName, "", 1), 0);
  EXPECT_EQ(default_fashion_mnist_root(), "/usr/share/datasets/fashion-mnist");
  ASSERT_EQ(unsetenv(ScopedRootEnv::kName), 0);
  EXPECT_EQ(default_fashion_mnist_root(), "/usr/share/datasets/fashion-mnist");
}

TEST(FashionMnistRealData, MatchesThePublishedSplits) {
  const std::string root = default_fashion_mnist_root();
  if (!fs::exists(fs::path(root) / "train-images-idx3-ubyte.gz") ||
      !fs::exists(fs::path(root) / "t10k-images-idx3-ubyte.gz")) {
    GTEST_SKIP() << "Fashion-MNIST not found under " << root << " (" << kInstallCommand
                 << " or set ISDA_FASHION_MNIST_DIR)";
  }

  const Dataset train = load_fashion_mnist(root, /*train=*/true);
  EXPECT_EQ(train.num_classes, 10);
  EXPECT_EQ(train.images.sizes(), (std::vector<int64_t>{60000, 1, 28, 28}));
  ASSERT_EQ(train.labels.sizes(), (std::vector<int64_t>{60000}));
  EXPECT_EQ(train.labels[0].item<int64_t>(), 9);  // Ankle boot
  EXPECT_GE(train.labels.min().item<int64_t>(), 0);
  EXPECT_LT(train.labels.max().item<int64_t>(), 10);
  EXPECT_TRUE(torch::equal(torch::bincount(train.labels, {}, 10), torch::full({10}, 6000, torch::kInt64)));
  EXPECT_GT(train.images.max().item<int64_t>(), 0);

  const Dataset test = load_fashion_mnist(root, /*train=*/false);
  EXPECT_EQ(test.images.sizes(), (std::vector<int64_t>{10000, 1, 28, 28}));
  ASSERT_EQ(test.labels.sizes(), (std::vector<int64_t>{10000}));
  EXPECT_EQ(test.labels[0].item<int64_t>(), 9);  // Ankle boot
  EXPECT_GE(test.labels.min().item<int64_t>(), 0);
  EXPECT_LT(test.labels.max().item<int64_t>(), 10);
  EXPECT_TRUE(torch::equal(torch::bincount(test.labels, {}, 10), torch::full({10}, 1000, torch::kInt64)));

  // The limited read returns exactly the leading records of the full one.
  const Dataset head = load_fashion_mnist(root, /*train=*/true, 100);
  EXPECT_TRUE(torch::equal(head.images, train.images.slice(0, 0, 100)));
  EXPECT_TRUE(torch::equal(head.labels, train.labels.slice(0, 0, 100)));
}

}  // namespace
}  // namespace isda::data
