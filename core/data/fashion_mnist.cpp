#include "data/fashion_mnist.h"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <limits>
#include <system_error>
#include <utility>
#include <vector>

namespace isda::data {
namespace {

namespace fs = std::filesystem;

// IDX magic: two zero bytes, a type code (0x08: unsigned byte), the number of dimensions.
constexpr uint32_t kImagesMagic = 0x00000803;
constexpr uint32_t kLabelsMagic = 0x00000801;
constexpr int64_t kMaxImageSide = 4096;
constexpr int64_t kFashionMnistSide = 28;
constexpr int64_t kFashionMnistClasses = 10;
constexpr const char* kDefaultRoot = "/usr/share/datasets/fashion-mnist";
constexpr const char* kRootEnvVar = "ISDA_FASHION_MNIST_DIR";
constexpr const char* kInstallHint =
    "install Fashion-MNIST with `sudo apt-get install dataset-fashion-mnist` or set ISDA_FASHION_MNIST_DIR";
// Deflate expands at most 1032-fold, so a gzip file of S bytes holds under 2048 * S bytes of data.
// Bounding the allocation by that keeps a corrupt record count from asking for terabytes.
constexpr int64_t kMaxGzipExpansion = 2048;
constexpr unsigned kGzBufferBytes = 1u << 17;   // zlib's 8 KiB default costs ~10% on the train set
constexpr int64_t kMaxGzReadBytes = 1ll << 30;  // gzread returns an int

[[noreturn]] void fail(const std::string& path, const std::string& what) {
  throw DataError(path + ": " + what);
}

std::string hex32(uint32_t value) {
  char text[16];
  std::snprintf(text, sizeof text, "0x%08x", static_cast<unsigned>(value));
  return text;
}

uint32_t big_endian_u32(const unsigned char* bytes) {
  return (uint32_t{bytes[0]} << 24) | (uint32_t{bytes[1]} << 16) | (uint32_t{bytes[2]} << 8) | uint32_t{bytes[3]};
}

// Owns a gzFile; reports every zlib failure as a DataError naming the file.
class GzFile {
 public:
  explicit GzFile(std::string path) : path_(std::move(path)) {
    errno = 0;
    file_ = gzopen(path_.c_str(), "rb");
    if (file_ == nullptr) {
      if (errno == ENOENT) fail(path_, "file not found");
      fail(path_, std::string("cannot open (") + (errno != 0 ? std::strerror(errno) : "out of memory") + ")");
    }
    gzbuffer(file_, kGzBufferBytes);
  }
  GzFile(const GzFile&) = delete;
  GzFile& operator=(const GzFile&) = delete;
  ~GzFile() { gzclose(file_); }

  const std::string& path() const { return path_; }

  // Reads up to `bytes` bytes into `dst`; fewer only where the data ends.
  int64_t read(void* dst, int64_t bytes) {
    auto* out = static_cast<unsigned char*>(dst);
    int64_t done = 0;
    while (done < bytes) {
      const auto chunk = static_cast<unsigned>(std::min(bytes - done, kMaxGzReadBytes));
      const int got = gzread(file_, out + done, chunk);
      if (got < 0) fail_read();
      if (got == 0) break;
      done += got;
    }
    return done;
  }

  // After a short read: whether a gzip stream stopped mid-way rather than at its proper end.
  bool cut_short() const {
    int errnum = Z_OK;
    gzerror(file_, &errnum);
    return errnum == Z_BUF_ERROR;
  }

  // Whether the file is read as-is (not gzip); meaningful once something was read.
  bool direct() const { return gzdirect(file_) != 0; }

 private:
  [[noreturn]] void fail_read() const {
    int errnum = Z_OK;
    const char* message = gzerror(file_, &errnum);
    std::string text = message != nullptr ? message : "";
    // zlib prefixes its message with the path, which ours already leads with.
    const std::string prefix = path_ + ": ";
    if (text.compare(0, prefix.size(), prefix) == 0) text.erase(0, prefix.size());
    if (errnum == Z_ERRNO) fail(path_, "read failed (" + text + ")");
    if (errnum == Z_MEM_ERROR) fail(path_, "zlib ran out of memory");
    fail(path_, "gzip data is corrupt (" + text + ")");
  }

