// isda-run --backend slurm against a real single-node Slurm on localhost (scripts/slurm-local.sh:
// munged, slurmctld, slurmd from Debian's packages, two fake GPUs). A smoke sweep with the two-stage
// lambda0 protocol goes out as job arrays; its coordinator is killed right after sbatch, before it
// recorded the job, and the rerun finds the job instead of submitting again; one run is signalled
// (SIGUSR1, as --signal=B:USR1@lead does) mid-training, requeues itself and finishes from its
// checkpoint; the final store equals a local run of the same spec. A second test cancels a sweep
// and resumes it. Needs root; skipped where slurm-wlm and munge are not installed.
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/slurm_submissions.h"
#include "results/store.h"
#include "support/idx_files.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <set>
#include <sstream>
#include <thread>

namespace isda {
namespace {

namespace fs = std::filesystem;
using ::testing::HasSubstr;
using Clock = std::chrono::steady_clock;

const std::string kScript = std::string(ISDA_SOURCE_DIR) + "/scripts/slurm-local.sh";

std::string read_text(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<nlohmann::json> events_of(const std::string& run_dir) {
  std::vector<nlohmann::json> events;
  std::istringstream in(read_text(run_dir + "/events.jsonl"));
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) events.push_back(nlohmann::json::parse(line, nullptr, false));
  }
  return events;
}

int count_events(const std::string& run_dir, const std::string& kind) {
  int n = 0;
  for (const auto& e : events_of(run_dir)) n += e.is_object() && e.value("event", "") == kind;
  return n;
}

// Waits for `pid` up to `seconds`; kills it (and fails) when it takes longer. Returns its exit code.
int wait_at_most(pid_t pid, double seconds) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  int status = 0;
  while (Clock::now() < deadline) {
    const pid_t done = waitpid(pid, &status, WNOHANG);
    if (done == pid) return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  kill(pid, SIGKILL);
  waitpid(pid, &status, 0);
  ADD_FAILURE() << "process " << pid << " ran longer than " << seconds << " s and was killed";
  return -1;
}

template <class Condition>
bool poll_until(double seconds, Condition condition) {
  const auto deadline = Clock::now() + std::chrono::duration<double>(seconds);
  while (Clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
  return condition();
}

struct Summary {
  std::map<std::string, std::vector<double>> losses;  // run id -> train loss per epoch
  std::map<std::string, double> last10;
  std::map<std::string, std::string> states;
  int done = 0;
};

Summary summarise(const std::string& db) {
  auto store = results::ResultsStore::open(db, results::ResultsStore::Mode::reader);
  Summary s;
  for (const auto& sweep : list_sweeps(store)) {
    std::vector<std::string> ids;
    for (const auto& run : runs_of_sweep(store, sweep.id)) {
      s.states[run.id] = results::to_string(run.state);
      s.done += run.state == results::RunState::done;
      for (const auto& e : epochs_of(store, run.id)) s.losses[run.id].push_back(e.train_loss);
      ids.push_back(run.id);
    }
    for (const auto& f : finals_of(store, ids)) s.last10[f.run_id] = f.last10_test_error;
  }
  return s;
}

class SlurmE2E : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (geteuid() != 0) {
      skip_reason_ = "needs root (it starts munged, slurmctld and slurmd)";
      return;
    }
    for (const char* daemon : {"/usr/sbin/munged", "/usr/sbin/slurmctld", "/usr/sbin/slurmd", "/usr/bin/sbatch"}) {
      if (!fs::exists(daemon)) {
        skip_reason_ = std::string(daemon) + " is not installed (scripts/setup.sh installs slurm-wlm and munge)";
        return;
      }
    }
    cluster_ = std::make_unique<testing::ScratchDir>();
    const auto dir = cluster_->file("slurm");
    const auto started = testing::run_process({"/bin/bash", kScript, "start", dir});
    start_error_ = started.exit_code == 0 ? "" : "slurm-local.sh start failed: " + started.err;
    setenv("SLURM_CONF", (dir + "/slurm.conf").c_str(), 1);
  }

