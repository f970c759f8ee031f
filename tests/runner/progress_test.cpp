// isda-run's progress display: durations, the live block, the ETA and nvidia-smi's readout.
#include "runner/gpu_use.h"
#include "runner/progress.h"

#include "support/idx_files.h"  // ScratchDir

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

namespace isda::runner {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;

ProgressSnapshot two_running() {
  ProgressSnapshot p;
  p.sweep = "table5";
  p.counts.done = 3;
  p.counts.running = 2;
  p.counts.pending = 4;
  p.counts.interrupted = 1;
  p.waiting = 6;
  p.elapsed = 125;
  p.active = {{"gpu0", "aaaa", R"({"seed":0})", 10, 240, 31.5}, {"gpu0", "bbbb", R"({"seed":1})", 0, 240, 0}};
  p.gpu_use = {"GPU 0 NVIDIA H100: 87% busy, 23.1/79.6 GiB"};
  return p;
}

TEST(Progress, DurationsReadLikeAClock) {
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(59.4), "59s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(7620), "2h07m");
  EXPECT_EQ(format_duration(3 * 86400 + 4 * 3600 + 10), "3d04h");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Progress, TheBlockShowsStatesEpochsEtaAndGpus) {
  auto p = two_running();
  p.eta = 3700;
  const auto lines = render_progress(p, 200);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0], "table5: 3/16 done, 2 running, 0 failed, 5 pending, 6 waiting for runs they depend on | 2m05s elapsed, ETA 1h01m");
  EXPECT_THAT(lines[1], HasSubstr("gpu0  aaaa epoch  10/240"));
  EXPECT_THAT(lines[1], HasSubstr("32s/epoch"));
  EXPECT_THAT(lines[2], ::testing::Not(HasSubstr("/epoch")));
  EXPECT_EQ(lines[3], "  GPU 0 NVIDIA H100: 87% busy, 23.1/79.6 GiB");
  for (const auto& line : render_progress(p, 30)) EXPECT_LE(line.size(), 30u);
}

TEST(Progress, EtaSpreadsTheEpochsLeftOverTheSlotsButNeverBeatsTheLongestRun) {
  auto p = two_running();
  p.waiting = 0;
  // 230 + 240 running + 2 x 240 pending = 950 epochs over 2 slots at 10 s.
  EXPECT_DOUBLE_EQ(estimate_eta(p, {240, 240}, 0, 10, 2), 4750);
  // With 100 slots the longest run (240 epochs) bounds it.
  EXPECT_DOUBLE_EQ(estimate_eta(p, {240, 240}, 0, 10, 100), 2400);
  p.waiting = 2;
  EXPECT_DOUBLE_EQ(estimate_eta(p, {}, 100, 1, 1), 230 + 240 + 200);
  EXPECT_LT(estimate_eta(p, {}, 100, 0, 1), 0) << "unknown before the first epoch";
}

TEST(Progress, PlainOutputIsOnlyLogLines) {
  std::ostringstream out;
  {
    ProgressDisplay display(out, /*live=*/false);
    display.update(two_running(), true);
    display.event("started aaaa");
  }
  EXPECT_EQ(out.str(), "started aaaa\n");
}

TEST(Progress, ALiveBlockIsRedrawnBelowTheLog) {
  std::ostringstream out;
  ProgressDisplay display(out, /*live=*/true, 200);
  display.update(two_running(), true);
  display.event("done aaaa");
  display.finish();
  const auto text = out.str();
  // The block (4 lines) is erased before the log line and drawn again after it, then erased.
  EXPECT_THAT(text, HasSubstr("\x1b[4F\x1b[Jdone aaaa\ntable5: "));
  EXPECT_EQ(text.substr(text.size() - 7), "\x1b[4F\x1b[J");
}

