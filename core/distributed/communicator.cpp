#include "distributed/communicator.h"

#include "distributed/backends.h"
#include "distributed/launcher.h"

#include <fmt/format.h>
#include <torch/torch.h>

// c10d's headers declare the Gloo and NCCL groups only under these macros.
#if ISDA_HAVE_GLOO && !defined(USE_C10D_GLOO)
#define USE_C10D_GLOO
#endif
#if ISDA_HAVE_NCCL && !defined(USE_C10D_NCCL)
#define USE_C10D_NCCL
#endif

#include <torch/csrc/distributed/c10d/ProcessGroup.hpp>
#include <torch/csrc/distributed/c10d/FileStore.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if defined(USE_C10D_GLOO)
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#endif
#if defined(USE_C10D_NCCL)
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif

#include <cstdlib>
#include <exception>
#include <filesystem>
#include <thread>
#include <vector>

namespace isda::distributed {

struct Communicator::Impl {
  torch::Device device = torch::kCPU;
  c10::intrusive_ptr<c10d::Store> store;
#if defined(USE_C10D_GLOO)
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#endif
#if defined(USE_C10D_NCCL)
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif

  // The operations of the one group this run uses (Gloo or NCCL share no base class we can name
  // across LibTorch 1.13 and 2.x, so each call picks the one that exists).
  template <class Operation>
  auto call(Operation&& operation) {
#if defined(USE_C10D_NCCL)
    if (nccl) return operation(*nccl);
#endif
#if defined(USE_C10D_GLOO)
    if (gloo) return operation(*gloo);
#endif
    throw std::logic_error("Communicator: no process group");
  }

