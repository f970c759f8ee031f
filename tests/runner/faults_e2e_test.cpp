// The fault battery: isda-run on a small Fashion-MNIST-format sweep (4 runs, 2 CPU slots) is
// killed with SIGKILL at random moments (the coordinator, a worker, or the whole process group,
// often within 50-400 ms of a launch), runs out of disk space mid-run, and meets corrupt files. A
// rerun must then finish the sweep with a store equal, in every column but wall time, to that of
// a sweep never interrupted, and one bad run must never stop the others.
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/store.h"
#include "support/idx_files.h"
#include "support/subprocess.h"
#include "train/run_directory.h"

#include <fmt/format.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <sstream>
#include <thread>

namespace isda {
namespace {

using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

// Everything the store says of a run except wall times (seconds, images/s, timestamps), as text
// with floats in hex so that equality is bit-for-bit (NaN included).
std::map<std::string, std::string> snapshot(const std::string& db) {
  auto store = results::ResultsStore::open(db, results::ResultsStore::Mode::reader);
  std::map<std::string, std::string> runs;
  for (const auto& sweep : list_sweeps(store)) {
    for (const auto& run : runs_of_sweep(store, sweep.id)) {
      std::string text = fmt::format("state {} error '{}' failures {}\n", results::to_string(run.state),
                                     run.error.substr(0, run.error.find('\n')), run.failures);
      for (const auto& e : epochs_of(store, run.id)) {
        text += fmt::format("epoch {} {:a} {:a} {:a} {:a} {:a} {:a} {:a}\n", e.epoch, e.train_loss, e.train_error,
                            e.test_error, e.validation_error, e.lambda, e.lr, e.test_top5_error);
      }
      for (const auto& f : finals_of(store, {run.id})) {
        text += fmt::format("final {:a} {:a} {:a} {:a} {} {:a}\n", f.final_test_error, f.best_test_error,
                            f.last10_test_error, f.last10_validation_error, f.epochs, f.last10_test_top5_error);
      }
      runs[run.id] = text;
    }
  }
  return runs;
}

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// The exit code of `pid` if it has exited (reaping it), else -1.
int exit_code_if_done(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, WNOHANG) != pid) return -1;
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

class Faults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::ScratchDir;
    const auto data = dir_->file("data");
    std::filesystem::create_directories(data);
    testing::write_synthetic_fashion_mnist(data, 384, 100, 9);
    spec_ = new std::string(dir_->file("sweep.json"));
    std::ofstream(*spec_) << nlohmann::json{
        {"name", "faults"},
        {"base", {{"data_root", data}, {"model", "resnet8"}, {"epochs", 3}, {"batch_size", 32}, {"lr", 0.05},
                  {"lr_milestones", {2}}, {"augment", "standard"}}},
        {"grid", {{"method", {"ce", "isda"}}}},
        {"seeds", {1, 2}}}.dump();
    const auto started = Clock::now();
    const auto clean = testing::run_process(command_of("clean"));
    ASSERT_EQ(clean.exit_code, 0) << clean.err;
    clean_sweep_ = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - started);
    expected_ = new std::map<std::string, std::string>(snapshot(dir_->file("clean.db")));
  }
  static void TearDownTestSuite() {
    delete expected_;
    delete spec_;
    delete dir_;
  }

  static std::vector<std::string> command_of(const std::string& name) {
    return {ISDA_RUN_BINARY, *spec_,  "--db",  dir_->file(name + ".db"), "--runs-dir", dir_->file(name + "-runs"),
            "--gpus",        "none",  "--cpu-slots", "2", "--threads", "1", "--worker", ISDA_TRAIN_BINARY};
  }

  // A moment inside the runs' training on any machine: 150 ms to an eighth of what the whole sweep
  // takes here uninterrupted (a fixed 0.4-3 s let a fast machine finish the sweep in 3 kills).
  static std::chrono::milliseconds later_moment(std::mt19937& random) {
    return std::chrono::milliseconds(150 + random() % static_cast<uint64_t>(std::max<int64_t>(1, clean_sweep_.count() / 8)));
  }

  // Starts the coordinator, waits for its next launch, lets `delay` pass and kills what `kill`
  // says. Returns false when the coordinator exited by itself before launching anything.
  bool kill_after_a_launch(const std::string& name, std::chrono::milliseconds delay, bool whole_group,
                           int* exit_code) {
    const auto err = dir_->file(name + ".err");
    const size_t launched = count_of(read_text(err), "] started ");
    const pid_t pid = testing::start_process(command_of(name), dir_->file(name + ".out"), err, whole_group);
    const auto deadline = Clock::now() + std::chrono::seconds(120);
    while (count_of(read_text(err), "] started ") == launched) {
      if ((*exit_code = exit_code_if_done(pid)) >= 0) return false;
      if (Clock::now() > deadline) {
        ::kill(pid, SIGKILL);
        testing::wait_process(pid);
        ADD_FAILURE() << "no launch within 120 s";
        return false;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    std::this_thread::sleep_for(delay);
    ::kill(whole_group ? -pid : pid, SIGKILL);
    *exit_code = testing::wait_process(pid);
    return true;
  }

  // Reruns until the sweep says it is done (exit 0), as a user would; at most `reruns` times.
  void finish(const std::string& name, int reruns = 3) {
    testing::ProcessResult last;
    for (int i = 0; i < reruns; ++i) {
      last = testing::run_process(command_of(name));
      if (last.exit_code == 0) break;
    }
    ASSERT_EQ(last.exit_code, 0) << last.err;
    EXPECT_EQ(snapshot(dir_->file(name + ".db")), *expected_);
    // Nothing left behind: every worker has exited with its coordinator.
    for (const auto& entry : std::filesystem::directory_iterator(dir_->file(name + "-runs"))) {
      EXPECT_EQ(train::RunDirectory::lock_holder(entry.path().string()), 0) << entry.path();
    }
  }

  static testing::ScratchDir* dir_;
  static std::string* spec_;
  static std::map<std::string, std::string>* expected_;
  static std::chrono::milliseconds clean_sweep_;  // the uninterrupted sweep's wall time on this machine
};

testing::ScratchDir* Faults::dir_ = nullptr;
std::chrono::milliseconds Faults::clean_sweep_{0};
std::string* Faults::spec_ = nullptr;
std::map<std::string, std::string>* Faults::expected_ = nullptr;

// The coordinator killed 50-400 ms after it started a worker (the instant that used to lose runs)
// and at later moments; each rerun finds the orphans, stops or waits for them, and resumes.
TEST_F(Faults, CoordinatorKilledRightAfterLaunchesLosesNothing) {
  std::mt19937 random(11);
  int kills = 0, code = -1;
  for (int round = 0; round < 40 && kills < 12; ++round) {
    const auto delay = round % 3 == 2 ? later_moment(random) : std::chrono::milliseconds(50 + random() % 351);
    if (!kill_after_a_launch("coordinator", delay, /*whole_group=*/false, &code)) break;
    ++kills;
  }
  EXPECT_GE(kills, 10);
  std::cout << "[ kills    ] coordinator: " << kills << '\n';
  finish("coordinator");
}

// The coordinator and every worker at once (kill -9 of the process group, as a closed terminal or
// a job scheduler does).
TEST_F(Faults, ProcessGroupKilledAtRandomMomentsLosesNothing) {
  std::mt19937 random(12);
  int kills = 0, code = -1;
  for (int round = 0; round < 40 && kills < 10; ++round) {
    const auto delay = round % 2 == 1 ? std::chrono::milliseconds(50 + random() % 351) : later_moment(random);
    if (!kill_after_a_launch("group", delay, /*whole_group=*/true, &code)) break;
    ++kills;
  }
  EXPECT_GE(kills, 8);
  std::cout << "[ kills    ] process group: " << kills << '\n';
  finish("group");
}

// Workers killed by something else (the OOM killer, a user): the coordinator resumes them in the
// same invocation, a few times each, and says so.
TEST_F(Faults, WorkersKilledByOthersAreResumed) {
  std::mt19937 random(13);
  const auto runs = dir_->file("workers-runs");
  const auto err = dir_->file("workers.err");
  int kills = 0;
  for (int invocation = 0; invocation < 4 && kills < 10; ++invocation) {
    const pid_t pid = testing::start_process(command_of("workers"), dir_->file("workers.out"), err);
    size_t launched = count_of(read_text(err), "] started ");
    while (exit_code_if_done(pid) < 0) {
      if (kills >= 10 || count_of(read_text(err), "] started ") == launched) {
        std::this_thread::sleep_for(std::chrono::milliseconds(5));
        continue;
      }
      launched = count_of(read_text(err), "] started ");
      std::this_thread::sleep_for(kills % 2 == 0 ? std::chrono::milliseconds(50 + random() % 351) : later_moment(random));
      std::vector<int> workers;
      for (const auto& entry : std::filesystem::directory_iterator(runs)) {
        const int holder = train::RunDirectory::lock_holder(entry.path().string());
        if (holder > 0) workers.push_back(holder);
      }
      if (workers.empty()) continue;
      ::kill(workers[random() % workers.size()], SIGKILL);
      ++kills;
    }
  }
  EXPECT_GE(kills, 8);
  EXPECT_THAT(read_text(err), HasSubstr("not sent by isda-run); resuming it"));
  std::cout << "[ kills    ] workers: " << kills << '\n';
  finish("workers");
}

// One bad run never stops the others, and each fails with its own reason: a garbage line in one
// run's event log, a corrupt checkpoint (beside a stale `interrupted` record of an earlier attempt,
// which must not be inherited), and a torn last line without a checkpoint (dropped, not glued).
TEST_F(Faults, CorruptFilesFailOnlyTheirRunWithTheirOwnReason) {
  const auto listed = testing::run_process({ISDA_RUN_BINARY, *spec_, "--db", dir_->file("corrupt.db"), "--dry-run"});
  ASSERT_EQ(listed.exit_code, 0) << listed.err;
  std::vector<std::string> ids;
  const std::regex id_line("(^|\n)([0-9a-f]{16})  ");
  for (std::sregex_iterator it(listed.out.begin(), listed.out.end(), id_line), end; it != end; ++it) {
    ids.push_back((*it)[2]);
  }
  ASSERT_EQ(ids.size(), 4u) << listed.out;
  const auto runs = dir_->file("corrupt-runs");
  for (const auto& id : ids) std::filesystem::create_directories(runs + "/" + id);
  std::ofstream(runs + "/" + ids[0] + "/events.jsonl") << "this is not JSON\n";
  std::ofstream(runs + "/" + ids[1] + "/checkpoint.pt") << "ISDACKPT garbage";
  std::ofstream(runs + "/" + ids[1] + "/events.jsonl") << R"({"event":"interrupted","signal":15,"epoch":1,"step":3})"
                                                       << '\n';
  std::ofstream(runs + "/" + ids[2] + "/events.jsonl") << R"({"event":"start","epo)";  // torn, no checkpoint

  const auto r = testing::run_process(command_of("corrupt"));
  EXPECT_EQ(r.exit_code, 1) << "not every run is done";
  auto store = results::ResultsStore::open(dir_->file("corrupt.db"), results::ResultsStore::Mode::reader);
  const auto bad_log = find_run(store, ids[0]);
  EXPECT_EQ(bad_log->state, results::RunState::failed);
  EXPECT_THAT(bad_log->error, HasSubstr(runs + "/" + ids[0] + "/events.jsonl: line 1 is not JSON"));
  const auto bad_checkpoint = find_run(store, ids[1]);
  EXPECT_EQ(bad_checkpoint->state, results::RunState::failed);
  EXPECT_THAT(bad_checkpoint->error, HasSubstr(runs + "/" + ids[1] + "/checkpoint.pt"));
  EXPECT_EQ(bad_checkpoint->attempts, 2) << "retries: 1 allows one retry, then it fails for good";
  EXPECT_EQ(bad_checkpoint->failures, 2);
  const auto expected = *expected_;
  const auto got = snapshot(dir_->file("corrupt.db"));
  for (size_t i = 2; i < 4; ++i) EXPECT_EQ(got.at(ids[i]), expected.at(ids[i])) << ids[i];

  // A rerun does not retry what failed for good, and says the sweep is not done.
  const auto again = testing::run_process(command_of("corrupt"));
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_THAT(again.err, ::testing::Not(HasSubstr("started")));
  EXPECT_EQ(find_run(store, ids[1])->attempts, 2);
}

