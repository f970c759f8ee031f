// isda-run's progress display: durations, the live block, the ETA and nvidia-smi's readout.
#include "runner/gpu_use.h"
#include "runner/progress.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <sstream>

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
  EXPECT_EQ(lines[0], "table5: 3/16 done, 2 running, 0 failed, 5 pending, 6 await lambda0 | 2m05s elapsed, ETA 1h01m");
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

}  // namespace
}  // namespace isda::runner
