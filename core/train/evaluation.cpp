#include "train/evaluation.h"

#include "distributed/collectives.h"
#include "support/torch_compat.h"

#include <algorithm>

namespace isda::train {
namespace {

constexpr int64_t kEvalBatch = 1000;

// Adds a batch's top-1 and top-5 misses to `wrong` (counted on the device, read once at the end).
void count_errors(const torch::Tensor& logits, const torch::Tensor& labels, torch::Tensor& wrong) {
  const auto k = std::min<int64_t>(5, logits.size(1));
  const auto top = std::get<1>(logits.topk(k, 1));
  wrong[0] += top.select(1, 0).ne(labels).sum();
  wrong[1] += top.eq(labels.unsqueeze(1)).any(1).logical_not().sum();
}

ErrorRates rates_of(const torch::Tensor& counts, int64_t n) {
  const auto percent = [n](int64_t count) { return 100.0 * static_cast<double>(count) / static_cast<double>(n); };
  return {percent(counts[0].item<int64_t>()), percent(counts[1].item<int64_t>())};
}

}  // namespace

ErrorRates Evaluation::on_tensors(const torch::Tensor& images, const torch::Tensor& labels) const {
  torch::NoGradGuard no_grad;
  model.eval();
  auto wrong = torch::zeros({2}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  const int64_t n = labels.size(0);
  const int64_t first = n * world.rank / world.size;
  const int64_t last = n * (world.rank + 1) / world.size;
  compat::CudaAutocastGuard autocast(bf16);
  for (int64_t start = first; start < last; start += kEvalBatch) {
    const auto count = std::min(kEvalBatch, last - start);
    auto batch = augmenter.eval_batch(images.narrow(0, start, count));
    if (channels_last) batch = batch.contiguous(at::MemoryFormat::ChannelsLast);
    count_errors(model.forward(batch), labels.narrow(0, start, count), wrong);
  }
  model.train();
  return rates_of(distributed::sum_counts_over_ranks(communicator, wrong), n);
}

ErrorRates Evaluation::on_folder(const data::ImageFolder& folder, data::ImageLoaderOptions options) const {
  torch::NoGradGuard no_grad;
  model.eval();
  std::vector<int64_t> share;
  for (int64_t i = world.rank; i < folder.size(); i += world.size) share.push_back(i);
  data::ImageBatchLoader loader(folder, std::move(share), options);
  auto wrong = torch::zeros({2}, torch::TensorOptions().dtype(torch::kInt64).device(device));
  compat::CudaAutocastGuard autocast(bf16);
  for (int64_t b = 0; b < loader.batches(); ++b) {
    auto [images, labels] = next_decoded_batch(loader, augmenter, device);
    if (channels_last) images = images.contiguous(at::MemoryFormat::ChannelsLast);
    count_errors(model.forward(images), labels, wrong);
  }
  model.train();
  return rates_of(distributed::sum_counts_over_ranks(communicator, wrong), folder.size());
}

std::pair<torch::Tensor, torch::Tensor> next_decoded_batch(data::ImageBatchLoader& loader,
                                                           const data::BatchAugmenter& augmenter,
                                                           const torch::Device& device) {
  data::ImageBatch batch;
  if (!loader.next(batch)) throw std::logic_error("image loader ran out of batches before the epoch ended");
  const auto pixels = torch::from_blob(batch.pixels.data(), {batch.count, 3, batch.size, batch.size}, torch::kUInt8);
  return {augmenter.eval_batch(pixels.to(device, torch::kUInt8, /*non_blocking=*/false, /*copy=*/true)),
          torch::tensor(batch.labels, torch::kInt64).to(device)};
}

}  // namespace isda::train