  static void TearDownTestSuite() {
    if (cluster_) {
      const auto stopped = testing::run_process({"/bin/bash", kScript, "stop", cluster_->file("slurm")});
      EXPECT_EQ(stopped.exit_code, 0) << stopped.err;
      unsetenv("SLURM_CONF");
      cluster_.reset();
    }
  }

  void SetUp() override {
    if (!skip_reason_.empty()) GTEST_SKIP() << "local Slurm test skipped: " << skip_reason_;
    ASSERT_TRUE(start_error_.empty()) << start_error_;
    data_ = dir_.file("data");
    fs::create_directories(data_);
    testing::write_synthetic_fashion_mnist(data_, 384, 100, 9);
  }

  std::string write_spec(const std::string& name, const nlohmann::json& extra, int epochs = 3) const {
    nlohmann::json spec = {
        {"name", name},
        {"base", {{"data_root", data_}, {"model", "resnet8"}, {"epochs", epochs}, {"batch_size", 32}, {"lr", 0.05},
                  {"lr_milestones", {epochs - 1}}, {"augment", "standard"}}},
        {"seeds", {1, 2}}};
    spec.update(extra);
    const auto path = dir_.file(name + ".json");
    std::ofstream(path) << spec.dump(2);
    return path;
  }

  std::vector<std::string> local_command(const std::string& spec, const std::string& name) const {
    return {ISDA_RUN_BINARY, spec, "--db", dir_.file(name + ".db"), "--runs-dir", dir_.file(name + "-runs"), "--gpus",
            "none", "--cpu-slots", "2", "--threads", "1", "--worker", ISDA_TRAIN_BINARY, "--plain"};
  }

  std::vector<std::string> slurm_command(const std::string& spec, const std::string& name, bool wait) const {
    std::vector<std::string> c = {ISDA_RUN_BINARY, spec, "--backend", "slurm", "--db", dir_.file(name + ".db"),
                                  "--runs-dir", dir_.file(name + "-runs"), "--gres", "gpu:1", "--threads", "1",
                                  "--time", "00:20:00", "--signal-lead", "30", "--worker", ISDA_TRAIN_BINARY,
                                  "--sbatch-arg=--mem=1G", "--poll", "1"};
    if (wait) c.push_back("--wait");
    return c;
  }

  // The Slurm sweep's store (slurm.db) holds `runs` done runs with the metrics a local run of the
  // same spec gives, bit for bit.
  void expect_store_of_a_local_run(const std::string& spec, int runs) const {
    const auto local = testing::run_process(local_command(spec, "local"));
    ASSERT_EQ(local.exit_code, 0) << local.err;
    const auto expected = summarise(dir_.file("local.db"));
    const auto got = summarise(dir_.file("slurm.db"));
    EXPECT_EQ(got.done, runs);
    EXPECT_EQ(got.losses, expected.losses);
    EXPECT_EQ(got.last10, expected.last10);
  }

  // The jobs of one store as Slurm knows them: job name -> array job ids.
  static std::map<std::string, std::set<std::string>> slurm_jobs(const std::string& prefix) {
    const auto r = testing::run_process({"/usr/bin/squeue", "-h", "-r", "-t", "all", "-o", "%j|%F|%T"});
    EXPECT_EQ(r.exit_code, 0) << r.err;
    std::map<std::string, std::set<std::string>> jobs;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      const auto bar = line.find('|');
      const auto name = line.substr(0, bar);
      if (name.rfind(prefix, 0) == 0) jobs[name].insert(line.substr(bar + 1, line.find('|', bar + 1) - bar - 1));
    }
    return jobs;
  }

  static std::string live_states(const std::string& prefix) {
    const auto r = testing::run_process({"/usr/bin/squeue", "-h", "-r", "-o", "%j|%i|%T"});
    std::string live;
    std::istringstream in(r.out);
    std::string line;
    while (std::getline(in, line)) {
      if (line.rfind(prefix, 0) == 0) live += line + "\n";
    }
    return live;
  }

  static inline std::unique_ptr<testing::ScratchDir> cluster_;
  static inline std::string skip_reason_;
  static inline std::string start_error_;
  testing::ScratchDir dir_;
  std::string data_;
};

