#include "distributed/world.h"

#include <cstdlib>

namespace isda::distributed {
namespace {

// The port rank 0 listens on under Slurm when neither MASTER_PORT nor a run directory is given: one
// per job, below Linux's ephemeral range (32768 and up), so no connection's local port takes it.
constexpr long long kSlurmPortBase = 20000;
constexpr long long kSlurmPortSpan = 12000;
constexpr long long kMaxRanks = 1 << 24;
constexpr long long kMaxPort = 65535;
constexpr long long kMaxJobId = (1LL << 32) - 1;

long long integer(const Environment& environment, const char* name, long long minimum, long long maximum) {
  const auto text = environment(name);
  if (!text) throw WorldError(std::string("environment: ") + name + " is not set");
  try {
    size_t used = 0;
    const long long value = std::stoll(*text, &used);
    if (used == text->size() && value >= minimum && value <= maximum) return value;
  } catch (const std::logic_error&) {
  }
  throw WorldError(std::string("environment: ") + name + ": expected an integer from " + std::to_string(minimum) +
                   " to " + std::to_string(maximum) + ", got \"" + *text + "\"");
}

int count(const Environment& environment, const char* name, int minimum) {
  return static_cast<int>(integer(environment, name, minimum, kMaxRanks));
}

int port(const Environment& environment, const char* name) {
  return static_cast<int>(integer(environment, name, 1, kMaxPort));
}

void check(const World& world, const char* rank_name, const char* size_name) {
  if (world.rank >= world.size) {
    throw WorldError(std::string("environment: ") + rank_name + " is " + std::to_string(world.rank) + " but " +
                     size_name + " is " + std::to_string(world.size));
  }
}

}  // namespace

Environment process_environment() {
  return [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
}

std::string first_host_of_node_list(const std::string& node_list) {
  const auto fail = [&] { return WorldError("environment: cannot read the Slurm node list \"" + node_list + "\""); };
  // The first entry: up to the first comma outside brackets.
  size_t end = 0;
  int depth = 0;
  for (; end < node_list.size(); ++end) {
    const char c = node_list[end];
    if (c == '[') ++depth;
    if (c == ']') --depth;
    if (c == ',' && depth == 0) break;
  }
  auto host = node_list.substr(0, end);
  if (host.empty() || depth != 0) throw fail();
  // Each bracket group becomes its first item, zero padding kept: "gpu[003-004,010]" -> "gpu003".
  for (size_t open; (open = host.find('[')) != std::string::npos;) {
    const auto close = host.find(']', open);
    if (close == std::string::npos) throw fail();
    const auto ranges = host.substr(open + 1, close - open - 1);
    const auto first = ranges.substr(0, ranges.find_first_of(",-"));
    if (first.empty()) throw fail();
    host = host.substr(0, open) + first + host.substr(close + 1);
  }
  return host;
}

World world_from_environment(const Environment& environment, const std::string& run_dir) {
  World world;
  if (environment("WORLD_SIZE")) {
    world.source = "environment";
    world.size = count(environment, "WORLD_SIZE", 1);
    world.rank = count(environment, "RANK", 0);
    world.local_rank = environment("LOCAL_RANK") ? count(environment, "LOCAL_RANK", 0) : world.rank;
    check(world, "RANK", "WORLD_SIZE");
    if (world.distributed()) {
      const auto addr = environment("MASTER_ADDR");
      if (!addr || addr->empty()) throw WorldError("environment: MASTER_ADDR is not set (rank 0's host)");
      world.master_addr = *addr;
      if (const auto file = environment(kRendezvousFileVariable); file && !file->empty()) {
        world.rendezvous_file = *file;
      } else {
        world.master_port = port(environment, "MASTER_PORT");
      }
    }
    return world;
  }
  // A task of an srun step: SLURM_STEP_ID is set there (not in the batch script itself).
  if (environment("SLURM_STEP_ID") && environment("SLURM_NTASKS") && count(environment, "SLURM_NTASKS", 1) > 1) {
    world.source = "slurm";
    world.size = count(environment, "SLURM_NTASKS", 1);
    world.rank = count(environment, "SLURM_PROCID", 0);
    world.local_rank = environment("SLURM_LOCALID") ? count(environment, "SLURM_LOCALID", 0) : 0;
    check(world, "SLURM_PROCID", "SLURM_NTASKS");
    if (const auto addr = environment("MASTER_ADDR")) {
      world.master_addr = *addr;
    } else {
      const auto nodes = environment("SLURM_STEP_NODELIST") ? environment("SLURM_STEP_NODELIST") : environment("SLURM_JOB_NODELIST");
      if (!nodes) throw WorldError("environment: neither MASTER_ADDR nor SLURM_STEP_NODELIST is set");
      world.master_addr = first_host_of_node_list(*nodes);
    }
    // Job ids run to the tens of millions (Slurm's MaxJobId is 67,043,328; federations go higher).
    const auto job = environment("SLURM_JOB_ID") ? integer(environment, "SLURM_JOB_ID", 0, kMaxJobId) : 0;
    if (environment("MASTER_PORT")) {
      world.master_port = port(environment, "MASTER_PORT");
    } else if (!run_dir.empty()) {
      // One file per job, step and attempt (a requeued job counts its restarts): an attempt that was
      // killed leaves its file behind, and the next one never reads it.
      const auto step = integer(environment, "SLURM_STEP_ID", 0, kMaxJobId);
      const auto restart = environment("SLURM_RESTART_COUNT") ? integer(environment, "SLURM_RESTART_COUNT", 0, kMaxJobId) : 0;
      world.rendezvous_file = run_dir + "/rendezvous/slurm-" + std::to_string(job) + "." + std::to_string(step) + "." +
                              std::to_string(restart);
    } else {
      world.master_port = static_cast<int>(kSlurmPortBase + job % kSlurmPortSpan);
    }
  }
  return world;
}

int cuda_device_index(const World& world, int visible) {
  if (visible <= 0) throw WorldError("no CUDA device is visible to this process");
  if (!world.distributed() || visible == 1) return 0;
  if (world.local_rank < visible) return world.local_rank;
  throw WorldError("rank " + std::to_string(world.rank) + " (local rank " + std::to_string(world.local_rank) +
                   ") sees " + std::to_string(visible) +
                   " CUDA devices, fewer than its node's ranks need: give each rank one device "
                   "(srun --gpus-per-task=1) or every rank all of them");
}

}  // namespace isda::distributed
