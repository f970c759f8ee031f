#include "data/cifar.h"

#include <torch/torch.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <system_error>

namespace isda::data {
namespace {

namespace fs = std::filesystem;

constexpr int64_t kSide = 32;
constexpr int64_t kChannels = 3;
constexpr int64_t kPixelBytes = kChannels * kSide * kSide;  // 3072
constexpr const char* kCifar10Dir = "cifar-10-batches-bin";
constexpr const char* kCifar100Dir = "cifar-100-binary";
constexpr const char* kCifar10TestFile = "test_batch.bin";

[[noreturn]] void fail(const std::string& path, const std::string& what) { throw DataError(path + ": " + what); }

bool is_file(const fs::path& path) {
  std::error_code error;
  return fs::is_regular_file(path, error);
}

std::vector<std::string> cifar10_train_files() {
  std::vector<std::string> names;
  for (int i = 1; i <= 5; ++i) names.push_back("data_batch_" + std::to_string(i) + ".bin");
  return names;
}

std::string resolve_dir(const std::string& root, const char* subdir, const std::vector<std::string>& names) {
  for (const auto& name : names) {
    if (is_file(fs::path(root) / name)) return root;
  }
  std::error_code error;
  const fs::path nested = fs::path(root) / subdir;
  if (fs::is_directory(nested, error)) return nested.string();
  return root;
}

// Throws one DataError naming every missing file of `names` under `dir`.
void require_files(const std::string& dir, const std::vector<std::string>& names, const std::string& what) {
  std::vector<std::string> missing;
  for (const auto& name : names) {
    if (!is_file(fs::path(dir) / name)) missing.push_back(name);
  }
  if (missing.empty()) return;
  std::string list;
  for (const auto& name : missing) list += (list.empty() ? "" : ", ") + name;
  std::error_code error;
  const std::string where = fs::is_directory(dir, error) ? dir : dir + " (directory does not exist)";
  throw DataError(where + ": missing " + what + " file" + (missing.size() > 1 ? "s " : " ") + list);
}

std::string cifar10_test_name(const std::string& dir, const std::string& test_file) {
  if (!test_file.empty()) return test_file;
  if (!is_file(fs::path(dir) / kCifar10TestFile) && is_file(fs::path(dir) / kCifar10TestPrefixFile)) {
    return kCifar10TestPrefixFile;
  }
  return kCifar10TestFile;
}

std::vector<std::string> joined(const std::string& dir, const std::vector<std::string>& names) {
  std::vector<std::string> paths;
  for (const auto& name : names) paths.push_back((fs::path(dir) / name).string());
  return paths;
}

}  // namespace

std::string resolve_cifar10_dir(const std::string& root) {
  auto names = cifar10_train_files();
  names.push_back(kCifar10TestFile);
  names.push_back(kCifar10TestPrefixFile);
  return resolve_dir(root, kCifar10Dir, names);
}

std::string resolve_cifar100_dir(const std::string& root) { return resolve_dir(root, kCifar100Dir, {"train.bin", "test.bin"}); }

bool cifar10_test_present(const std::string& root, const std::string& test_file) {
  const std::string dir = resolve_cifar10_dir(root);
  return is_file(fs::path(dir) / cifar10_test_name(dir, test_file));
}

bool cifar100_test_present(const std::string& root) { return is_file(fs::path(resolve_cifar100_dir(root)) / "test.bin"); }

Dataset read_cifar_records(const std::vector<std::string>& paths, int64_t label_bytes, int64_t label_offset,
                           int64_t num_classes, int64_t limit) {
  const int64_t record_bytes = label_bytes + kPixelBytes;
  // Sizes first, so that a malformed file is reported before anything is read.
  std::vector<int64_t> counts;
  int64_t total = 0;
  for (const auto& path : paths) {
    std::error_code error;
    const auto size = fs::file_size(path, error);
    if (error) fail(path, "cannot read size (" + error.message() + ")");
    const auto bytes = static_cast<int64_t>(size);
    if (bytes == 0) fail(path, "is empty");
    if (bytes % record_bytes != 0) {
      fail(path, "size " + std::to_string(bytes) + " is not a whole number of " + std::to_string(record_bytes) +
                     "-byte records (truncated record after " + std::to_string(bytes / record_bytes) + " records)");
    }
    counts.push_back(bytes / record_bytes);
    total += bytes / record_bytes;
  }
  const int64_t wanted = limit > 0 ? std::min(limit, total) : total;
  torch::Tensor images = torch::empty({wanted, kChannels, kSide, kSide}, torch::kUInt8);
  torch::Tensor labels = torch::empty({wanted}, torch::kInt64);
  uint8_t* image_data = images.data_ptr<uint8_t>();
  int64_t* label_data = labels.data_ptr<int64_t>();
  std::vector<unsigned char> buffer;
  int64_t done = 0;
  for (size_t f = 0; f < paths.size() && done < wanted; ++f) {
    const int64_t take = std::min(counts[f], wanted - done);
    buffer.resize(static_cast<size_t>(take * record_bytes));
    std::ifstream in(paths[f], std::ios::binary);
    if (!in) fail(paths[f], std::string("cannot open (") + std::strerror(errno) + ")");
    in.read(reinterpret_cast<char*>(buffer.data()), static_cast<std::streamsize>(buffer.size()));
    if (in.gcount() != static_cast<std::streamsize>(buffer.size())) fail(paths[f], "read failed (file shrank?)");
    for (int64_t r = 0; r < take; ++r) {
      const unsigned char* record = buffer.data() + r * record_bytes;
      const int64_t label = record[label_offset];
      if (label >= num_classes) {
        fail(paths[f], "record " + std::to_string(r) + " has label " + std::to_string(label) + ", outside [0, " +
                           std::to_string(num_classes) + ")");
      }
      label_data[done + r] = label;
      std::memcpy(image_data + (done + r) * kPixelBytes, record + label_bytes, kPixelBytes);
    }
    done += take;
  }
  return Dataset{images, labels, num_classes};
}

Dataset load_cifar10(const std::string& root, bool train, int64_t limit, const std::string& test_file) {
  const std::string dir = resolve_cifar10_dir(root);
  const std::vector<std::string> names = train ? cifar10_train_files()
                                               : std::vector<std::string>{cifar10_test_name(dir, test_file)};
  require_files(dir, names, train ? "CIFAR-10 training" : "CIFAR-10 test");
  return read_cifar_records(joined(dir, names), 1, 0, 10, limit);
}

Dataset load_cifar100(const std::string& root, bool train, int64_t limit) {
  const std::string dir = resolve_cifar100_dir(root);
  const std::vector<std::string> names{train ? "train.bin" : "test.bin"};
  require_files(dir, names, train ? "CIFAR-100 training" : "CIFAR-100 test");
  return read_cifar_records(joined(dir, names), 2, 1, 100, limit);
}

}  // namespace isda::data