  std::string path_;
  gzFile file_ = nullptr;
};

// An IDX file of unsigned bytes whose header has been read and checked; the records follow.
class IdxReader {
 public:
  IdxReader(const std::string& path, uint32_t expected_magic) : file_(path) {
    unsigned char magic_bytes[4];
    if (file_.read(magic_bytes, 4) < 4) fail(path, "truncated: file ends inside the IDX header");
    const uint32_t magic = big_endian_u32(magic_bytes);
    if (magic != expected_magic) {
      fail(path, "bad magic number " + hex32(magic) + ", expected " + hex32(expected_magic) +
                     " (IDX unsigned bytes, " + std::to_string(expected_magic & 0xff) + " dimensions)");
    }
    const auto rank = static_cast<int64_t>(magic & 0xff);
    std::vector<unsigned char> dim_bytes(static_cast<size_t>(4 * rank));
    if (file_.read(dim_bytes.data(), 4 * rank) < 4 * rank) fail(path, "truncated: file ends inside the IDX header");
    for (int64_t i = 0; i < rank; ++i) dims_.push_back(big_endian_u32(&dim_bytes[static_cast<size_t>(4 * i)]));
    header_bytes_ = 4 + 4 * rank;

    if (dims_[0] == 0) fail(path, "holds no records");
    record_bytes_ = 1;
    for (size_t i = 1; i < dims_.size(); ++i) {
      if (dims_[i] == 0 || dims_[i] > kMaxImageSide) {
        fail(path, "implausible record shape " + shape_text() + " (each side must be 1.." +
                       std::to_string(kMaxImageSide) + ")");
      }
      record_bytes_ *= dims_[i];
    }
  }

  const std::string& path() const { return file_.path(); }
  int64_t count() const { return dims_[0]; }
  int64_t dim(size_t i) const { return dims_[i]; }

  // The first min(limit, count) records (all for limit <= 0) as a flat uint8 tensor, read straight
  // into its buffer. Reading the whole file also checks that nothing follows the records and,
  // through the gzip trailer, that the data is intact.
  torch::Tensor read_records(int64_t limit) {
    const int64_t wanted = limit > 0 ? std::min(limit, count()) : count();
    const int64_t wanted_bytes = wanted * record_bytes_;
    const int64_t capacity = std::min(wanted, max_payload_bytes() / record_bytes_);
    torch::Tensor flat = torch::empty({capacity * record_bytes_}, torch::kUInt8);
    const int64_t got = file_.read(flat.data_ptr<uint8_t>(), flat.numel());
    if (got < wanted_bytes) {
      fail(path(), "truncated: header promises " + std::to_string(count()) + " records of " +
                       std::to_string(record_bytes_) + " bytes, file ends after " +
                       std::to_string(got / record_bytes_) + " records" +
                       (file_.cut_short() ? " (the gzip stream is cut short)" : ""));
    }
    if (wanted == count()) {
      unsigned char extra = 0;
      if (file_.read(&extra, 1) > 0) {
        fail(path(), "holds more data than its header promises (" + std::to_string(count()) + " records of " +
                         std::to_string(record_bytes_) + " bytes)");
      }
    }
    return flat;
  }

 private:
  std::string shape_text() const {
    std::string text;
    for (size_t i = 1; i < dims_.size(); ++i) text += (i > 1 ? "x" : "") + std::to_string(dims_[i]);
    return text;
  }