TEST(GpuUse, ParsesNvidiaSmiCsvAndSkipsUnreadableGpus) {
  const auto lines = parse_gpu_use(
      "0, NVIDIA H100 80GB HBM3, 87, 23654, 81559\n"
      "1, NVIDIA H100 80GB HBM3, [N/A], 0, 81559\n"
      "garbage\n");
  EXPECT_THAT(lines, ElementsAre("GPU 0 NVIDIA H100 80GB HBM3: 87% busy, 23.1/79.6 GiB"));
  EXPECT_TRUE(parse_gpu_use("").empty());
}

// A fake nvidia-smi: a shell script `body` in `dir`.
std::string fake_nvidia_smi(const testing::ScratchDir& dir, const std::string& body) {
  const auto path = dir.file("nvidia-smi");
  std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
  ::chmod(path.c_str(), 0755);
  return path;
}

// Whether process `pid` still runs (a zombie waiting for a parent that does not reap counts as gone).
bool process_runs(const std::string& pid) {
  std::ifstream stat("/proc/" + pid + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return false;
  const auto state = line.substr(line.rfind(')') + 2, 1);
  return state != "Z" && state != "X";
}

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

TEST(GpuUse, QueriesTheToolAndParsesItsAnswer) {
  testing::ScratchDir dir;
  const auto tool = fake_nvidia_smi(dir, "echo \"0, NVIDIA H200, 12, 2048, 143771\"");
  EXPECT_THAT(query_gpu_use(tool, std::chrono::seconds(5)), ElementsAre("GPU 0 NVIDIA H200: 12% busy, 2.0/140.4 GiB"));
  EXPECT_TRUE(query_gpu_use(fake_nvidia_smi(dir, "echo \"0, X, 1, 2, 3\"; exit 1"), std::chrono::seconds(5)).empty())
      << "a failed query shows nothing";
  EXPECT_TRUE(query_gpu_use(dir.file("absent"), std::chrono::seconds(5)).empty());
}

// A hung nvidia-smi (a driver that does not answer) must not freeze the coordinator: the query
// returns at its deadline with one line, and the tool and what it started are killed.
TEST(GpuUse, AHungToolIsKilledAtTheDeadline) {
  testing::ScratchDir dir;
  for (const std::string& body : {"sleep 1000 & echo $! > " + dir.file("child") + "; wait",  // silent
                                 "echo \"0, X, 1, 2, 3\"; sleep 1000 & echo $! > " + dir.file("child") + "; wait"}) {
    const auto tool = fake_nvidia_smi(dir, body);
    const auto start = std::chrono::steady_clock::now();
    const auto lines = query_gpu_use(tool, std::chrono::milliseconds(500));
    const double seconds = seconds_since(start);
    EXPECT_THAT(lines, ElementsAre("nvidia-smi gave no answer within 0.5 s (killed; GPU use not shown)")) << body;
    EXPECT_GE(seconds, 0.45);
    EXPECT_LT(seconds, 1.0);
    std::string child;
    std::ifstream(dir.file("child")) >> child;
    ASSERT_FALSE(child.empty());
    for (int i = 0; i < 100 && process_runs(child); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(process_runs(child)) << "the tool's own child must be killed too";
  }
}

// The query isda-run makes: nvidia-smi from PATH, 2 s.
TEST(GpuUse, AHungNvidiaSmiOnPathCostsTwoSeconds) {
  testing::ScratchDir dir;
  fake_nvidia_smi(dir, "exec sleep 1000");
  const std::string old_path = std::getenv("PATH") ? std::getenv("PATH") : "";
  ::setenv("PATH", (dir.path().string() + ":" + old_path).c_str(), 1);
  const auto start = std::chrono::steady_clock::now();
  const auto lines = query_gpu_use();
  const double seconds = seconds_since(start);
  ::setenv("PATH", old_path.c_str(), 1);
  EXPECT_THAT(lines, ElementsAre("nvidia-smi gave no answer within 2.0 s (killed; GPU use not shown)"));
  EXPECT_GE(seconds, 1.95);
  EXPECT_LT(seconds, 2.5);
}

}  // namespace
}  // namespace isda::runner
