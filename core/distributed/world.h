#pragma once
// Where this process stands in a data-parallel run: its rank among `size` processes, its rank on
// this node (which GPU it drives) and where rank 0's rendezvous store listens. Read from the usual
// environment (MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE, LOCAL_RANK: what isda-train's own
// launcher and torchrun set) or from Slurm's inside an `srun` step (SLURM_PROCID, SLURM_NTASKS,
// SLURM_LOCALID, the step's node list). Free of LibTorch.

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>

namespace isda::distributed {

// A variable of the environment that is missing or malformed; what() names it and its value.
class WorldError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct World {
  int rank = 0;
  int size = 1;
  int local_rank = 0;
  std::string master_addr = "127.0.0.1";
  int master_port = 29500;
  // When set, the ranks meet through a file store at this path (on storage all of them see) instead
  // of a TCP store at master_addr:master_port: no port is guessed, so runs never collide. Set by
  // isda-train's launcher (a private folder) and, under Slurm, from the run directory.
  std::string rendezvous_file;
  std::string source = "single process";  // "environment", "slurm" or "single process", for messages

  bool distributed() const { return size > 1; }
};

// Looks a variable up; std::getenv by default, a map in tests.
using Environment = std::function<std::optional<std::string>(const char* name)>;
Environment process_environment();

// The launcher's rendezvous file for its ranks (World::rendezvous_file).
inline constexpr char kRendezvousFileVariable[] = "ISDA_RENDEZVOUS_FILE";

// What a collective's failure says when it failed because of another rank (communicator.cpp): a
// rank whose failure says it is not the one to blame (launcher.h, RankFailure::secondary).
inline constexpr char kAnotherRankFailed[] = "another rank died, hung or is unreachable";

// The world this process belongs to: RANK/WORLD_SIZE when WORLD_SIZE is set, else Slurm's variables
// when this is a task of an srun step of more than one task, else a single process. Throws
// WorldError naming the variable for a value that is not a number or out of range, or for a
// distributed world without MASTER_ADDR (Slurm: the first node of the step's node list).
// Rendezvous: ISDA_RENDEZVOUS_FILE when set; under Slurm without MASTER_PORT, a file of this job
// step and attempt under `run_dir`/rendezvous when the run has a directory (shared storage), else
// port 20000 + job id mod 12000 (below Linux's ephemeral ports; two jobs on one node whose ids agree
// modulo 12000 would collide, which a run directory avoids).
World world_from_environment(const Environment& environment = process_environment(), const std::string& run_dir = "");

// The CUDA device a rank drives among the `visible` devices this process sees: one process, or a
// rank that sees one device (srun --gpus-per-task=1, isda-run's Slurm tasks): device 0; a rank that
// sees its node's devices (isda-train --ranks N, torchrun): its local rank's. Throws WorldError
// naming the rank when it sees several devices but fewer than its local rank needs.
int cuda_device_index(const World& world, int visible);

// The first host of a Slurm node list: "gpu[003-004,010],login1" -> "gpu003". Throws WorldError
// for a list that cannot be read.
std::string first_host_of_node_list(const std::string& node_list);

}  // namespace isda::distributed
