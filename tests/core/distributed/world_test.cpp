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
  EXPECT_EQ(world.master_port, 29500 + 123456 % 10000);
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
  EXPECT_THAT(error_of({{"WORLD_SIZE", "two"}}), HasSubstr("WORLD_SIZE: expected an integer >= 1, got \"two\""));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}, {"RANK", "2"}, {"MASTER_ADDR", "h"}, {"MASTER_PORT", "1"}}),
              HasSubstr("RANK is 2 but WORLD_SIZE is 2"));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}, {"RANK", "1"}}), HasSubstr("MASTER_ADDR is not set"));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}, {"RANK", "0"}, {"MASTER_ADDR", "h"}}), HasSubstr("MASTER_PORT is not set"));
  EXPECT_THAT(error_of({{"WORLD_SIZE", "2"}}), HasSubstr("RANK is not set"));
}

}  // namespace
}  // namespace isda::distributed