TEST_F(SlurmE2E, SmokeSweepSurvivesACoordinatorKillAndARequeueAndEqualsALocalRun) {
  // Two-stage: the isda runs' lambda0 is chosen by search runs (seed 1, no hold-out on this data),
  // then the final isda run of seed 2 joins in a second job array.
  const auto spec = write_spec(
      "slurm-smoke", {{"grid", {{"method", {"ce", "isda"}}}},
                      {"lambda0_search", {{"candidates", {0.1, 0.5}}, {"set", nlohmann::json::object()},
                                          {"metric", "final_test_error"}}}});
  const auto local = testing::run_process(local_command(spec, "local"));
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const auto expected = summarise(dir_.file("local.db"));
  ASSERT_EQ(expected.done, 5);

  // 1. The coordinator dies right after sbatch submitted its array, before it recorded the job id:
  // a wrapper in PATH runs the real sbatch, then hangs until the coordinator is killed.
  fs::create_directories(dir_.file("bin"));
  const auto submitted_mark = dir_.file("sbatch-done");
  {
    std::ofstream wrapper(dir_.file("bin/sbatch"));
    wrapper << "#!/bin/sh\n/usr/bin/sbatch \"$@\"\ncode=$?\ntouch " << submitted_mark << "\n"
            << "[ $code -eq 0 ] || exit $code\nexec sleep 300\n";
  }
  chmod(dir_.file("bin/sbatch").c_str(), 0755);
  const std::string path = std::getenv("PATH");
  setenv("PATH", (dir_.file("bin") + ":" + path).c_str(), 1);
  const auto first = testing::start_process(slurm_command(spec, "slurm", true), dir_.file("first.out"), dir_.file("first.err"));
  setenv("PATH", path.c_str(), 1);
  ASSERT_TRUE(poll_until(60, [&] { return fs::exists(submitted_mark); })) << read_text(dir_.file("first.err"));
  kill(first, SIGKILL);
  testing::wait_process(first);
  {
    auto store = results::ResultsStore::open(dir_.file("slurm.db"), results::ResultsStore::Mode::reader);
    const auto submissions = slurm_submissions(store, 0, false);
    ASSERT_EQ(submissions.size(), 1u);
    EXPECT_EQ(submissions[0].state, "intent");  // sbatch ran; the job id never reached the store
    EXPECT_EQ(submissions[0].tasks.size(), 4u);  // 2 search runs, 2 cross-entropy runs
  }
  ASSERT_EQ(slurm_jobs("isda.slurm-smoke").size(), 1u);

  // 2. The rerun takes the job over; meanwhile one run is signalled after its first epoch.
  const auto second = testing::start_process(slurm_command(spec, "slurm", true), dir_.file("second.out"), dir_.file("second.err"));
  std::string signalled;
  ASSERT_TRUE(poll_until(150, [&] {
    // One scancel, once: it can fail after its signal was delivered (the task ending under it),
    // and a second one could reach the task's next incarnation after its requeue. A run that logged
    // the interruption was signalled, whatever scancel said.
    for (const auto& entry : fs::directory_iterator(dir_.file("slurm-runs"))) {
      if (count_events(entry.path().string(), "interrupted") > 0) {
        signalled = entry.path().string();
        return true;
      }
    }
    if (!signalled.empty()) {  // asked already: wait for its interrupted event
      if (count_events(signalled, "done") == 0) return false;
      signalled.clear();  // it finished unsignalled (scancel failed early): ask another run
    }
    for (const auto& entry : fs::directory_iterator(dir_.file("slurm-runs"))) {
      const auto run_dir = entry.path().string();
      if (!fs::exists(run_dir + "/slurm-job") || count_events(run_dir, "epoch") < 1 || count_events(run_dir, "done") > 0) continue;
      std::istringstream mark(read_text(run_dir + "/slurm-job"));
      std::string name, task;
      mark >> name >> task;
      const auto r = testing::run_process({"/usr/bin/scancel", "-b", "--signal=USR1", task});
      signalled = run_dir;
      return r.exit_code == 0;
    }
    return false;
  })) << read_text(dir_.file("second.err"));
  const int code = wait_at_most(second, 300);
  const auto log = read_text(dir_.file("second.err"));
  ASSERT_EQ(code, 0) << log;
  EXPECT_THAT(log, HasSubstr("found job array"));
  // (Whether this coordinator saw the task between its requeue and its restart depends on timing;
  // the run directory below is the proof of the requeue.)

  // The signalled run checkpointed, was requeued by its own task and finished from its checkpoint.
  EXPECT_EQ(count_events(signalled, "interrupted"), 1) << read_text(signalled + "/events.jsonl");
  EXPECT_EQ(count_events(signalled, "done"), 1);
  EXPECT_EQ(count_events(signalled, "epoch"), 3);  // no epoch trained twice
  EXPECT_THAT(read_text(signalled + "/worker.log"), HasSubstr("requeueing"));
  EXPECT_THAT(read_text(signalled + "/slurm-job"), ::testing::EndsWith(" 1\n"));  // SLURM_RESTART_COUNT

  // The store equals the local run's, bit for bit.
  const auto got = summarise(dir_.file("slurm.db"));
  EXPECT_EQ(got.done, 5);
  EXPECT_EQ(got.losses, expected.losses);
  EXPECT_EQ(got.last10, expected.last10);

  // Nothing was submitted twice: every run in one submission, one Slurm job per submission.
  {
    auto store = results::ResultsStore::open(dir_.file("slurm.db"), results::ResultsStore::Mode::reader);
    std::map<std::string, int> submissions_of_run;
    std::set<std::string> job_names;
    for (const auto& s : slurm_submissions(store, 0, false)) {
      EXPECT_EQ(s.state, "finished");
      job_names.insert(s.job_name);
      for (const auto& t : s.tasks) ++submissions_of_run[t.run_id];
    }
    EXPECT_EQ(job_names.size(), 2u);  // the first stage, then the final isda run of seed 2
    EXPECT_EQ(submissions_of_run.size(), 5u);
    for (const auto& [run, n] : submissions_of_run) EXPECT_EQ(n, 1) << run;
    const auto jobs = slurm_jobs("isda.slurm-smoke");
    EXPECT_EQ(jobs.size(), job_names.size());
    for (const auto& [name, ids] : jobs) {
      EXPECT_EQ(job_names.count(name), 1u) << name;
      EXPECT_EQ(ids.size(), 1u) << name;
    }
    const auto provenance = provenance_of(store, fs::path(signalled).filename().string());
    ASSERT_TRUE(provenance.has_value());
    // The worker's own record of where and with what it ran (its start event's environment).
    char host[256] = {};
    ASSERT_EQ(::gethostname(host, sizeof host - 1), 0);
    EXPECT_EQ(provenance->host, host);
    EXPECT_FALSE(provenance->libtorch.empty());
    EXPECT_EQ(provenance->git_commit.size() % 40, 0u) << provenance->git_commit;  // a full hash, or none
    EXPECT_THAT(provenance->command_line, HasSubstr("--run-dir"));
  }

  // A rerun of the finished sweep submits nothing; status agrees.
  const auto again = testing::run_process(slurm_command(spec, "slurm", true));
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_THAT(again.err, ::testing::Not(HasSubstr("submitted")));
  const auto status = testing::run_process({ISDA_RUN_BINARY, "status", spec, "--db", dir_.file("slurm.db")});
  EXPECT_THAT(status.out, HasSubstr("5 done"));
}

