#include "distributed/world.h"

#include <cstdlib>

namespace isda::distributed {
namespace {

// The port rank 0 listens on under Slurm when MASTER_PORT is not set: one per job, so that two
// jobs sharing a node do not collide.
constexpr int kSlurmPortBase = 29500;
constexpr int kSlurmPortSpan = 10000;

int integer(const Environment& environment, const char* name, int minimum) {
  const auto text = environment(name);
  if (!text) throw WorldError(std::string("environment: ") + name + " is not set");
  try {
    size_t used = 0;
    const long value = std::stol(*text, &used);
    if (used == text->size() && value >= minimum && value <= 1 << 24) return static_cast<int>(value);
  } catch (const std::logic_error&) {
  }
  throw WorldError(std::string("environment: ") + name + ": expected an integer >= " + std::to_string(minimum) +
                   ", got \"" + *text + "\"");
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

World world_from_environment(const Environment& environment) {
  World world;
  if (environment("WORLD_SIZE")) {
    world.source = "environment";
    world.size = integer(environment, "WORLD_SIZE", 1);
    world.rank = integer(environment, "RANK", 0);
    world.local_rank = environment("LOCAL_RANK") ? integer(environment, "LOCAL_RANK", 0) : world.rank;
    check(world, "RANK", "WORLD_SIZE");
    if (world.distributed()) {
      const auto addr = environment("MASTER_ADDR");
      if (!addr || addr->empty()) throw WorldError("environment: MASTER_ADDR is not set (rank 0's host)");
      world.master_addr = *addr;
      world.master_port = integer(environment, "MASTER_PORT", 1);
    }
    return world;
  }
  // A task of an srun step: SLURM_STEP_ID is set there (not in the batch script itself).
  if (environment("SLURM_STEP_ID") && environment("SLURM_NTASKS") && integer(environment, "SLURM_NTASKS", 1) > 1) {
    world.source = "slurm";
    world.size = integer(environment, "SLURM_NTASKS", 1);
    world.rank = integer(environment, "SLURM_PROCID", 0);
    world.local_rank = environment("SLURM_LOCALID") ? integer(environment, "SLURM_LOCALID", 0) : 0;
    check(world, "SLURM_PROCID", "SLURM_NTASKS");
    if (const auto addr = environment("MASTER_ADDR")) {
      world.master_addr = *addr;
    } else {
      const auto nodes = environment("SLURM_STEP_NODELIST") ? environment("SLURM_STEP_NODELIST") : environment("SLURM_JOB_NODELIST");
      if (!nodes) throw WorldError("environment: neither MASTER_ADDR nor SLURM_STEP_NODELIST is set");
      world.master_addr = first_host_of_node_list(*nodes);
    }
    if (environment("MASTER_PORT")) {
      world.master_port = integer(environment, "MASTER_PORT", 1);
    } else {
      const int job = environment("SLURM_JOB_ID") ? integer(environment, "SLURM_JOB_ID", 0) : 0;
      world.master_port = kSlurmPortBase + job % kSlurmPortSpan;
    }
  }
  return world;
}

}  // namespace isda::distributed
