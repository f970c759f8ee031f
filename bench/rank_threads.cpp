#include "rank_threads.h"

#include "distributed/launcher.h"

#include <torch/torch.h>

#include <exception>
#include <thread>
#include <vector>

namespace isda::bench {

void on_rank_threads(int ranks, const std::function<torch::Device(int rank)>& device_of,
                     std::chrono::milliseconds timeout, const std::function<void(distributed::Communicator&)>& body) {
  const int port = distributed::free_local_port();
  std::vector<std::exception_ptr> errors(static_cast<size_t>(ranks));
  std::vector<std::thread> threads;
  for (int r = 0; r < ranks; ++r) {
    threads.emplace_back([&, r] {
      try {
        distributed::World world;
        world.rank = r;
        world.size = ranks;
        world.master_port = port;
        distributed::Communicator communicator(world, device_of(r), timeout);
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

}  // namespace isda::bench
