#include "data/fetch.h"

#include "data/data_error.h"
#include "data/md5.h"
#include "data/tar_gz.h"

#include <curl/curl.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <mutex>
#include <stdexcept>

namespace isda::data {
namespace {

namespace fs = std::filesystem;

constexpr uint64_t kCifar10BatchBytes = 10000 * (1 + 3072);
constexpr uint64_t kCifar100TrainBytes = 50000 * (2 + 3072);
constexpr uint64_t kCifar100TestBytes = 10000 * (2 + 3072);

const std::vector<DatasetArchive>& archives() {
  // URLs, MD5s and contents as published on https://www.cs.toronto.edu/~kriz/cifar.html (the binary
  // versions; the MD5s are the ones other loaders of these archives check, e.g. 170,052,171 bytes for
  // CIFAR-10 and 168,513,733 for CIFAR-100).
  static const std::vector<DatasetArchive> list = {
      {"cifar10",
       "https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz",
       "c32a1d4ab5d03f1284b67883e8d87530",
       "cifar-10-binary.tar.gz",
       "cifar-10-batches-bin",
       {{"data_batch_1.bin", kCifar10BatchBytes},
        {"data_batch_2.bin", kCifar10BatchBytes},
        {"data_batch_3.bin", kCifar10BatchBytes},
        {"data_batch_4.bin", kCifar10BatchBytes},
        {"data_batch_5.bin", kCifar10BatchBytes},
        {"test_batch.bin", kCifar10BatchBytes}}},
      {"cifar100",
       "https://www.cs.toronto.edu/~kriz/cifar-100-binary.tar.gz",
       "03b5dce01913d631647c71ecec9e9cb8",
       "cifar-100-binary.tar.gz",
       "cifar-100-binary",
       {{"train.bin", kCifar100TrainBytes}, {"test.bin", kCifar100TestBytes}}},
  };
  return list;
}

struct Transfer {
  FILE* file = nullptr;
  Md5 md5;
  bool write_failed = false;
  const std::function<void(uint64_t, uint64_t)>* on_progress = nullptr;
};

extern "C" size_t write_chunk(char* data, size_t size, size_t count, void* user) {
  auto* transfer = static_cast<Transfer*>(user);
  const size_t bytes = size * count;
  if (std::fwrite(data, 1, bytes, transfer->file) != bytes) {
    transfer->write_failed = true;
    return 0;  // makes libcurl stop with CURLE_WRITE_ERROR
  }
  transfer->md5.update(data, bytes);
  return bytes;
}

extern "C" int report_progress(void* user, curl_off_t total, curl_off_t done, curl_off_t, curl_off_t) {
  auto* transfer = static_cast<Transfer*>(user);
  if (*transfer->on_progress) (*transfer->on_progress)(static_cast<uint64_t>(done), static_cast<uint64_t>(total));
  return 0;
}

void init_curl() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) throw DataError("libcurl: global initialisation failed");
  });
}

bool file_has_size(const fs::path& path, uint64_t size) {
  std::error_code error;
  return fs::is_regular_file(path, error) && fs::file_size(path, error) == size && !error;
}

void remove_quietly(const fs::path& path) {
  std::error_code error;
  fs::remove_all(path, error);
}

std::string mib(uint64_t bytes) { return fmt::format("{:.1f} MiB", static_cast<double>(bytes) / (1 << 20)); }

// Syncs a directory so that renames into it survive a crash.
void sync_directory(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

}  // namespace

const DatasetArchive& dataset_archive(const std::string& dataset) {
  for (const auto& archive : archives()) {
    if (archive.dataset == dataset) return archive;
  }
  std::string known;
  for (const auto& name : fetchable_datasets()) known += (known.empty() ? "" : ", ") + name;
  throw std::invalid_argument("no download for data set \"" + dataset + "\" (known: " + known + ")");
}

std::vector<std::string> fetchable_datasets() {
  std::vector<std::string> names;
  for (const auto& archive : archives()) names.push_back(archive.dataset);
  return names;
}

bool archive_data_present(const DatasetArchive& archive, const std::string& root) {
  for (const auto& file : archive.files) {
    if (!file_has_size(fs::path(root) / archive.folder / file.name, file.size)) return false;
  }
  return true;
}

