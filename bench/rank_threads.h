#pragma once
// Data-parallel ranks as threads of one benchmark process: each thread joins a fresh world as one
// rank (Gloo on the CPU, NCCL where `device_of` gives each rank its own GPU) and runs `body`.

#include "distributed/communicator.h"

#include <chrono>
#include <functional>

namespace isda::bench {

// Runs body(communicator) on `ranks` threads, rank r's communicator on device_of(r); rethrows the
// first failure once every thread has ended.
void on_rank_threads(int ranks, const std::function<torch::Device(int rank)>& device_of,
                     std::chrono::milliseconds timeout, const std::function<void(distributed::Communicator&)>& body);

}  // namespace isda::bench
