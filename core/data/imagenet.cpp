#include "data/imagenet.h"

#include "data/data_error.h"
#include "data/holdout.h"  // splitmix64_next, seeded_permutation
#include "data/jpeg.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <stdexcept>

namespace isda::data {
namespace {

namespace fs = std::filesystem;

constexpr int kPrecisionBits = 32 - 8 - 2;  // Pillow's fixed-point coefficients

bool is_jpeg_name(const fs::path& path) {
  std::string extension = path.extension().string();
  std::transform(extension.begin(), extension.end(), extension.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return extension == ".jpg" || extension == ".jpeg";
}

bool directory_exists(const fs::path& path) {
  std::error_code error;
  return fs::is_directory(path, error);
}

// Python's round(): half to even (the current rounding mode is round-to-nearest-even).
int64_t round_half_even(double value) { return static_cast<int64_t>(std::nearbyint(value)); }

// Pillow's precompute_coeffs + normalize_coeffs_8bpc for the bilinear filter, resizing a span of
// in_size pixels to out_size: per output pixel the first input pixel, the tap count and the taps.
struct Coefficients {
  int64_t taps = 0;              // ksize
  std::vector<int64_t> first;    // xmin
  std::vector<int64_t> count;    // xmax - xmin
  std::vector<int32_t> weights;  // out_size x taps
};

Coefficients precompute(int64_t in_size, int64_t out_size) {
  const double scale = static_cast<double>(in_size) / static_cast<double>(out_size);
  const double filter_scale = std::max(scale, 1.0);
  const double support = 1.0 * filter_scale;  // the bilinear (triangle) filter has support 1
  Coefficients c;
  c.taps = static_cast<int64_t>(std::ceil(support)) * 2 + 1;
  c.first.resize(static_cast<size_t>(out_size));
  c.count.resize(static_cast<size_t>(out_size));
  c.weights.assign(static_cast<size_t>(out_size * c.taps), 0);
  std::vector<double> k(static_cast<size_t>(c.taps));
  for (int64_t xx = 0; xx < out_size; ++xx) {
    const double center = (static_cast<double>(xx) + 0.5) * scale;
    const double inverse = 1.0 / filter_scale;
    auto xmin = static_cast<int64_t>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    auto xmax = static_cast<int64_t>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double sum = 0;
    for (int64_t x = 0; x < xmax; ++x) {
      const double t = std::abs((static_cast<double>(x + xmin) - center + 0.5) * inverse);
      k[static_cast<size_t>(x)] = t < 1.0 ? 1.0 - t : 0.0;
      sum += k[static_cast<size_t>(x)];
    }
    for (int64_t x = 0; x < xmax; ++x) {
      const double w = sum != 0.0 ? k[static_cast<size_t>(x)] / sum : k[static_cast<size_t>(x)];
      c.weights[static_cast<size_t>(xx * c.taps + x)] =
          static_cast<int32_t>(w < 0 ? -0.5 + w * (1 << kPrecisionBits) : 0.5 + w * (1 << kPrecisionBits));
    }
    c.first[static_cast<size_t>(xx)] = xmin;
    c.count[static_cast<size_t>(xx)] = xmax;
  }
  return c;
}

uint8_t clip8(int32_t accumulator) {
  return static_cast<uint8_t>(std::clamp(accumulator >> kPrecisionBits, 0, 255));
}

// The `window` (in output coordinates) of the box region resized to out_width x out_height.
RgbImage resample(const RgbImage& image, const CropBox& box, int64_t out_width, int64_t out_height,
                  const CropBox& window) {
  if (box.width <= 0 || box.height <= 0 || box.left < 0 || box.top < 0 || box.left + box.width > image.width ||
      box.top + box.height > image.height || out_width <= 0 || out_height <= 0) {
    throw std::invalid_argument("resize_bilinear: box outside the image or empty output");
  }
  const auto horizontal = precompute(box.width, out_width);
  const auto vertical = precompute(box.height, out_height);
  int64_t row_first = box.height, row_last = 0;  // box rows the window's output rows read
  for (int64_t yy = window.top; yy < window.top + window.height; ++yy) {
    row_first = std::min(row_first, vertical.first[static_cast<size_t>(yy)]);
    row_last = std::max(row_last, vertical.first[static_cast<size_t>(yy)] + vertical.count[static_cast<size_t>(yy)]);
  }
  constexpr int32_t kHalf = 1 << (kPrecisionBits - 1);
  // Horizontal pass over the rows needed, the window's columns only.
  RgbImage temp(window.width, row_last - row_first);
  for (int64_t y = row_first; y < row_last; ++y) {
    const uint8_t* in = image.at(box.top + y, box.left);
    uint8_t* out = temp.at(y - row_first, 0);
    for (int64_t xx = 0; xx < window.width; ++xx) {
      const auto column = static_cast<size_t>(window.left + xx);
      const int32_t* k = &horizontal.weights[column * static_cast<size_t>(horizontal.taps)];
      const uint8_t* taps = in + horizontal.first[column] * 3;
      int32_t r = kHalf, g = kHalf, b = kHalf;
      for (int64_t x = 0; x < horizontal.count[column]; ++x) {
        r += taps[3 * x] * k[x];
        g += taps[3 * x + 1] * k[x];
        b += taps[3 * x + 2] * k[x];
      }
      out[3 * xx] = clip8(r);
      out[3 * xx + 1] = clip8(g);
      out[3 * xx + 2] = clip8(b);
    }
  }
  // Vertical pass.
  RgbImage result(window.width, window.height);
  for (int64_t yy = 0; yy < window.height; ++yy) {
    const auto row = static_cast<size_t>(window.top + yy);
    const int32_t* k = &vertical.weights[row * static_cast<size_t>(vertical.taps)];
    const int64_t first = vertical.first[row] - row_first;
    uint8_t* out = result.at(yy, 0);
    for (int64_t xx = 0; xx < window.width * 3; ++xx) {
      int32_t sum = kHalf;
      for (int64_t y = 0; y < vertical.count[row]; ++y) sum += temp.pixels[static_cast<size_t>((first + y) * window.width * 3 + xx)] * k[y];
      out[xx] = clip8(sum);
    }
  }
  return result;
}

}  // namespace

ImageFolder scan_image_folder(const std::string& dir, const std::vector<std::string>& classes) {
  if (!directory_exists(dir)) throw DataError(dir + ": image folder does not exist");
  ImageFolder folder;
  folder.dir = dir;
  std::vector<std::string> found;
  try {
    for (const auto& entry : fs::directory_iterator(dir)) {
      if (directory_exists(entry.path())) found.push_back(entry.path().filename().string());
    }
  } catch (const fs::filesystem_error& e) {
    throw DataError(dir + ": cannot list (" + e.code().message() + ")");
  }
  std::sort(found.begin(), found.end());
  if (found.empty()) throw DataError(dir + ": no class folders");
  folder.classes = classes.empty() ? found : classes;
  for (const auto& name : found) {
    const auto position = std::find(folder.classes.begin(), folder.classes.end(), name);
    if (position == folder.classes.end()) {
      throw DataError((fs::path(dir) / name).string() + ": class folder not among the training classes");
    }
    const auto class_dir = fs::path(dir) / name;
    std::vector<std::string> files;
    try {
      for (const auto& entry :
           fs::recursive_directory_iterator(class_dir, fs::directory_options::follow_directory_symlink)) {
        std::error_code error;
        if (fs::is_regular_file(entry.path(), error) && is_jpeg_name(entry.path())) files.push_back(entry.path().string());
      }
    } catch (const fs::filesystem_error& e) {
      throw DataError(class_dir.string() + ": cannot list (" + e.code().message() + ")");
    }
    if (files.empty()) throw DataError(class_dir.string() + ": no JPEG files (*.jpg, *.jpeg)");
    std::sort(files.begin(), files.end());
    const auto label = static_cast<int64_t>(position - folder.classes.begin());
    for (auto& file : files) {
      folder.paths.push_back(std::move(file));
      folder.labels.push_back(label);
    }
  }
  return folder;
}

std::string resolve_imagenet_dir(const std::string& root) {
  if (directory_exists(fs::path(root) / "train")) return root;
  const auto nested = fs::path(root) / "imagenet";
  if (directory_exists(nested / "train")) return nested.string();
  return root;
}

ImageFolderSplits scan_imagenet(const std::string& root) {
  const auto dir = fs::path(resolve_imagenet_dir(root));
  ImageFolderSplits splits;
  splits.train = scan_image_folder((dir / "train").string());
  splits.val = scan_image_folder((dir / "val").string(), splits.train.classes);
  return splits;
}

ImageFolder sample_image_folder(const ImageFolder& folder, int64_t limit, uint64_t seed) {
  if (limit <= 0 || limit >= folder.size()) return folder;
  auto chosen = seeded_permutation(folder.size(), seed);
  chosen.resize(static_cast<size_t>(limit));
  std::sort(chosen.begin(), chosen.end());
  ImageFolder sample;
  sample.dir = folder.dir;
  sample.classes = folder.classes;
  for (const auto i : chosen) {
    sample.paths.push_back(folder.paths[static_cast<size_t>(i)]);
    sample.labels.push_back(folder.labels[static_cast<size_t>(i)]);
  }
  return sample;
}

ImageRng::ImageRng(uint64_t seed, int64_t epoch, int64_t index) {
  uint64_t state = seed;
  state = splitmix64_next(state) ^ static_cast<uint64_t>(epoch);
  state = splitmix64_next(state) ^ static_cast<uint64_t>(index);
  state_ = splitmix64_next(state);
}

uint64_t ImageRng::next() { return splitmix64_next(state_); }

double ImageRng::uniform(double low, double high) {
  const double unit = static_cast<double>(next() >> 11) * 0x1.0p-53;
  return low + (high - low) * unit;
}

int64_t ImageRng::integer(int64_t low, int64_t high) {
  const auto bound = static_cast<uint64_t>(high - low);
  const uint64_t limit = UINT64_MAX - UINT64_MAX % bound;
  uint64_t draw = next();
  while (draw >= limit) draw = next();
  return low + static_cast<int64_t>(draw % bound);
}

CropBox random_resized_crop_box(int64_t height, int64_t width, ImageRng& rng, double min_scale, double max_scale,
                                double min_ratio, double max_ratio) {
  const double area = static_cast<double>(height * width);
  const double log_min = std::log(min_ratio), log_max = std::log(max_ratio);
  for (int attempt = 0; attempt < 10; ++attempt) {
    const double target_area = area * rng.uniform(min_scale, max_scale);
    const double aspect = std::exp(rng.uniform(log_min, log_max));
    const int64_t w = round_half_even(std::sqrt(target_area * aspect));
    const int64_t h = round_half_even(std::sqrt(target_area / aspect));
    if (0 < w && w <= width && 0 < h && h <= height) {
      const int64_t top = rng.integer(0, height - h + 1);
      const int64_t left = rng.integer(0, width - w + 1);
      return {top, left, h, w};
    }
  }
  // Fallback: a centre crop of the whole image, its aspect clamped to the range.
  const double in_ratio = static_cast<double>(width) / static_cast<double>(height);
  int64_t w = width, h = height;
  if (in_ratio < min_ratio) {
    h = round_half_even(static_cast<double>(w) / min_ratio);
  } else if (in_ratio > max_ratio) {
    w = round_half_even(static_cast<double>(h) * max_ratio);
  }
  return {(height - h) / 2, (width - w) / 2, h, w};
}

RgbImage resize_bilinear(const RgbImage& image, const CropBox& box, int64_t out_width, int64_t out_height) {
  return resample(image, box, out_width, out_height, CropBox{0, 0, out_height, out_width});
}

RgbImage flip_horizontal(const RgbImage& image) {
  RgbImage flipped(image.width, image.height);
  for (int64_t y = 0; y < image.height; ++y) {
    for (int64_t x = 0; x < image.width; ++x) std::copy_n(image.at(y, x), 3, flipped.at(y, image.width - 1 - x));
  }
  return flipped;
}

RgbImage resize_center_crop(const RgbImage& image, int64_t resize, int64_t crop) {
  if (resize < crop || crop <= 0) throw std::invalid_argument("resize_center_crop: needs resize >= crop > 0");
  const bool portrait = image.width <= image.height;
  const int64_t shorter = portrait ? image.width : image.height;
  const int64_t longer = portrait ? image.height : image.width;
  const auto new_longer = static_cast<int64_t>(static_cast<double>(resize) * static_cast<double>(longer) /
                                               static_cast<double>(shorter));
  const int64_t new_width = portrait ? resize : new_longer;
  const int64_t new_height = portrait ? new_longer : resize;
  const int64_t top = round_half_even(static_cast<double>(new_height - crop) / 2.0);
  const int64_t left = round_half_even(static_cast<double>(new_width - crop) / 2.0);
  // Only the centre is computed: each output pixel of Pillow's resample depends on its own taps alone.
  return resample(image, CropBox{0, 0, image.height, image.width}, new_width, new_height, CropBox{top, left, crop, crop});
}

RgbImage load_image(const ImageFolder& folder, int64_t index, const ImageLoaderOptions& options) {
  const auto decoded = decode_jpeg_file(folder.paths.at(static_cast<size_t>(index)));
  if (!options.train) {
    const int64_t resize = options.resize_size > 0 ? options.resize_size
                                                   : round_half_even(static_cast<double>(options.crop_size) * 256.0 / 224.0);
    return resize_center_crop(decoded, resize, options.crop_size);
  }
  ImageRng rng(options.seed, options.epoch, index);
  const auto box = random_resized_crop_box(decoded.height, decoded.width, rng, options.min_scale, options.max_scale);
  auto image = resize_bilinear(decoded, box, options.crop_size, options.crop_size);
  if (rng.uniform(0.0, 1.0) < 0.5) image = flip_horizontal(image);
  return image;
}

ImageBatchLoader::ImageBatchLoader(const ImageFolder& folder, std::vector<int64_t> order,
                                   const ImageLoaderOptions& options, int64_t first_batch)
    : folder_(folder), order_(std::move(order)), options_(options) {
  if (options_.batch_size <= 0 || options_.crop_size <= 0) {
    throw std::invalid_argument("ImageBatchLoader: batch_size and crop_size must be positive");
  }
  for (const auto index : order_) {
    if (index < 0 || index >= folder_.size()) throw std::invalid_argument("ImageBatchLoader: index outside the folder");
  }
  const auto total = (static_cast<int64_t>(order_.size()) + options_.batch_size - 1) / options_.batch_size;
  first_ = std::clamp<int64_t>(first_batch, 0, total);
  end_ = total;
  next_to_claim_ = next_to_return_ = first_;
  int threads = options_.threads > 0 ? options_.threads : static_cast<int>(std::thread::hardware_concurrency());
  threads = static_cast<int>(std::clamp<int64_t>(threads, 1, std::max<int64_t>(1, end_ - first_)));
  capacity_ = options_.prefetch > 0 ? options_.prefetch : threads + 2;
  for (int i = 0; i < threads && first_ < end_; ++i) threads_.emplace_back([this] { work(); });
}

ImageBatchLoader::~ImageBatchLoader() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  consumer_moved_.notify_all();
  for (auto& thread : threads_) thread.join();
}

ImageBatch ImageBatchLoader::make_batch(int64_t index) const {
  ImageBatch batch;
  batch.index = index;
  const int64_t start = index * options_.batch_size;
  batch.count = std::min<int64_t>(options_.batch_size, static_cast<int64_t>(order_.size()) - start);
  batch.size = options_.crop_size;
  const int64_t plane = batch.size * batch.size;
  batch.pixels.resize(static_cast<size_t>(batch.count * 3 * plane));
  for (int64_t i = 0; i < batch.count; ++i) {
    const int64_t item = order_[static_cast<size_t>(start + i)];
    const auto image = load_image(folder_, item, options_);
    uint8_t* out = batch.pixels.data() + i * 3 * plane;
    for (int64_t p = 0; p < plane; ++p) {  // interleaved RGB -> channel planes
      out[p] = image.pixels[static_cast<size_t>(3 * p)];
      out[plane + p] = image.pixels[static_cast<size_t>(3 * p + 1)];
      out[2 * plane + p] = image.pixels[static_cast<size_t>(3 * p + 2)];
    }
    batch.labels.push_back(folder_.labels[static_cast<size_t>(item)]);
  }
  return batch;
}

void ImageBatchLoader::work() {
  for (;;) {
    int64_t index;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      consumer_moved_.wait(lock, [this] {
        return stopping_ || next_to_claim_ >= end_ || next_to_claim_ < next_to_return_ + capacity_;
      });
      if (stopping_ || next_to_claim_ >= end_) return;
      index = next_to_claim_++;
    }
    Slot slot;
    try {
      slot.batch = make_batch(index);
    } catch (...) {
      slot.error = std::current_exception();
    }
    {
      std::lock_guard<std::mutex> lock(mutex_);
      ready_[index] = std::move(slot);
    }
    ready_changed_.notify_all();
  }
}

bool ImageBatchLoader::next(ImageBatch& batch) {
  Slot slot;
  {
    std::unique_lock<std::mutex> lock(mutex_);
    if (next_to_return_ >= end_) return false;
    ready_changed_.wait(lock, [this] { return ready_.count(next_to_return_) > 0; });
    auto node = ready_.extract(next_to_return_);
    slot = std::move(node.mapped());
    ++next_to_return_;
  }
  consumer_moved_.notify_all();
  if (slot.error) std::rethrow_exception(slot.error);
  batch = std::move(slot.batch);
  return true;
}

}  // namespace isda::data