std::string download_file(const std::string& url, const std::string& path,
                          const std::function<void(uint64_t, uint64_t)>& on_progress) {
  init_curl();
  Transfer transfer;
  transfer.on_progress = &on_progress;
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "wb"), &std::fclose);
  if (!file) throw DataError(path + ": cannot write (" + std::strerror(errno) + ")");
  transfer.file = file.get();
  std::unique_ptr<CURL, void (*)(CURL*)> curl(curl_easy_init(), &curl_easy_cleanup);
  if (!curl) throw DataError(url + ": cannot initialise libcurl");
  char message[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_ERRORBUFFER, message);
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_FAILONERROR, 1L);  // HTTP >= 400 is an error, not a body
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, &write_chunk);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &transfer);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFOFUNCTION, &report_progress);
  curl_easy_setopt(curl.get(), CURLOPT_XFERINFODATA, &transfer);
  curl_easy_setopt(curl.get(), CURLOPT_NOPROGRESS, on_progress ? 0L : 1L);
  // Give up on a stalled connection (under 1 KiB/s for a minute) rather than hang.
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_LIMIT, 1024L);
  curl_easy_setopt(curl.get(), CURLOPT_LOW_SPEED_TIME, 60L);
  const CURLcode code = curl_easy_perform(curl.get());
  if (transfer.write_failed) throw DataError(path + ": write failed (" + std::strerror(errno) + ")");
  if (code != CURLE_OK) {
    throw DataError(url + ": download failed (" + (message[0] != '\0' ? std::string(message) : curl_easy_strerror(code)) + ")");
  }
  if (std::fflush(file.get()) != 0 || ::fsync(::fileno(file.get())) != 0 || std::fclose(file.release()) != 0) {
    throw DataError(path + ": write failed (" + std::strerror(errno) + ")");
  }
  return transfer.md5.hex_digest();
}

FetchResult fetch_dataset(const DatasetArchive& archive, const std::string& root,
                          const std::function<void(const std::string&)>& on_note) {
  const auto note = [&on_note](const std::string& text) {
    if (on_note) on_note(text);
  };
  if (archive_data_present(archive, root)) return FetchResult::kAlreadyPresent;

  std::error_code error;
  const bool root_existed = fs::exists(root, error);
  fs::create_directories(root, error);
  if (error) throw DataError(root + ": cannot create directory (" + error.message() + ")");
  const fs::path archive_path = fs::path(root) / archive.archive_name;
  const fs::path part_path = archive_path.string() + ".part";
  const fs::path unpack_dir = fs::path(root) / ("." + archive.folder + ".unpacking");
  const auto clean_up = [&] {
    remove_quietly(part_path);
    remove_quietly(archive_path);
    remove_quietly(unpack_dir);
    if (!root_existed) fs::remove(root, error);  // only when empty
  };
  try {
    bool have_archive = false;
    if (fs::is_regular_file(archive_path, error)) {  // left by an attempt that failed while unpacking
      have_archive = md5_file(archive_path.string()) == archive.md5;
      note(archive_path.string() + (have_archive ? ": verified, unpacking it" : ": MD5 differs, downloading again"));
    }
    if (!have_archive) {
      note("downloading " + archive.url);
      int reported = -1;
      const auto progress = [&](uint64_t done, uint64_t total) {
        if (total == 0) return;
        const int tenth = static_cast<int>(done * 10 / total);
        if (tenth == reported) return;
        reported = tenth;
        note(fmt::format("{}: {} of {} ({}%)", archive.archive_name, mib(done), mib(total), tenth * 10));
      };
      const auto md5 = download_file(archive.url, part_path.string(), progress);
      if (md5 != archive.md5) {
        throw DataError(archive.url + ": MD5 " + md5 + " differs from the expected " + archive.md5 +
                        " (download removed)");
      }
      fs::rename(part_path, archive_path, error);
      if (error) throw DataError(archive_path.string() + ": cannot rename the download (" + error.message() + ")");
    }
    remove_quietly(unpack_dir);
    note("unpacking " + archive_path.string());
    extract_tar_gz(archive_path.string(), unpack_dir.string());
    const fs::path unpacked = unpack_dir / archive.folder;
    std::vector<std::string> missing;
    for (const auto& file : archive.files) {
      if (!fs::is_regular_file(unpacked / file.name, error)) missing.push_back(archive.folder + "/" + file.name);
    }
    if (!missing.empty()) {
      std::string list;
      for (const auto& name : missing) list += (list.empty() ? "" : ", ") + name;
      throw DataError(archive_path.string() + ": archive lacks " + list);
    }
    // Each file reaches its final name complete (a rename within one file system).
    const fs::path target = fs::path(root) / archive.folder;
    fs::create_directories(target, error);
    if (error) throw DataError(target.string() + ": cannot create directory (" + error.message() + ")");
    std::vector<fs::directory_entry> entries(fs::recursive_directory_iterator(unpacked), {});
    for (const auto& entry : entries) {  // parents come before their contents
      const auto destination = target / fs::relative(entry.path(), unpacked);
      if (entry.is_directory()) {
        fs::create_directories(destination, error);
      } else {
        fs::rename(entry.path(), destination, error);
      }
      if (error) throw DataError(destination.string() + ": cannot move into place (" + error.message() + ")");
    }
    sync_directory(target);
    remove_quietly(unpack_dir);
    remove_quietly(archive_path);
    return FetchResult::kFetched;
  } catch (...) {
    clean_up();
    throw;
  }
}

}  // namespace isda::data
