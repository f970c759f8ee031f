// Where a process stands in a data-parallel run, from torchrun-style and Slurm variables.

#include "distributed/world.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>

namespace isda::distributed {
namespace {

using ::testing::HasSubstr;

Environment environment_of(std::map<std::string, std::string> values) {
  return [values](const char* name) -> std::optional<std::string> {
    const auto it = values.find(name);
    if (it == values.end()) return std::nullopt;
    return it->second;
  };
}

std::string error_of(std::map<std::string, std::string> values) {
  try {
    world_from_environment(environment_of(std::move(values)));
  } catch (const WorldError& e) {
    return e.what();
  }
  return "no error";
}

TEST(World, NothingSetIsOneProcess) {
  const auto world = world_from_environment(environment_of({}));
  EXPECT_FALSE(world.distributed());
  EXPECT_EQ(world.rank, 0);
  EXPECT_EQ(world.size, 1);
}

TEST(World, ReadsTorchrunStyleVariables) {
  const auto world = world_from_environment(environment_of(
      {{"WORLD_SIZE", "4"}, {"RANK", "3"}, {"LOCAL_RANK", "1"}, {"MASTER_ADDR", "node7"}, {"MASTER_PORT", "29611"}}));
  EXPECT_TRUE(world.distributed());
  EXPECT_EQ(world.rank, 3);
  EXPECT_EQ(world.size, 4);
  EXPECT_EQ(world.local_rank, 1);
  EXPECT_EQ(world.master_addr, "node7");
  EXPECT_EQ(world.master_port, 29611);
}

TEST(World, ReadsAnSrunStep) {
  const auto world = world_from_environment(environment_of({{"SLURM_STEP_ID", "0"},
                                                            {"SLURM_NTASKS", "8"},
                                                            {"SLURM_PROCID", "5"},
                                                            {"SLURM_LOCALID", "1"},
                                                            {"SLURM_JOB_ID", "123456"},
                                                            {"SLURM_STEP_NODELIST", "gpu[003-006,010]"}}));
  EXPECT_EQ(world.source, "slurm");
  EXPECT_EQ(world.rank, 5);
  EXPECT_EQ(world.size, 8);
  EXPECT_EQ(world.local_rank, 1);
  EXPECT_EQ(world.master_addr, "gpu003");
  EXPECT_EQ(world.master_port, 20000 + 123456 % 12000);  // below the ephemeral ports (32768 and up)
  EXPECT_TRUE(world.rendezvous_file.empty());
}

std::map<std::string, std::string> srun_task(std::string job_id, std::string proc_id) {
  return {{"SLURM_STEP_ID", "0"},  {"SLURM_NTASKS", "2"},          {"SLURM_PROCID", std::move(proc_id)},
          {"SLURM_LOCALID", "1"},  {"SLURM_JOB_ID", std::move(job_id)}, {"SLURM_STEP_NODELIST", "gpu[003-004]"}};
}

// Real clusters run job ids in the tens of millions (Slurm's default MaxJobId is 67,043,328).
TEST(World, ReadsAJobIdOfTensOfMillions) {
  const auto world = world_from_environment(environment_of(srun_task("40000123", "1")));
  EXPECT_EQ(world.rank, 1);
  EXPECT_EQ(world.master_port, 20000 + 40000123 % 12000);
  EXPECT_GE(world.master_port, 1024);
  EXPECT_LT(world.master_port, 32768);
}

// With a run directory (shared storage under Slurm) no port is guessed: the ranks of one job step
// and attempt meet through one file there, another job or a requeued attempt through another.
TEST(World, AnSrunStepWithARunDirectoryMeetsThroughAFileThere) {
  const auto world = world_from_environment(environment_of(srun_task("40000123", "0")), "/shared/runs/r1");
  EXPECT_EQ(world.rendezvous_file, "/shared/runs/r1/rendezvous/slurm-40000123.0.0");
  auto requeued = srun_task("40000123", "0");
  requeued["SLURM_RESTART_COUNT"] = "2";
  EXPECT_EQ(world_from_environment(environment_of(requeued), "/shared/runs/r1").rendezvous_file,
            "/shared/runs/r1/rendezvous/slurm-40000123.0.2");
  auto with_port = srun_task("40000123", "0");
  with_port["MASTER_PORT"] = "29611";
  const auto explicit_port = world_from_environment(environment_of(with_port), "/shared/runs/r1");
  EXPECT_TRUE(explicit_port.rendezvous_file.empty());
  EXPECT_EQ(explicit_port.master_port, 29611);
}

TEST(World, TheLaunchersRendezvousFileReplacesThePort) {
  const auto world = world_from_environment(environment_of(
      {{"WORLD_SIZE", "2"}, {"RANK", "1"}, {"MASTER_ADDR", "127.0.0.1"}, {"ISDA_RENDEZVOUS_FILE", "/tmp/x/store"}}));
  EXPECT_EQ(world.rendezvous_file, "/tmp/x/store");
}

// srun --gpus-per-task=1 gives each task one device, device 0 of what it sees, whatever its local
// rank; a launcher that shows every rank all the node's devices gives rank r device r.
TEST(World, EachRankDrivesADeviceItSees) {
  const auto world = world_from_environment(environment_of(srun_task("7", "1")));
  ASSERT_EQ(world.local_rank, 1);
  EXPECT_EQ(cuda_device_index(world, 1), 0);
  EXPECT_EQ(cuda_device_index(world, 4), 1);
  EXPECT_EQ(cuda_device_index(World{}, 4), 0);
  World third;
  third.size = 4;
  third.rank = 3;
  third.local_rank = 3;
  EXPECT_THROW(cuda_device_index(third, 2), WorldError);
  EXPECT_THROW(cuda_device_index(World{}, 0), WorldError);
}

TEST(World, ABatchScriptOrAOneTaskStepIsOneProcess) {
  EXPECT_FALSE(world_from_environment(environment_of({{"SLURM_NTASKS", "8"}, {"SLURM_PROCID", "0"}})).distributed());
  EXPECT_FALSE(
      world_from_environment(environment_of({{"SLURM_STEP_ID", "0"}, {"SLURM_NTASKS", "1"}, {"SLURM_PROCID", "0"}}))
          .distributed());
}

TEST(World, FirstHostOfASlurmNodeList) {
  EXPECT_EQ(first_host_of_node_list("node1"), "node1");
  EXPECT_EQ(first_host_of_node_list("node1,node2"), "node1");
  EXPECT_EQ(first_host_of_node_list("gpu[003-004,010],login1"), "gpu003");
  EXPECT_EQ(first_host_of_node_list("a[7],b"), "a7");
  EXPECT_EQ(first_host_of_node_list("rack[2]-n[1-4]"), "rack2-n1");
  EXPECT_THROW(first_host_of_node_list(""), WorldError);
  EXPECT_THROW(first_host_of_node_list("gpu[003"), WorldError);
}

TEST(World, BadValuesNameTheVariable) {
  EXPECT_THAT(error_of({{"WORLD_SIZE", "two"}}), HasSubstr("WORLD_SIZE: expected an integer from 1 to 16777216, got \"two\""));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "70000"}}),
              HasSubstr("MASTER_PORT: expected an integer from 1 to 65535, got \"70000\""));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
              HasSubstr("RANK is 2 but WORLD_SIZE is 2"));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}}), HasSubstr("MASTER_ADDR is not set"));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}}), HasSubstr("MASTER_PORT is not set"));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}}), HasSubstr("RANK is not set"));
}

}  // namespace
}  // namespace isda::distributed
