#include "support/run_environment.h"

#include <gtest/gtest.h>
#include <torch/version.h>
#include <unistd.h>

#include <regex>

namespace isda::support {
namespace {

TEST(RunEnvironment, VersionNumbersReadAsNvidiaWritesThem) {
  EXPECT_EQ(cuda_version_text(12080), "12.8");
  EXPECT_EQ(cuda_version_text(11070), "11.7");
  EXPECT_EQ(cuda_version_text(13000), "13.0");
  EXPECT_EQ(cuda_version_text(0), "");
  EXPECT_EQ(cudnn_version_text(8902), "8.9.2");   // cuDNN 8: major * 1000 + minor * 100 + patch
  EXPECT_EQ(cudnn_version_text(90100), "9.1.0");  // cuDNN 9: major * 10000 + minor * 100 + patch
  EXPECT_EQ(cudnn_version_text(91002), "9.10.2");
  EXPECT_EQ(cudnn_version_text(0), "");
}

TEST(RunEnvironment, TheDriverVersionIsReadFromProcInEitherKernelModule) {
  EXPECT_EQ(nvidia_driver_version("NVRM version: NVIDIA UNIX x86_64 Kernel Module  550.54.14  Thu Feb 22 01:44:30 UTC "
                                  "2024\nGCC version:  gcc version 12.2.0 (Debian 12.2.0-14)\n"),
            "550.54.14");
  EXPECT_EQ(nvidia_driver_version("NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  570.124.06  Release Build  "
                                  "(dvs-builder@U16-I3-B03-4-3)  Wed Feb 26 04:40:52 UTC 2025\n"),
            "570.124.06");
  EXPECT_EQ(nvidia_driver_version(""), "");
  EXPECT_EQ(nvidia_driver_version("no driver here 12\n1.2.3"), "");  // only the first line counts
}

TEST(RunEnvironment, OnTheCpuItNamesTheHostTheBuildAndLibTorch) {
  const auto environment = describe_environment(false, 0);
  char host[256] = {};
  ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
  EXPECT_EQ(environment.host, host);
  EXPECT_EQ(environment.libtorch, TORCH_VERSION);
  // Built from a git checkout (as here and in CI) the commit is a full hash; from a tarball, empty.
  EXPECT_TRUE(environment.git_commit.empty() || std::regex_match(environment.git_commit, std::regex("[0-9a-f]{40}")))
      << environment.git_commit;
  EXPECT_EQ(environment.cuda, "");
  EXPECT_EQ(environment.cudnn, "");
  EXPECT_EQ(environment.gpu_model, "");
  EXPECT_EQ(environment.driver, "");
}

}  // namespace
}  // namespace isda::support