TEST_F(SlurmE2E, CancelLeavesAResumableSweep) {
  // Enough epochs that the cancel lands mid-training even on a loaded machine.
  const auto spec = write_spec("slurm-cancel", {{"grid", {{"method", {"ce"}}}}}, /*epochs=*/6);
  const auto submitted = testing::run_process(slurm_command(spec, "slurm", false));
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  EXPECT_THAT(submitted.err, HasSubstr("submitted 2 runs as job array"));

  // Cancel once a run is mid-training.
  ASSERT_TRUE(poll_until(90, [&] {
    for (const auto& entry : fs::directory_iterator(dir_.file("slurm-runs"))) {
      if (count_events(entry.path().string(), "epoch") >= 1) return true;
    }
    return false;
  }));
  const auto cancelled = testing::run_process({ISDA_RUN_BINARY, "cancel", spec, "--db", dir_.file("slurm.db"),
                                               "--runs-dir", dir_.file("slurm-runs")});
  ASSERT_EQ(cancelled.exit_code, 0) << cancelled.err;
  EXPECT_THAT(cancelled.out, HasSubstr("cancelled"));
  EXPECT_EQ(live_states("isda.slurm-cancel"), "");
  const auto after_cancel = summarise(dir_.file("slurm.db"));
  EXPECT_EQ(after_cancel.done, 0) << cancelled.err;
  int interrupted = 0;
  for (const auto& [id, state] : after_cancel.states) {
    EXPECT_TRUE(state == "interrupted" || state == "pending") << id << " " << state;
    interrupted += state == "interrupted";
  }
  EXPECT_GE(interrupted, 1);

  // Resume: the same runs finish from their checkpoints and equal a local run.
  const auto resumed = testing::run_process(slurm_command(spec, "slurm", true));
  ASSERT_EQ(resumed.exit_code, 0) << resumed.err;
  const auto local = testing::run_process(local_command(spec, "local"));
  ASSERT_EQ(local.exit_code, 0) << local.err;
  const auto expected = summarise(dir_.file("local.db"));
  const auto got = summarise(dir_.file("slurm.db"));
  EXPECT_EQ(got.done, 2);
  EXPECT_EQ(got.losses, expected.losses);
  EXPECT_EQ(got.last10, expected.last10);
}

