#include "distributed/collectives.h"

#include <cstring>

namespace isda::distributed {

bool broadcast_flag(Communicator* communicator, bool value) {
  if (communicator == nullptr) return value;
  auto flag = torch::tensor({value ? int64_t{1} : int64_t{0}});
  communicator->broadcast(flag);
  return flag.item<int64_t>() != 0;
}

std::string broadcast_bytes(Communicator* communicator, const std::string& bytes, int root) {
  if (communicator == nullptr) return bytes;
  auto size = torch::tensor({static_cast<int64_t>(bytes.size())});
  communicator->broadcast(size, root);
  auto buffer = torch::empty({size.item<int64_t>()}, torch::kUInt8);
  if (communicator->rank() == root) std::memcpy(buffer.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  communicator->broadcast(buffer, root);
  return std::string(reinterpret_cast<const char*>(buffer.data_ptr<uint8_t>()), static_cast<size_t>(buffer.numel()));
}

int max_over_ranks(Communicator* communicator, int value) {
  if (communicator == nullptr) return value;
  auto t = torch::tensor({static_cast<int64_t>(value)});
  communicator->all_reduce_max(t);
  return static_cast<int>(t.item<int64_t>());
}

std::vector<double> sum_over_ranks(Communicator* communicator, std::vector<double> values) {
  if (communicator == nullptr) return values;
  auto t = torch::tensor(values, torch::kFloat64);
  communicator->all_reduce_sum(t);
  return {t.data_ptr<double>(), t.data_ptr<double>() + t.numel()};
}

torch::Tensor sum_counts_over_ranks(Communicator* communicator, const torch::Tensor& counts) {
  if (communicator == nullptr) return counts.cpu();
  auto sums = counts.cpu().to(torch::kFloat64);
  communicator->all_reduce_sum(sums);
  return sums.to(torch::kInt64);
}

void broadcast_buffers(Communicator* communicator, torch::nn::Module& module) {
  if (communicator == nullptr) return;
  torch::NoGradGuard no_grad;
  for (auto& b : module.buffers()) communicator->broadcast(b);
}

}  // namespace isda::distributed
