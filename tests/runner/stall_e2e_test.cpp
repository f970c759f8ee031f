// The stall battery: a worker that stops making progress (SIGSTOPped, or blocked in a read of its
// data that never returns) in a 4-run sweep on 2 CPU slots. isda-run finds it after the spec's
// stall limit, writes what it learnt to stall.txt, stops it, records fault `stalled` and retries
// it; the sweep ends with the results of one never stalled, bit for bit, and no process behind.
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"
#include "support/idx_files.h"
#include "support/subprocess.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

namespace isda {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Every run's metrics (floats in hex: bit for bit), without wall times or the record of failures.
std::map<std::string, std::string> metrics(const std::string& db) {
  auto store = results::ResultsStore::open(db, results::ResultsStore::Mode::reader);
  std::map<std::string, std::string> runs;
  for (const auto& sweep : list_sweeps(store)) {
    for (const auto& run : runs_of_sweep(store, sweep.id)) {
      std::string text = results::to_string(run.state) + std::string("\n");
      for (const auto& e : epochs_of(store, run.id)) {
        text += fmt::format("epoch {} {:a} {:a} {:a} {:a}\n", e.epoch, e.train_loss, e.train_error, e.test_error, e.lambda);
      }
      for (const auto& f : finals_of(store, {run.id})) text += fmt::format("final {:a} {:a}\n", f.final_test_error, f.last10_test_error);
      runs[run.id] = text;
    }
  }
  return runs;
}

// Processes whose command line mentions `part` (a test's own folder).
std::vector<int> processes_mentioning(const std::string& part) {
  std::vector<int> found;
  for (const auto& entry : fs::directory_iterator("/proc")) {
    const auto name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) continue;
    auto command = read_text(entry.path().string() + "/cmdline");
    for (auto& c : command) c = c == '\0' ? ' ' : c;
    if (command.find(part) != std::string::npos && std::stoi(name) != ::getpid()) found.push_back(std::stoi(name));
  }
  return found;
}

class Stalls : public ::testing::Test {
 protected:
  static constexpr int kStallLimit = 8;  // seconds: far above a step of these runs, even on a loaded machine

  void SetUp() override {
    data_ = dir_.file("data");
    fs::create_directories(data_);
    testing::write_synthetic_fashion_mnist(data_, 384, 100, 9);
  }

  std::string write_spec(const std::string& data_root) const {
    const auto path = dir_.file("sweep-" + std::to_string(++specs_) + ".json");
    std::ofstream(path) << nlohmann::json{
        {"name", "stalls"},
        {"base", {{"data_root", data_root}, {"model", "resnet8"}, {"epochs", 3}, {"batch_size", 32}, {"lr", 0.05},
                  {"lr_milestones", {2}}, {"augment", "standard"}, {"stall_limit", kStallLimit}}},
        {"grid", {{"method", {"ce", "isda"}}}},
        {"seeds", {1, 2}},
        {"retries", 1}}.dump();
    return path;
  }

  std::vector<std::string> command(const std::string& spec, const std::string& name) const {
    return {ISDA_RUN_BINARY, spec, "--db", dir_.file(name + ".db"), "--runs-dir", dir_.file(name + "-runs"),
            "--gpus", "none", "--cpu-slots", "2", "--threads", "1", "--worker", ISDA_TRAIN_BINARY, "--plain"};
  }

  // The reference: the same sweep, never stalled.
  std::map<std::string, std::string> clean_metrics() {
    const auto clean = testing::run_process(command(write_spec(data_), "clean"));
    EXPECT_EQ(clean.exit_code, 0) << clean.err;
    return metrics(dir_.file("clean.db"));
  }

  // Runs that isda-run recorded as stalled (their stall.txt), and checks their store rows.
  std::vector<std::string> stalled_runs(const std::string& name) {
    std::vector<std::string> stalled;
    auto store = results::ResultsStore::open(dir_.file(name + ".db"), results::ResultsStore::Mode::reader);
    for (const auto& sweep : list_sweeps(store)) {
      for (const auto& run : runs_of_sweep(store, sweep.id)) {
        const auto report = dir_.file(name + "-runs/" + run.id + "/stall.txt");
        if (!fs::exists(report)) continue;
        stalled.push_back(run.id);
        EXPECT_EQ(run.failures, 1) << run.id;  // charged once, then retried
        EXPECT_EQ(run.fault, "stalled") << run.id;
        EXPECT_THAT(read_text(report), HasSubstr("stalled: no step finished for")) << run.id;
        EXPECT_THAT(read_text(report), HasSubstr("process ")) << run.id;  // where it hung
      }
    }
    return stalled;
  }