// A data-parallel run (ranks 2) goes out as a job of two tasks whose script starts the worker with
// srun, each task one rank (Slurm's variables); the store equals a local run of the same spec.
TEST_F(SlurmE2E, ADataParallelRunIsOneSrunTaskPerRank) {
  const auto spec = write_spec("slurm-ranks", {{"grid", {{"method", {"isda"}}, {"ranks", {2}}}}, {"seeds", {1}}},
                               /*epochs=*/2);
  const auto slurm = testing::run_process(slurm_command(spec, "slurm", true));
  ASSERT_EQ(slurm.exit_code, 0) << slurm.err;
  EXPECT_THAT(slurm.err, HasSubstr("ranks=2"));
  bool srun_script = false;
  for (const auto& entry : fs::directory_iterator(dir_.file("slurm-runs/.slurm"))) {
    if (entry.path().extension() == ".sh") srun_script |= read_text(entry.path().string()).find("launch=(srun --ntasks=2") != std::string::npos;
  }
  EXPECT_TRUE(srun_script);
  expect_store_of_a_local_run(spec, /*runs=*/1);
}

// SIGUSR1 (scancel -b --signal=USR1, or the time limit's --signal) to a data-parallel run: srun
// hands it to both ranks, which checkpoint at one step; no rank leaves before rank 0 has written
// its checkpoint and marker (a delay injected into that write widens the window in which
// srun --kill-on-bad-exit would otherwise kill rank 0), so the task requeues and resumes from the
// checkpoint written at the stop.
TEST_F(SlurmE2E, ADataParallelRunStoppedBySlurmResumesFromTheCheckpointOfTheStop) {
  const auto spec = write_spec("slurm-ranks-stop", {{"grid", {{"method", {"isda"}}, {"ranks", {2}}}}, {"seeds", {1}}},
                               /*epochs=*/4);
  // Longer than the local Slurm's KillWait (10 s), the time srun gives the other tasks after one
  // exits before it kills them. sbatch exports isda-run's environment to the job.
  setenv("ISDA_TEST_STOP_DELAY_MS", "15000", 1);
  const auto slurm = testing::start_process(slurm_command(spec, "slurm", true), dir_.file("stop.out"), dir_.file("stop.err"));
  unsetenv("ISDA_TEST_STOP_DELAY_MS");
  std::string run_dir;
  ASSERT_TRUE(poll_until(150, [&] {
    if (!fs::exists(dir_.file("slurm-runs"))) return false;
    for (const auto& entry : fs::directory_iterator(dir_.file("slurm-runs"))) {
      const auto dir = entry.path().string();
      if (!fs::exists(dir + "/slurm-job") || count_events(dir, "epoch") < 1) continue;
      std::istringstream mark(read_text(dir + "/slurm-job"));
      std::string name, task;
      mark >> name >> task;
      run_dir = dir;
      return testing::run_process({"/usr/bin/scancel", "-b", "--signal=USR1", task}).exit_code == 0;
    }
    return false;
  })) << read_text(dir_.file("stop.err"));
  ASSERT_EQ(wait_at_most(slurm, 300), 0) << read_text(dir_.file("stop.err"));
  const auto events = events_of(run_dir);
  int interrupted_at = -1;
  for (size_t i = 0; i < events.size(); ++i) {
    if (events[i].value("event", "") == "interrupted") interrupted_at = static_cast<int>(i);
  }
  ASSERT_GE(interrupted_at, 0) << read_text(run_dir + "/events.jsonl") << read_text(run_dir + "/worker.log");
  const auto& stop = events[static_cast<size_t>(interrupted_at)];
  bool resumed_there = false;
  for (size_t i = static_cast<size_t>(interrupted_at) + 1; i < events.size(); ++i) {
    if (events[i].value("event", "") != "start") continue;
    resumed_there = events[i]["epoch"] == stop["epoch"] && events[i]["step"] == stop["step"];
    break;
  }
  EXPECT_TRUE(resumed_there) << read_text(run_dir + "/events.jsonl");
  EXPECT_THAT(read_text(run_dir + "/worker.log"), HasSubstr("requeueing"));
  EXPECT_EQ(count_events(run_dir, "epoch"), 4);
  EXPECT_EQ(count_events(run_dir, "done"), 1);
}

