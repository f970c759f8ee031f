#pragma once
// CIFAR-10 and CIFAR-100 (Krizhevsky 2009) read from the official binary distributions into CPU
// tensors. Every problem with a file surfaces as a one-line DataError naming it.

#include "data/fashion_mnist.h"  // Dataset

#include <cstdint>
#include <string>
#include <vector>

namespace isda::data {

// Test file name used when only the first 1,000 official test images are available (a lossless
// prefix of test_batch.bin); read when test_batch.bin itself is absent.
inline constexpr const char* kCifar10TestPrefixFile = "test_batch_first1000.bin";

// The directory holding the CIFAR-10 files: `root` itself when it holds any official file (or the
// test prefix file), else root/cifar-10-batches-bin when that directory exists, else `root`.
std::string resolve_cifar10_dir(const std::string& root);

// Likewise for CIFAR-100: root or root/cifar-100-binary.
std::string resolve_cifar100_dir(const std::string& root);

// CIFAR-10 training set (data_batch_1.bin .. data_batch_5.bin, in that order) or test set
// (test_batch.bin; when absent, kCifar10TestPrefixFile). `test_file`, when non-empty, names the
// test file instead (relative to the resolved directory, or absolute). Records are 1 label byte
// + 3072 pixel bytes (1024 R, 1024 G, 1024 B, row-major 32x32). Returns images (N, 3, 32, 32)
// uint8, labels int64 in [0, 10), num_classes 10. `limit` > 0 keeps only the first `limit` records
// (only the files needed are read). Throws DataError: one message naming every missing file the
// split needs; a size that is not a whole number of records; a label outside [0, 10).
Dataset load_cifar10(const std::string& root, bool train, int64_t limit = 0, const std::string& test_file = "");

// CIFAR-100 train.bin or test.bin: records of coarse label, fine label, 3072 pixel bytes. Returns
// the fine labels (num_classes 100). Same conventions and errors as load_cifar10.
Dataset load_cifar100(const std::string& root, bool train, int64_t limit = 0);

// Whether the CIFAR-10 test set (test_batch.bin or kCifar10TestPrefixFile, or `test_file`) is
// present under root.
bool cifar10_test_present(const std::string& root, const std::string& test_file = "");
bool cifar100_test_present(const std::string& root);

// Reads records from the given files in order into a Dataset: `label_offset` is the index of the
// label byte within each record's `label_bytes` leading bytes. Exposed for tests.
Dataset read_cifar_records(const std::vector<std::string>& paths, int64_t label_bytes, int64_t label_offset,
                           int64_t num_classes, int64_t limit);

}  // namespace isda::data