  testing::ScratchDir dir_;
  std::string data_;
  mutable int specs_ = 0;
};

// A worker stopped with SIGSTOP mid-training looks like any hang: no step finishes. It is named
// halfway to the limit, stopped at the limit (SIGTERM and SIGCONT: it checkpoints), retried, and
// resumes from where it stopped.
TEST_F(Stalls, AStoppedWorkerIsFoundStoppedAndRetried) {
  const auto expected = clean_metrics();
  const auto spec = write_spec(data_);
  const auto runs = dir_.file("stopped-runs");
  const auto pid = testing::start_process(command(spec, "stopped"), dir_.file("stopped.out"), dir_.file("stopped.err"));
  pid_t stopped = 0;
  const auto deadline = Clock::now() + std::chrono::seconds(120);
  while (stopped == 0 && Clock::now() < deadline) {  // a worker that has logged an epoch and is still training
    if (fs::exists(runs)) {
      for (const auto& entry : fs::directory_iterator(runs)) {
        const auto events = read_text(entry.path().string() + "/events.jsonl");
        if (events.find("\"event\":\"epoch\"") == std::string::npos || events.find("\"event\":\"done\"") != std::string::npos) continue;
        std::istringstream lock(read_text(entry.path().string() + "/lock"));
        int holder = 0;
        if (lock >> holder && holder > 0 && ::kill(holder, SIGSTOP) == 0) stopped = holder;
        break;
      }
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  ASSERT_GT(stopped, 0) << read_text(dir_.file("stopped.err"));
  EXPECT_EQ(testing::wait_process(pid), 0) << read_text(dir_.file("stopped.err"));
  const auto log = read_text(dir_.file("stopped.err"));
  EXPECT_THAT(log, HasSubstr("no step finished for"));
  EXPECT_THAT(log, HasSubstr("stopping it (SIGTERM, SIGKILL after"));
  EXPECT_THAT(log, HasSubstr("retrying"));
  EXPECT_EQ(stalled_runs("stopped").size(), 1u) << log;
  EXPECT_EQ(metrics(dir_.file("stopped.db")), expected);
  EXPECT_THAT(processes_mentioning(dir_.path().string()), ::testing::IsEmpty());
}

// Workers blocked opening their data (a FIFO nobody writes, as a hung network file system looks):
// both first workers hang before their first step; after the limit they are stopped, and their
// retries read the real file that took the FIFO's place meanwhile.
TEST_F(Stalls, WorkersBlockedInADataReadAreFoundStoppedAndRetried) {
  const auto expected = clean_metrics();
  const auto blocked = dir_.file("blocked-data");
  fs::create_directories(blocked);
  for (const auto& entry : fs::directory_iterator(data_)) fs::copy(entry.path(), blocked + "/" + entry.path().filename().string());
  const auto images = blocked + "/train-images-idx3-ubyte.gz";
  fs::rename(images, images + ".real");
  ASSERT_EQ(::mkfifo(images.c_str(), 0644), 0);
  const auto spec = write_spec(blocked);
  const auto pid = testing::start_process(command(spec, "blocked"), dir_.file("blocked.out"), dir_.file("blocked.err"));
  // Once both first workers are inside open() of the FIFO, the real file takes its path: they stay
  // blocked on the FIFO, and every later open finds the file.
  const auto deadline = Clock::now() + std::chrono::seconds(60);
  auto opened = [&] {
    int waiting = 0;
    for (const int p : processes_mentioning(dir_.file("blocked-runs"))) {
      const auto wchan = read_text("/proc/" + std::to_string(p) + "/wchan");  // fifo_open, wait_for_partner
      waiting += wchan.find("fifo") != std::string::npos || wchan.find("partner") != std::string::npos ||
                 wchan.find("pipe") != std::string::npos;
    }
    return waiting;
  };
  while (opened() < 2 && Clock::now() < deadline) std::this_thread::sleep_for(std::chrono::milliseconds(20));
  ASSERT_EQ(opened(), 2) << read_text(dir_.file("blocked.err"));
  fs::rename(images + ".real", images);
  EXPECT_EQ(testing::wait_process(pid), 0) << read_text(dir_.file("blocked.err"));
  EXPECT_EQ(stalled_runs("blocked").size(), 2u) << read_text(dir_.file("blocked.err"));
  EXPECT_EQ(metrics(dir_.file("blocked.db")), expected);
  EXPECT_THAT(processes_mentioning(dir_.path().string()), ::testing::IsEmpty());
}

}  // namespace
}  // namespace isda