// The job script keeps the stall watch too: a worker stopped with SIGSTOP is found after its stall
// limit, stopped, recorded with fault stalled and retried in a later job; the store ends as a
// local run's.
TEST_F(SlurmE2E, AStalledWorkerIsStoppedAndRetried) {
  const auto spec = write_spec("slurm-stall", {{"grid", {{"method", {"ce"}}}}, {"seeds", {1}}, {"retries", 1}}, /*epochs=*/4);
  {
    auto with_limit = nlohmann::json::parse(read_text(spec));
    with_limit["base"]["stall_limit"] = 8;
    std::ofstream(spec) << with_limit.dump(2);
  }
  const auto slurm = testing::start_process(slurm_command(spec, "slurm", true), dir_.file("stall.out"), dir_.file("stall.err"));
  std::string run_dir;
  ASSERT_TRUE(poll_until(150, [&] {
    if (!fs::exists(dir_.file("slurm-runs"))) return false;
    for (const auto& entry : fs::directory_iterator(dir_.file("slurm-runs"))) {
      const auto dir = entry.path().string();
      if (count_events(dir, "epoch") < 1 || count_events(dir, "done") > 0) continue;
      std::istringstream lock(read_text(dir + "/lock"));
      int holder = 0;
      if (lock >> holder && holder > 0 && ::kill(holder, SIGSTOP) == 0) {
        run_dir = dir;
        return true;
      }
    }
    return false;
  })) << read_text(dir_.file("stall.err"));
  ASSERT_EQ(wait_at_most(slurm, 300), 0) << read_text(dir_.file("stall.err"));
  EXPECT_THAT(read_text(run_dir + "/stall.txt"), HasSubstr("stalled: no step finished for"));
  EXPECT_THAT(read_text(run_dir + "/worker.log"), HasSubstr("stopping the worker"));
  {
    auto store = results::ResultsStore::open(dir_.file("slurm.db"), results::ResultsStore::Mode::reader);
    const auto run = find_run(store, fs::path(run_dir).filename().string());
    ASSERT_TRUE(run.has_value());
    EXPECT_EQ(run->failures, 1);
    EXPECT_EQ(run->fault, "stalled");
  }
  expect_store_of_a_local_run(spec, /*runs=*/1);
}

}  // namespace
}  // namespace isda