  // An upper bound on the record bytes the file can hold; no bound when its size is unknown.
  int64_t max_payload_bytes() const {
    std::error_code error;
    const auto size = fs::file_size(path(), error);
    constexpr int64_t kUnbounded = std::numeric_limits<int64_t>::max();
    if (error || size > static_cast<uintmax_t>(kUnbounded / kMaxGzipExpansion)) return kUnbounded;
    const auto file_bytes = static_cast<int64_t>(size);
    return file_.direct() ? file_bytes - header_bytes_ : file_bytes * kMaxGzipExpansion;
  }

  GzFile file_;
  std::vector<int64_t> dims_;  // dims_[0] is the record count
  int64_t header_bytes_ = 0;
  int64_t record_bytes_ = 1;
};

torch::Tensor checked_labels(const std::string& path, const torch::Tensor& raw, int64_t num_classes) {
  const uint8_t* values = raw.data_ptr<uint8_t>();
  for (int64_t i = 0; i < raw.numel(); ++i) {
    if (values[i] >= num_classes) {
      fail(path, "record " + std::to_string(i) + " has label " + std::to_string(values[i]) + ", outside [0, " +
                     std::to_string(num_classes) + ")");
    }
  }
  return raw.to(torch::kInt64);
}

void check_num_classes(int64_t num_classes) {
  if (num_classes < 1) throw std::invalid_argument("num_classes must be >= 1, got " + std::to_string(num_classes));
}

void require_file(const std::string& root, const std::string& path) {
  std::error_code error;
  if (fs::exists(path, error)) return;
  if (!fs::is_directory(root, error)) {
    fail(path, "file not found (directory " + root + " does not exist); " + kInstallHint);
  }
  fail(path, std::string("file not found; ") + kInstallHint);
}

}  // namespace

std::string default_fashion_mnist_root() {
  const char* from_env = std::getenv(kRootEnvVar);
  return from_env != nullptr && from_env[0] != '\0' ? from_env : kDefaultRoot;
}

Dataset load_fashion_mnist(const std::string& root, bool train, int64_t limit) {
  const std::string split = train ? "train" : "t10k";
  const std::string images_path = (fs::path(root) / (split + "-images-idx3-ubyte.gz")).string();
  const std::string labels_path = (fs::path(root) / (split + "-labels-idx1-ubyte.gz")).string();
  require_file(root, images_path);
  require_file(root, labels_path);

  // Both headers are checked before any records are read, so a mismatch costs no decompression.
  IdxReader images(images_path, kImagesMagic);
  if (images.dim(1) != kFashionMnistSide || images.dim(2) != kFashionMnistSide) {
    fail(images_path, "images are " + std::to_string(images.dim(1)) + "x" + std::to_string(images.dim(2)) +
                          ", Fashion-MNIST's are 28x28");
  }
  IdxReader labels(labels_path, kLabelsMagic);
  if (images.count() != labels.count()) {
    throw DataError(images_path + " holds " + std::to_string(images.count()) + " images but " + labels_path +
                    " holds " + std::to_string(labels.count()) + " labels");
  }

  Dataset dataset;
  torch::Tensor pixels = images.read_records(limit);
  const int64_t n = pixels.numel() / (kFashionMnistSide * kFashionMnistSide);
  dataset.images = pixels.view({n, 1, kFashionMnistSide, kFashionMnistSide});
  dataset.labels = checked_labels(labels_path, labels.read_records(limit), kFashionMnistClasses);
  dataset.num_classes = kFashionMnistClasses;
  return dataset;
}

torch::Tensor read_idx_images(const std::string& path, int64_t limit) {
  IdxReader reader(path, kImagesMagic);
  torch::Tensor pixels = reader.read_records(limit);
  const int64_t rows = reader.dim(1);
  const int64_t cols = reader.dim(2);
  return pixels.view({pixels.numel() / (rows * cols), 1, rows, cols});
}

torch::Tensor read_idx_labels(const std::string& path, int64_t num_classes, int64_t limit) {
  check_num_classes(num_classes);
  IdxReader reader(path, kLabelsMagic);
  return checked_labels(path, reader.read_records(limit), num_classes);
}

}  // namespace isda::data
