#pragma once
// Downloading a data set's official archive (libcurl), checking its published MD5 and unpacking it
// into the layout the readers accept. A download is written to a temporary file and an archive is
// unpacked into a temporary folder; files reach their final names only after the MD5 matched and
// the archive unpacked completely, so an interrupted or corrupt download is never where a reader
// would load it.

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace isda::data {

struct ArchiveFile {
  std::string name;   // relative to the archive's folder
  uint64_t size = 0;  // bytes of the official file
};

// One downloadable data set.
struct DatasetArchive {
  std::string dataset;             // "cifar10"
  std::string url;                 // the official location
  std::string md5;                 // the published MD5 of the archive (lowercase hex)
  std::string archive_name;        // "cifar-10-binary.tar.gz"
  std::string folder;              // the archive's top folder, unpacked under the root: "cifar-10-batches-bin"
  std::vector<ArchiveFile> files;  // the files a complete copy holds, with their official sizes
};

// "cifar10" (cifar-10-binary.tar.gz, md5 c32a1d4a...) and "cifar100" (cifar-100-binary.tar.gz, md5
// 03b5dce0...). Throws std::invalid_argument for another name, listing the known ones.
const DatasetArchive& dataset_archive(const std::string& dataset);
std::vector<std::string> fetchable_datasets();

// Whether root/archive.folder holds every file of archive.files with its size.
bool archive_data_present(const DatasetArchive& archive, const std::string& root);

// Downloads `url` (any scheme libcurl supports: https, http, file) to `path`, following redirects,
// and returns the MD5 of the bytes written. `on_progress(done, total)` (total 0 when unknown) is
// called as data arrives. Throws DataError naming the URL when the transfer fails (including HTTP
// errors) and naming `path` when it cannot be written; `path` may then hold a partial file.
std::string download_file(const std::string& url, const std::string& path,
                          const std::function<void(uint64_t, uint64_t)>& on_progress = {});

enum class FetchResult { kAlreadyPresent, kFetched };

// Makes root/archive.folder a complete copy of the data set: nothing to do when archive_data_present;
// else downloads archive.url to root/<archive_name>.part, checks archive.md5, renames it to
// root/<archive_name>, unpacks it into root/.<folder>.unpacking, checks that every file of
// archive.files is there, moves the folder's files into root/<folder> (one rename each) and removes
// the archive and the temporary folder. A verified archive already at root/<archive_name> is used
// without downloading. `on_note` receives one-line progress notes. Throws DataError (naming the URL,
// the archive or the file) when the download fails, the MD5 differs (the download is removed), the
// archive is corrupt or lacks a file (the archive and everything unpacked are removed); nothing of
// a failed attempt is left under root except folders that existed before.
FetchResult fetch_dataset(const DatasetArchive& archive, const std::string& root,
                          const std::function<void(const std::string&)>& on_note = {});

}  // namespace isda::data