  // NCCL reduces device tensors only: small host tensors (flags, counters, generator states) go
  // through the device. Returns `tensor` itself where no copy is needed.
  torch::Tensor staged(const torch::Tensor& tensor) const {
    if (device.is_cuda() && !tensor.is_cuda()) return tensor.to(device);
    return tensor.is_contiguous() ? tensor : tensor.contiguous();
  }
  static void unstage(torch::Tensor& tensor, const torch::Tensor& staged) {
    if (!staged.is_same(tensor)) tensor.copy_(staged);
  }
};

std::string unavailable_reason(const torch::Device& device) {
  if (device.is_cuda()) {
#if defined(USE_C10D_NCCL)
    return "";
#else
    return "this build's LibTorch has no NCCL process group (ranks > 1 on CUDA needs it)";
#endif
  }
#if defined(USE_C10D_GLOO)
  return "";
#else
  return "this build has no Gloo process group (build with Gloo's headers, Debian's libgloo-dev)";
#endif
}

namespace {

[[noreturn]] void rethrow(const World& world, const char* operation, const std::exception& error) {
  std::string reason = error.what();
  reason = reason.substr(0, reason.find('\n'));
  throw DistributedError(fmt::format("rank {} of {}: {} failed ({}): {}",
                                     world.rank, world.size, operation, kAnotherRankFailed, reason));
}

}  // namespace

Communicator::Communicator(const World& world, const torch::Device& device, std::chrono::milliseconds timeout)
    : world_(world), impl_(std::make_unique<Impl>()) {
  impl_->device = device;
  const auto reason = unavailable_reason(device);
  if (!reason.empty()) throw DistributedError(reason);
  try {
    if (!world.rendezvous_file.empty()) {
      // A file all ranks see: nothing to listen on, so no port is guessed or shared with another run.
      std::filesystem::create_directories(std::filesystem::path(world.rendezvous_file).parent_path());
      impl_->store = c10::make_intrusive<c10d::FileStore>(world.rendezvous_file, world.size);
      impl_->store->setTimeout(timeout);
    } else {
      c10d::TCPStoreOptions options;
      options.port = static_cast<std::uint16_t>(world.master_port);
      options.isServer = world.rank == 0;
      options.numWorkers = static_cast<std::size_t>(world.size);
      options.waitWorkers = true;
      options.timeout = timeout;
      impl_->store = c10::make_intrusive<c10d::TCPStore>(world.master_addr, options);
    }
    if (device.is_cuda()) {
#if defined(USE_C10D_NCCL)
      // Without blocking wait, NCCL's work->wait() only orders streams: the host never waits, and a
      // hung peer stalls every rank until NCCL's own watchdog aborts the process (SIGABRT), which
      // looks like a kill and is resumed into the same hang. With it, wait() blocks and throws
      // after `timeout`, and the run fails naming this rank (fault `hang` from the launcher). The
      // variable's name changed in LibTorch 2.2; each version reads its own.
      ::setenv("NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
      ::setenv("TORCH_NCCL_BLOCKING_WAIT", "1", /*overwrite=*/0);
      auto nccl_options = c10d::ProcessGroupNCCL::Options::create();
      nccl_options->timeout = timeout;
      impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(impl_->store, world.rank, world.size, nccl_options);
#endif
    } else {
#if defined(USE_C10D_GLOO)
      auto gloo_options = c10d::ProcessGroupGloo::Options::create(timeout);
      gloo_options->devices.push_back(world.master_addr == "127.0.0.1" || world.master_addr == "localhost"
                                          ? c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1")
                                          : c10d::ProcessGroupGloo::createDefaultDevice());
      gloo_options->threads = 2;
      impl_->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(impl_->store, world.rank, world.size, gloo_options);
#endif
    }
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    const auto where = world.rendezvous_file.empty() ? fmt::format("{}:{}", world.master_addr, world.master_port)
                                                     : world.rendezvous_file;
    throw DistributedError(fmt::format("rank {} of {}: cannot join the run at {} ({}): {}", world.rank, world.size,
                                       where, world.source,
                                       std::string(e.what()).substr(0, std::string(e.what()).find('\n'))));
  }
}

Communicator::~Communicator() = default;

void Communicator::all_reduce_sum(torch::Tensor& tensor) { all_reduce_sum_async(tensor)(); }

std::function<void()> Communicator::all_reduce_sum_async(torch::Tensor tensor) {
  try {
    std::vector<at::Tensor> tensors{impl_->staged(tensor)};
    auto work = impl_->call([&](auto& group) { return group.allreduce(tensors); });
    return [work, world = world_, tensor, staged = tensors[0]]() mutable {
      try {
        work->wait();
      } catch (const std::exception& e) {
        rethrow(world, "all-reduce", e);
      }
      Impl::unstage(tensor, staged);
    };
  } catch (const DistributedError&) {
    throw;
  } catch (const std::exception& e) {
    rethrow(world_, "all-reduce", e);
  }
}

void Communicator::all_reduce_max(torch::Tensor& tensor) {
  try {
    std::vector<at::Tensor> tensors{impl_->staged(tensor)};
    c10d::AllreduceOptions options;
    options.reduceOp = c10d::ReduceOp::MAX;
    impl_->call([&](auto& group) { return group.allreduce(tensors, options); })->wait();
    Impl::unstage(tensor, tensors[0]);
  } catch (const std::exception& e) {
    rethrow(world_, "all-reduce (max)", e);
  }
}

torch::Tensor Communicator::all_gather(const torch::Tensor& tensor) {
  try {
    const auto input = impl_->staged(tensor);
    std::vector<at::Tensor> inputs{input};
    std::vector<std::vector<at::Tensor>> outputs(1);
    for (int r = 0; r < world_.size; ++r) outputs[0].push_back(torch::empty_like(input));
    impl_->call([&](auto& group) { return group.allgather(outputs, inputs); })->wait();
    return torch::stack(outputs[0]).to(tensor.device());
  } catch (const std::exception& e) {
    rethrow(world_, "all-gather", e);
  }
}

void Communicator::broadcast(torch::Tensor& tensor, int root) {
  try {
    std::vector<at::Tensor> tensors{impl_->staged(tensor)};
    c10d::BroadcastOptions options;
    options.rootRank = root;
    impl_->call([&](auto& group) { return group.broadcast(tensors, options); })->wait();
    Impl::unstage(tensor, tensors[0]);
  } catch (const std::exception& e) {
    rethrow(world_, "broadcast", e);
  }
}

void Communicator::barrier() {
  try {
    impl_->call([&](auto& group) { return group.barrier(); })->wait();
  } catch (const std::exception& e) {
    rethrow(world_, "barrier", e);
  }
}

void run_ranks_in_threads(int ranks, const std::function<torch::Device(int rank)>& device_of,
                          std::chrono::milliseconds timeout, const std::function<void(Communicator&)>& body) {
  const int port = free_local_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        World world;
        world.rank = r;
        world.size = ranks;
        world.master_port = port;
        Communicator communicator(world, device_of(r), timeout);
        body(communicator);
      } catch (...) {
        errors[static_cast<size_t>(r)] = std::current_exception();
      }
    });
  }
  for (auto& t : threads) t.join();
  for (auto& e : errors) {
    if (e) std::rethrow_exception(e);
  }
}

}  // namespace isda::distributed
