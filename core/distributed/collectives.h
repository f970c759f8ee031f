#pragma once
// The few small collectives a run's loop needs beside the gradients: a flag, a byte string, a stop
// signal, sums of totals and error counts, rank 0's buffers. Each takes the run's communicator or
// null (one process) and then returns its input unchanged, so the loop reads the same either way.

#include "distributed/communicator.h"

#include <torch/torch.h>

#include <string>
#include <vector>

namespace isda::distributed {

// Rank 0's `value` on every rank.
bool broadcast_flag(Communicator* communicator, bool value);
// Rank `root`'s `bytes` on every rank (any length; the other ranks' input is ignored).
std::string broadcast_bytes(Communicator* communicator, const std::string& bytes, int root = 0);
// The largest `value` of any rank (e.g. the stop signal one of them received).
int max_over_ranks(Communicator* communicator, int value);
// The element-wise sums of per-rank totals (float64 on the CPU).
std::vector<double> sum_over_ranks(Communicator* communicator, std::vector<double> values);
// The element-wise sums of per-rank int64 counts (any device), as a CPU int64 tensor.
torch::Tensor sum_counts_over_ranks(Communicator* communicator, const torch::Tensor& counts);
// Rank 0's values of `module`'s buffers on every rank (per-rank BatchNorm statistics, as DDP's
// broadcast_buffers).
void broadcast_buffers(Communicator* communicator, torch::nn::Module& module);

}  // namespace isda::distributed