// The disk fills up mid-run (a 3 MB tmpfs holds the run directories): runs fail for the machine,
// which costs none of their retries; once space is back a rerun finishes them as if nothing had
// happened. Needs root to mount (skipped elsewhere).
TEST_F(Faults, DiskFullMidRunThenSpaceRestoredLosesNothing) {
  if (testing::run_process({"/usr/bin/unshare", "-m", "/bin/sh", "-c", "mount -t tmpfs -o size=1m tmpfs /mnt"}).exit_code != 0) {
    GTEST_SKIP() << "cannot mount a tmpfs in a private mount namespace here (needs root)";
  }
  const auto runs = dir_->file("full-runs");
  std::filesystem::create_directories(runs);
  auto quoted = [](const std::vector<std::string>& words) {
    std::string line;
    for (const auto& w : words) line += "'" + w + "' ";
    return line;
  };
  const auto command = quoted(command_of("full"));
  const auto script = fmt::format(
      "mount -t tmpfs -o size=3m tmpfs '{0}' || exit 90\n"
      "{1} >'{2}.out1' 2>'{2}.err1'; echo \"first $?\"\n"
      "mount -o remount,size=256m '{0}' || exit 91\n"
      "{1} >'{2}.out2' 2>'{2}.err2'; echo \"second $?\"\n",
      runs, command, dir_->file("full"));
  const auto r = testing::run_process({"/usr/bin/unshare", "-m", "/bin/bash", "-c", script});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto first = read_text(dir_->file("full.err1"));
  const auto second = read_text(dir_->file("full.err2"));
  EXPECT_THAT(r.out, HasSubstr("first 1")) << first;
  EXPECT_THAT(first, HasSubstr("No space left on device"));
  EXPECT_THAT(first, HasSubstr("for the machine"));
  EXPECT_THAT(r.out, HasSubstr("second 0")) << second;
  EXPECT_THAT(second, HasSubstr("that does not count against its retries"));
  EXPECT_EQ(snapshot(dir_->file("full.db")), *expected_);  // failures 0 everywhere, results exact
}

}  // namespace
}  // namespace isda
