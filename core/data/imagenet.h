#pragma once
// ImageNet-style folders (root/train/<class>/*.JPEG, root/val/<class>/*.JPEG), torchvision's
// ImageNet transforms (Pillow's resampling), and a loader that decodes batches on worker threads.
// Free of LibTorch: batches are plain byte buffers the trainer wraps in tensors.

#include "data/rgb_image.h"

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace isda::data {

// A labelled image folder in torchvision's ImageFolder layout.
struct ImageFolder {
  std::string dir;
  std::vector<std::string> classes;  // class folder names in byte order; a label is an index here
  std::vector<std::string> paths;    // every JPEG, by class then path
  std::vector<int64_t> labels;       // one per path
  int64_t size() const { return static_cast<int64_t>(paths.size()); }
};

// Scans dir/<class>/**/*.{jpg,jpeg} (extension case-insensitive; other files are ignored). Classes
// are the sub-folders of `dir` sorted by name; when `classes` is given it fixes the list (labels are
// positions in it) and every sub-folder must be one of them. Throws DataError naming the folder when
// `dir` is missing or has no class folders, when a class folder holds no JPEG, or when a folder is
// not one of `classes`.
ImageFolder scan_image_folder(const std::string& dir, const std::vector<std::string>& classes = {});

// `root` when it holds train/, else root/imagenet when that holds train/, else `root`.
std::string resolve_imagenet_dir(const std::string& root);

struct ImageFolderSplits {
  ImageFolder train;
  ImageFolder val;  // labelled with train's classes
};

// train/ and val/ under resolve_imagenet_dir(root); val's class folders must be among train's
// (a val class may be absent). Throws DataError as scan_image_folder, naming train/ or val/.
ImageFolderSplits scan_imagenet(const std::string& root);

// The images at the first `limit` positions of seeded_permutation(size, seed), kept in folder order
// (so a small limit still spans the classes); the folder itself when limit <= 0 or >= its size.
ImageFolder sample_image_folder(const ImageFolder& folder, int64_t limit, uint64_t seed);

// The random stream of one image: splitmix64 seeded from (seed, epoch, index), so an image's
// augmentation depends only on those three numbers, never on which thread decodes it.
class ImageRng {
 public:
  ImageRng(uint64_t seed, int64_t epoch, int64_t index);
  uint64_t next();
  double uniform(double low, double high);   // [low, high), 53-bit resolution
  int64_t integer(int64_t low, int64_t high);  // [low, high), unbiased; requires low < high

 private:
  uint64_t state_;
};

struct CropBox {
  int64_t top = 0;
  int64_t left = 0;
  int64_t height = 0;
  int64_t width = 0;
};

// torchvision's RandomResizedCrop.get_params: up to 10 tries of an area fraction uniform in
// [min_scale, max_scale] and a log-uniform aspect ratio in [min_ratio, max_ratio] (sides rounded
// half to even, as Python's round), the first that fits placed uniformly; else the centre crop
// of the whole image clamped to the ratio range.
CropBox random_resized_crop_box(int64_t height, int64_t width, ImageRng& rng, double min_scale = 0.08,
                                double max_scale = 1.0, double min_ratio = 3.0 / 4.0, double max_ratio = 4.0 / 3.0);

// Pillow's bilinear resize (ImagingResample: triangle filter widened by the downscale factor, so it
// antialiases; 22-bit fixed-point coefficients; horizontal pass, rounded to 8 bits, then vertical)
// of the `box` region of `image`, treated as its own image (as crop-then-resize), to
// out_width x out_height. Requires a non-empty box inside the image (std::invalid_argument).
RgbImage resize_bilinear(const RgbImage& image, const CropBox& box, int64_t out_width, int64_t out_height);

// The image mirrored left-right.
RgbImage flip_horizontal(const RgbImage& image);

// torchvision's Resize(resize) (shorter side to `resize`, the longer int(resize * long / short))
// followed by CenterCrop(crop) (offsets rounded half to even). Requires resize >= crop.
RgbImage resize_center_crop(const RgbImage& image, int64_t resize, int64_t crop);

struct ImageLoaderOptions {
  int64_t batch_size = 256;
  int64_t crop_size = 224;    // side of the output images
  int64_t resize_size = 0;    // evaluation: shorter side before the centre crop; 0: crop_size * 256 / 224, rounded
  bool train = true;          // RandomResizedCrop(crop_size) + horizontal flip (p 0.5); else resize + centre crop
  double min_scale = 0.08;    // RandomResizedCrop's area range
  double max_scale = 1.0;
  uint64_t seed = 0;          // with epoch and the image's index, all of an image's random parameters
  int64_t epoch = 0;
  int threads = 0;            // decoding threads; 0: std::thread::hardware_concurrency()
  int64_t prefetch = 0;       // batches decoded ahead of the consumer (the queue bound); 0: threads + 2
};

// One decoded image of `folder` under the options' transform: index is the image's index in the
// folder, which (with seed and epoch) fixes its random parameters. Throws DataError for an
// unreadable JPEG.
RgbImage load_image(const ImageFolder& folder, int64_t index, const ImageLoaderOptions& options);

struct ImageBatch {
  int64_t index = 0;             // batch number (position in the order / batch_size)
  int64_t count = 0;             // images in the batch
  int64_t size = 0;              // side of each image
  std::vector<uint8_t> pixels;   // (count, 3, size, size), channel-planar
  std::vector<int64_t> labels;   // (count)
};

// Decodes folder images in a given order, batch by batch, on `threads` worker threads that keep at
// most `prefetch` batches ahead of the consumer. The batches and their contents are the same for any
// number of threads. The folder must outlive the loader. next() is for one consumer thread.
class ImageBatchLoader {
 public:
  // Batches of order[b * batch_size ...] for b from first_batch on (to resume an epoch mid-way).
  // Throws std::invalid_argument for a non-positive batch or crop size or an index outside the folder.
  ImageBatchLoader(const ImageFolder& folder, std::vector<int64_t> order, const ImageLoaderOptions& options,
                   int64_t first_batch = 0);
  ~ImageBatchLoader();
  ImageBatchLoader(const ImageBatchLoader&) = delete;
  ImageBatchLoader& operator=(const ImageBatchLoader&) = delete;

  int64_t batches() const { return end_ - first_; }  // batches this loader yields
  // The next batch in order; false after the last. Rethrows the DataError of an unreadable JPEG in
  // that batch (one line naming the file).
  bool next(ImageBatch& batch);

 private:
  struct Slot {
    ImageBatch batch;
    std::exception_ptr error;
  };
  void work();
  ImageBatch make_batch(int64_t index) const;

  const ImageFolder& folder_;
  std::vector<int64_t> order_;
  ImageLoaderOptions options_;
  int64_t first_ = 0;
  int64_t end_ = 0;
  int64_t capacity_ = 0;
  std::mutex mutex_;
  std::condition_variable ready_changed_;
  std::condition_variable consumer_moved_;
  int64_t next_to_claim_ = 0;
  int64_t next_to_return_ = 0;
  std::map<int64_t, Slot> ready_;
  bool stopping_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace isda::data
