#pragma once
// The collectives a data-parallel run needs, over LibTorch's own c10d process groups: Gloo for CPU
// tensors, NCCL for CUDA ones (where this build's LibTorch has it), with a TCPStore rendezvous at
// rank 0. No c10d header leaks from here, so the trainer does not need Gloo's or NCCL's headers.

#include "distributed/world.h"
#include "models/batch_norm.h"  // models::BatchStatisticsReducer

#include <torch/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>

namespace isda::distributed {

// A collective that failed or timed out: a rank died, hung or cannot be reached. what() names this
// rank and the operation in one line.
class DistributedError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Whether this build can run data-parallel on `device` ("cpu": Gloo; "cuda": NCCL), and if not, why.
std::string unavailable_reason(const torch::Device& device);

class Communicator : public models::BatchStatisticsReducer {
 public:
  // Joins the world: rank 0 serves the TCPStore at master_addr:master_port, every rank connects
  // (waiting up to `timeout` for the others) and builds the process group. Each collective waits at
  // most `timeout` for the other ranks. Throws DistributedError.
  Communicator(const World& world, const torch::Device& device, std::chrono::milliseconds timeout);
  ~Communicator() override;
  Communicator(const Communicator&) = delete;
  Communicator& operator=(const Communicator&) = delete;

  int rank() const { return world_.rank; }
  int size() const { return world_.size; }

  // Sums `tensor` over the ranks, in place; blocks until done.
  void all_reduce_sum(torch::Tensor& tensor) override;
  // The same without waiting: call the returned function to wait (it throws DistributedError).
  std::function<void()> all_reduce_sum_async(torch::Tensor tensor);
  // The maximum over the ranks, in place.
  void all_reduce_max(torch::Tensor& tensor);
  // Every rank's `tensor` (the same shape on each) stacked along a new first dimension, rank order.
  torch::Tensor all_gather(const torch::Tensor& tensor);
  // Rank `root`'s `tensor` on every rank, in place.
  void broadcast(torch::Tensor& tensor, int root = 0);
  // Returns when every rank has called it.
  void barrier();

 private:
  struct Impl;
  World world_;
  std::unique_ptr<Impl> impl_;
};

// Ranks as threads of this process, for tests and benchmarks: runs body(communicator) on `ranks`
// threads, each joining a fresh world on this machine as one rank with its communicator on
// device_of(rank) (Gloo on the CPU; NCCL where each rank has its own GPU); rethrows the first failure
// once every thread has ended.
void run_ranks_in_threads(int ranks, const std::function<torch::Device(int rank)>& device_of,
                          std::chrono::milliseconds timeout, const std::function<void(Communicator&)>& body);

}  // namespace isda::distributed
