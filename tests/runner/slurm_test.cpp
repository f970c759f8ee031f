// The Slurm backend without a cluster: the commands' output parsers, sbatch's arguments, the
// manifest, and the backend's reconciliation of intents, tasks and runs against a fake scheduler.
// The job script is tested in slurm_job_script_test.cpp.
#include "common/durable_file.h"
#include "results/schema.h"
#include "results/run_ledger.h"
#include "results/run_metrics.h"
#include "results/slurm_submissions.h"
#include "results/store.h"
#include "runner/slurm_backend.h"
#include "runner/slurm_commands.h"
#include "support/idx_files.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

namespace isda::runner {
namespace {

using results::RunState;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// ---------------------------------------------------------------------------------------------
// Parsers

TEST(SlurmParsers, SbatchParsableGivesTheJobId) {
  EXPECT_EQ(parse_sbatch_output("1234\n"), "1234");
  EXPECT_EQ(parse_sbatch_output("1234;cluster-a\n"), "1234");
  EXPECT_EQ(parse_sbatch_output("sbatch: warning: something\n77\n"), "77");
  EXPECT_THROW(parse_sbatch_output(""), SlurmError);
  EXPECT_THROW(parse_sbatch_output("Submitted batch job 12\n"), SlurmError);
}

TEST(SlurmParsers, ArrayIndexLists) {
  EXPECT_THAT(expand_task_ids("5"), ElementsAre(5));
  EXPECT_THAT(expand_task_ids("0-3"), ElementsAre(0, 1, 2, 3));
  EXPECT_THAT(expand_task_ids("[0-2,7]"), ElementsAre(0, 1, 2, 7));
  EXPECT_THAT(expand_task_ids("[4-5%2]"), ElementsAre(4, 5));
  EXPECT_THAT(expand_task_ids("0-6:3"), ElementsAre(0, 3, 6));
  EXPECT_THROW(expand_task_ids("x"), SlurmError);
  EXPECT_THROW(expand_task_ids("1,,2"), SlurmError);
}

TEST(SlurmParsers, SqueueLinesBecomeTasks) {
  const auto tasks = parse_squeue_output(
      "isda.s.1|12|0|RUNNING|localhost\n"
      "isda.s.1|12|[2-3]|PENDING|\n"
      "other|13|N/A|COMPLETED|node7\n");
  ASSERT_EQ(tasks.size(), 4u);
  EXPECT_EQ(tasks[0].job_name, "isda.s.1");
  EXPECT_EQ(tasks[0].array_job_id, "12");
  EXPECT_EQ(tasks[0].task, 0);
  EXPECT_EQ(tasks[0].state, "RUNNING");
  EXPECT_EQ(tasks[0].nodes, "localhost");
  EXPECT_EQ(tasks[1].task, 2);
  EXPECT_EQ(tasks[2].task, 3);
  EXPECT_EQ(tasks[2].state, "PENDING");
  EXPECT_EQ(tasks[3].task, -1);
  EXPECT_THROW(parse_squeue_output("garbage\n"), SlurmError);
  EXPECT_THROW(parse_squeue_output("a|x|0|RUNNING|n\n"), SlurmError);
  EXPECT_TRUE(parse_squeue_output("").empty());
}

TEST(SlurmParsers, SacctLinesBecomeTasks) {
  const auto tasks = parse_sacct_output("40_1|isda.s.2|CANCELLED by 0|localhost\n40_[2-3]|isda.s.2|PENDING|None assigned\n");
  ASSERT_EQ(tasks.size(), 3u);
  EXPECT_EQ(tasks[0].array_job_id, "40");
  EXPECT_EQ(tasks[0].task, 1);
  EXPECT_EQ(tasks[0].state, "CANCELLED");
  EXPECT_EQ(tasks[0].job_name, "isda.s.2");
  EXPECT_EQ(tasks[2].task, 3);
  EXPECT_THROW(parse_sacct_output("only|two\n"), SlurmError);
}

TEST(SlurmParsers, PhasesOfStates) {
  EXPECT_EQ(phase_of("PENDING"), TaskPhase::queued);
  EXPECT_EQ(phase_of("REQUEUED"), TaskPhase::queued);
  EXPECT_EQ(phase_of("RUNNING"), TaskPhase::running);
  EXPECT_EQ(phase_of("COMPLETING"), TaskPhase::running);
  EXPECT_EQ(phase_of("SOMETHING_NEW"), TaskPhase::running);  // unknown: wait rather than declare it gone
  for (const auto* state : {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"}) {
    EXPECT_EQ(phase_of(state), TaskPhase::ended) << state;
  }
}

// ---------------------------------------------------------------------------------------------
// Submission pieces

TEST(SlurmSubmission, SbatchArgumentsCarryArrayResourcesSignalAndPassthrough) {
  SlurmOptions options;
  options.partition = "gpu";
  options.gres = "gpu:1";
  options.time = "01:00:00";
  options.array_limit = 2;
  options.signal_lead = 30;
  options.cpus_per_task = 4;
  options.sbatch_args = {"--mem=8G", "--account=lab"};
  const auto resources = resource_class_of({{"device", "auto"}}, options);
  EXPECT_EQ(resources.label(), "partition=gpu gres=gpu:1 cpus=4 time=01:00:00");
  const auto args = sbatch_arguments(options, resources, "isda.s.1", 4, "/runs/.slurm", "/runs/.slurm/isda.s.1.sh");
  EXPECT_THAT(args, Contains("--job-name=isda.s.1"));
  EXPECT_THAT(args, Contains("--array=0-3%2"));
  EXPECT_THAT(args, Contains("--signal=B:USR1@30"));
  EXPECT_THAT(args, Contains("--requeue"));
  EXPECT_THAT(args, Contains("--cpus-per-task=4"));
  EXPECT_THAT(args, Contains("--partition=gpu"));
  EXPECT_THAT(args, Contains("--gres=gpu:1"));
  EXPECT_THAT(args, Contains("--time=01:00:00"));
  EXPECT_THAT(args, Contains("--output=/runs/.slurm/isda.s.1-%A_%a.out"));
  ASSERT_GE(args.size(), 3u);
  EXPECT_EQ(args[args.size() - 3], "--mem=8G");  // passthrough comes last, before the script
  EXPECT_EQ(args[args.size() - 2], "--account=lab");
  EXPECT_EQ(args.back(), "/runs/.slurm/isda.s.1.sh");

  const auto cpu = resource_class_of({{"device", "cpu"}}, options);
  EXPECT_TRUE(cpu.gres.empty());
  EXPECT_NE(cpu.label(), resources.label());  // a run on the CPU goes in another array
  options.array_limit = 0;
  EXPECT_THAT(sbatch_arguments(options, cpu, "n", 1, "/d", "/d/s.sh"), Contains("--array=0-0"));
  EXPECT_THAT(sbatch_arguments(options, cpu, "n", 1, "/d", "/d/s.sh"), Not(Contains(HasSubstr("--gres"))));
}

// A data-parallel run (config key ranks): one task per rank on one node, a GPU each, in its own
// array; the job script starts the worker through srun.
TEST(SlurmSubmission, ADataParallelRunAsksForATaskAndAGpuPerRank) {
  SlurmOptions options;
  options.gres = "gpu:1";
  const auto resources = resource_class_of({{"device", "auto"}, {"ranks", 8}}, options);
  EXPECT_EQ(resources.ranks, 8);
  EXPECT_EQ(resources.label(), "gres=gpu:8 cpus=1 ranks=8");
  const auto args = sbatch_arguments(options, resources, "n", 2, "/d", "/d/s.sh");
  EXPECT_THAT(args, Contains("--ntasks=8"));
  EXPECT_THAT(args, Contains("--ntasks-per-node=8"));
  EXPECT_THAT(args, Contains("--gres=gpu:8"));
  EXPECT_NE(resources.label(), resource_class_of({{"device", "auto"}}, options).label());
  const auto cpu = resource_class_of({{"device", "cpu"}, {"ranks", 2}}, options);
  EXPECT_THAT(sbatch_arguments(options, cpu, "n", 1, "/d", "/d/s.sh"), Contains("--ntasks=2"));
  EXPECT_THAT(sbatch_arguments(options, cpu, "n", 1, "/d", "/d/s.sh"), Not(Contains(HasSubstr("--gres"))));
  EXPECT_THAT(job_script("/d/m.runs", "/runs", "/bin/isda-train", 8), HasSubstr("launch=(srun --ntasks=8 --kill-on-bad-exit=1)"));
  EXPECT_THAT(job_script("/d/m.runs", "/runs", "/bin/isda-train"), HasSubstr("launch=()"));
}

TEST(SlurmSubmission, ManifestRoundTripsAndJobNamesAreUnique) {
  testing::ScratchDir dir;
  write_manifest(dir.file("m.runs"), {"aaaa000000000001", "aaaa000000000002"});
  EXPECT_THAT(read_manifest(dir.file("m.runs")), ElementsAre("aaaa000000000001", "aaaa000000000002"));
  std::ifstream in(dir.file("m.runs"));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "aaaa000000000001\naaaa000000000002\n");
  const auto a = new_job_name("table 5:smoke");
  const auto b = new_job_name("table 5:smoke");
  EXPECT_NE(a, b);
  EXPECT_THAT(a, ::testing::MatchesRegex("isda\\.table_5_smoke\\.[0-9a-f]{8}"));
}

// ---------------------------------------------------------------------------------------------
// The backend against a fake scheduler

class FakeScheduler : public Scheduler {
 public:
  std::string submit(const std::vector<std::string>& arguments) override {
    if (refuse) throw SlurmError("sbatch refused the job array (exit code 1): sbatch: error: invalid partition");
    submitted.push_back(arguments);
    std::string name;
    int64_t tasks = 0;
    for (const auto& a : arguments) {
      if (a.rfind("--job-name=", 0) == 0) name = a.substr(11);
      if (a.rfind("--array=0-", 0) == 0) tasks = std::stoll(a.substr(10)) + 1;
    }
    const auto id = std::to_string(next_id_++);
    add_job(name, id, tasks);
    return id;
  }

  std::vector<JobTask> live_tasks(const std::vector<std::string>& job_names) override {
    ++queries;
    std::vector<JobTask> tasks;
    for (const auto& name : job_names) {
      const auto it = job_of_name.find(name);
      if (it == job_of_name.end() || forgotten.count(it->second) != 0) continue;
      for (const auto& [key, state] : states) {
        if (key.first == it->second) tasks.push_back({name, key.first, key.second, state, "node1"});
      }
    }
    return tasks;
  }

  std::vector<JobTask> accounted_tasks(const std::vector<std::string>&) override { return {}; }

  void cancel(const std::vector<std::string>& job_ids, const std::vector<std::string>& job_names) override {
    for (const auto& id : job_ids) cancelled.push_back(id);
    for (const auto& name : job_names) cancelled.push_back("name:" + name);
    for (auto& [key, state] : states) {
      const bool hit = std::find(job_ids.begin(), job_ids.end(), key.first) != job_ids.end();
      if (hit && phase_of(state) != TaskPhase::ended) state = "CANCELLED";
    }
  }

  // A job that sbatch submitted (possibly for a coordinator that died before recording it).
  void add_job(const std::string& name, const std::string& id, int64_t tasks) {
    job_of_name[name] = id;
    for (int64_t t = 0; t < tasks; ++t) states[{id, t}] = "PENDING";
  }
  void set(const std::string& job, int64_t task, const std::string& state) { states[{job, task}] = state; }
  std::string job_named(const std::string& name) const { return job_of_name.at(name); }

  bool refuse = false;
  int queries = 0;
  std::vector<std::vector<std::string>> submitted;
  std::vector<std::string> cancelled;
  std::set<std::string> forgotten;  // jobs gone from squeue (past MinJobAge, no accounting)
  std::map<std::string, std::string> job_of_name;
  std::map<std::pair<std::string, int64_t>, std::string> states;

 private:
  int next_id_ = 100;
};

std::string job_name_of(const std::vector<std::string>& arguments) {
  for (const auto& a : arguments) {
    if (a.rfind("--job-name=", 0) == 0) return a.substr(11);
  }
  return "";
}

class SlurmBackendTest : public ::testing::Test {
 protected:
  SlurmBackendTest()
      : store_(results::ResultsStore::open(dir_.file("isda.db"))),
        backend_(store_, scheduler_, [this](const std::string& line) { log_.push_back(line); }) {
    sweep_ = register_sweep(store_, "s", "s.json", "{}");
    std::vector<results::RunRecord> records;
    for (const auto& id : ids_) records.push_back({id, R"({"device":"cpu","epochs":2})", dir_.file("runs/" + id)});
    register_runs(store_, sweep_, records);
    settings_.worker_binary = "/opt/isda/bin/isda-train";
  }

  int64_t submit() { return backend_.submit(sweep_, "s", /*retries=*/1, settings_); }
  RunState state(const std::string& id) { return find_run(store_, id)->state; }
  std::string run_dir(const std::string& id) { return dir_.file("runs/" + id); }
  void append(const std::string& id, const std::string& line) { std::ofstream(run_dir(id) + "/events.jsonl", std::ios::app) << line << '\n'; }
  void mark(const std::string& id, const std::string& job_name, const std::string& task) {
    std::ofstream(run_dir(id) + "/slurm-job") << job_name << ' ' << task << " 0\n";
  }
  void started(const std::string& id) { append(id, R"({"event":"start"})"); }
  void epoch(const std::string& id, int n) {
    append(id, R"({"event":"epoch","epoch":)" + std::to_string(n) +
                   R"(,"train_loss":1.5,"train_error":40,"test_error":30,"validation_error":null,"lambda":0.1,"lr":0.1,"seconds":2,"images_per_second":100})");
  }
  void done(const std::string& id) {
    append(id, R"({"event":"done","final_test_error":30,"best_test_error":29,"last10_test_error":30,"last10_validation_error":null,"epochs":2})");
  }

  testing::ScratchDir dir_;
  FakeScheduler scheduler_;
  results::ResultsStore store_;
  std::vector<std::string> log_;
  SlurmBackend backend_;
  SubmitSettings settings_;
  int64_t sweep_ = 0;
  const std::vector<std::string> ids_ = {"a000000000000001", "a000000000000002"};
};

TEST_F(SlurmBackendTest, SubmitsOneArrayWithManifestScriptAndRunJsonAndNeverTwice) {
  EXPECT_EQ(submit(), 2);
  ASSERT_EQ(scheduler_.submitted.size(), 1u);
  const auto submissions = slurm_submissions(store_, sweep_, false);
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_EQ(submissions[0].state, "submitted");
  EXPECT_EQ(submissions[0].job_id, "100");
  EXPECT_EQ(submissions[0].job_name, job_name_of(scheduler_.submitted[0]));
  EXPECT_THAT(read_manifest(submissions[0].manifest_path), ElementsAre(ids_[0], ids_[1]));
  EXPECT_EQ(scheduler_.submitted[0].back(), dir_.file("runs/.slurm/" + submissions[0].job_name + ".sh"));
  EXPECT_THAT(common::read_file(scheduler_.submitted[0].back()), HasSubstr("/opt/isda/bin/isda-train"));
  EXPECT_THAT(common::read_file(run_dir(ids_[0]) + "/run.json"), HasSubstr("\"epochs\": 2"));
  EXPECT_EQ(backend_.queued_runs(sweep_).size(), 2u);
  EXPECT_EQ(state(ids_[0]), RunState::pending);

  backend_.sync(sweep_);
  EXPECT_EQ(submit(), 0);  // queued: nothing is submitted again
  EXPECT_EQ(scheduler_.submitted.size(), 1u);
}

TEST_F(SlurmBackendTest, RunsFollowTheirTasksToDone) {
  submit();
  scheduler_.set("100", 0, "RUNNING");
  mark(ids_[0], job_name_of(scheduler_.submitted[0]), "100_0");
  started(ids_[0]);
  epoch(ids_[0], 1);
  backend_.sync(sweep_);
  auto run = find_run(store_, ids_[0]);
  EXPECT_EQ(run->state, RunState::running);
  EXPECT_EQ(run->lease_owner, "slurm:100_0");
  EXPECT_EQ(run->last_epoch, 1);
  EXPECT_EQ(provenance_of(store_, ids_[0])->host, "node1");
  EXPECT_EQ(state(ids_[1]), RunState::pending);

  epoch(ids_[0], 2);
  done(ids_[0]);
  scheduler_.set("100", 0, "COMPLETED");
  // Task 1 ran and finished between two syncs: the run still passes through running.
  mark(ids_[1], job_name_of(scheduler_.submitted[0]), "100_1");
  started(ids_[1]);
  epoch(ids_[1], 1);
  epoch(ids_[1], 2);
  done(ids_[1]);
  scheduler_.set("100", 1, "COMPLETED");
  backend_.sync(sweep_);
  EXPECT_EQ(state(ids_[0]), RunState::done);
  EXPECT_EQ(state(ids_[1]), RunState::done);
  EXPECT_EQ(find_run(store_, ids_[1])->attempts, 1);
  EXPECT_EQ(finals_of(store_, ids_).size(), 2u);
  EXPECT_TRUE(backend_.queued_runs(sweep_).empty());
  EXPECT_EQ(slurm_submissions(store_, sweep_, false)[0].state, "finished");
  EXPECT_TRUE(slurm_submissions(store_, sweep_, true).empty());
  EXPECT_EQ(submit(), 0);
}

TEST_F(SlurmBackendTest, ARequeuedTaskInterruptsItsRunWhichRunsAgain) {
  submit();
  scheduler_.set("100", 0, "RUNNING");
  started(ids_[0]);
  backend_.sync(sweep_);
  EXPECT_EQ(state(ids_[0]), RunState::running);
  epoch(ids_[0], 1);
  append(ids_[0], R"({"event":"interrupted","signal":10,"epoch":1,"step":0})");
  scheduler_.set("100", 0, "PENDING");  // requeued by its job script
  backend_.sync(sweep_);
  EXPECT_EQ(state(ids_[0]), RunState::interrupted);
  EXPECT_EQ(submit(), 0);  // still queued in its array: not submitted again
  scheduler_.set("100", 0, "RUNNING");
  started(ids_[0]);
  backend_.sync(sweep_);
  EXPECT_EQ(state(ids_[0]), RunState::running);
  EXPECT_EQ(find_run(store_, ids_[0])->attempts, 2);
}

TEST_F(SlurmBackendTest, AVanishedTaskIsInterruptedWithACheckpointAndFailedWithoutOne) {
  submit();
  for (int t = 0; t < 2; ++t) scheduler_.set("100", t, "RUNNING");
  for (const auto& id : ids_) started(id);
  backend_.sync(sweep_);
  epoch(ids_[0], 1);
  std::ofstream(run_dir(ids_[0]) + "/checkpoint.pt") << "x";
  std::ofstream(run_dir(ids_[1]) + "/worker.log") << "loading data\nsegmentation fault\n";
  scheduler_.forgotten.insert("100");  // the node died and the job aged out of the controller
  backend_.sync(sweep_);
  EXPECT_EQ(state(ids_[0]), RunState::interrupted);
  const auto failed = find_run(store_, ids_[1]);
  EXPECT_EQ(failed->state, RunState::failed);
  EXPECT_THAT(failed->error, HasSubstr("before its first checkpoint"));
  EXPECT_THAT(failed->log_tail, HasSubstr("segmentation fault"));
  // Both are submitted again (the failed one within its retry).
  EXPECT_EQ(submit(), 2);
  EXPECT_EQ(scheduler_.submitted.size(), 2u);
}

TEST_F(SlurmBackendTest, ATaskCancelledBeforeItStartedLeavesItsRunPending) {
  submit();
  scheduler_.set("100", 0, "RUNNING");
  started(ids_[0]);
  backend_.sync(sweep_);
  backend_.cancel(sweep_);
  EXPECT_THAT(scheduler_.cancelled, ElementsAre("100"));
  append(ids_[0], R"({"event":"interrupted","signal":15,"epoch":0,"step":3})");
  backend_.sync(sweep_);
  EXPECT_EQ(state(ids_[0]), RunState::interrupted);
  EXPECT_THAT(find_run(store_, ids_[0])->error, HasSubstr("signal 15"));
  EXPECT_EQ(state(ids_[1]), RunState::pending);
  EXPECT_EQ(find_run(store_, ids_[1])->attempts, 0);
  EXPECT_TRUE(backend_.queued_runs(sweep_).empty());
  EXPECT_EQ(submit(), 2);  // resumable: both go out again
}

// A coordinator killed after sbatch, before it recorded the job id: the next one finds the job by
// its name and submits nothing again.
TEST_F(SlurmBackendTest, AnIntentWhoseJobExistsBecomesSubmitted) {
  const auto id = record_slurm_intent(store_, sweep_, "cpus=1", dir_.file("m.runs"), "isda.s.dead", ids_);
  scheduler_.add_job("isda.s.dead", "55", 2);
  backend_.set_intent_grace(0);
  backend_.sync(sweep_);
  const auto submissions = slurm_submissions(store_, sweep_, false);
  ASSERT_EQ(submissions.size(), 1u);
  EXPECT_EQ(submissions[0].id, id);
  EXPECT_EQ(submissions[0].state, "submitted");
  EXPECT_EQ(submissions[0].job_id, "55");
  EXPECT_EQ(submit(), 0);
  EXPECT_TRUE(scheduler_.submitted.empty());
}

// The same, when the job already aged out of the controller: its tasks' marks tell.
TEST_F(SlurmBackendTest, AnIntentIsFoundByTheMarkItsTasksLeft) {
  record_slurm_intent(store_, sweep_, "cpus=1", dir_.file("m.runs"), "isda.s.old", ids_);
  std::filesystem::create_directories(run_dir(ids_[0]));
  mark(ids_[0], "isda.s.old", "56_0");
  started(ids_[0]);
  done(ids_[0]);
  backend_.set_intent_grace(0);
  backend_.sync(sweep_);
  const auto submission = slurm_submissions(store_, sweep_, false)[0];
  EXPECT_EQ(submission.state, "finished");
  EXPECT_EQ(submission.job_id, "56");
  EXPECT_EQ(state(ids_[0]), RunState::done);
  EXPECT_EQ(state(ids_[1]), RunState::pending);  // never started
  EXPECT_EQ(submit(), 1);
}

// A coordinator killed before sbatch ran: the intent is abandoned once its grace is over, and the
// runs are submitted (once).
TEST_F(SlurmBackendTest, AnIntentThatNeverReachedSlurmIsAbandonedAfterItsGrace) {
  record_slurm_intent(store_, sweep_, "cpus=1", dir_.file("m.runs"), "isda.s.lost", ids_);
  backend_.set_intent_grace(3600);
  backend_.sync(sweep_);
  EXPECT_EQ(slurm_submissions(store_, sweep_, false)[0].state, "intent");
  EXPECT_EQ(submit(), 0);  // its sbatch might still be on its way
  backend_.set_intent_grace(0);
  backend_.sync(sweep_);
  EXPECT_EQ(slurm_submissions(store_, sweep_, false)[0].state, "abandoned");
  EXPECT_EQ(submit(), 2);
  EXPECT_EQ(submit(), 0);
  EXPECT_EQ(scheduler_.submitted.size(), 1u);
}

TEST_F(SlurmBackendTest, ARefusedSubmissionIsAbandonedAndReported) {
  scheduler_.refuse = true;
  EXPECT_THROW(submit(), SlurmError);
  EXPECT_EQ(slurm_submissions(store_, sweep_, false)[0].state, "abandoned");
  EXPECT_TRUE(backend_.queued_runs(sweep_).empty());
  scheduler_.refuse = false;
  EXPECT_EQ(submit(), 2);
}

TEST_F(SlurmBackendTest, FailedRunsAreRetriedWithinTheirBudget) {
  submit();
  scheduler_.set("100", 0, "RUNNING");
  started(ids_[0]);
  backend_.sync(sweep_);
  append(ids_[0], R"({"event":"failed","reason":"loss is NaN at epoch 1"})");
  scheduler_.set("100", 0, "FAILED");
  backend_.sync(sweep_);
  EXPECT_EQ(state(ids_[0]), RunState::failed);
  EXPECT_EQ(find_run(store_, ids_[0])->error, "loss is NaN at epoch 1");
  EXPECT_EQ(submit(), 1);  // attempts 1 <= retries 1
  const auto second = scheduler_.job_named(job_name_of(scheduler_.submitted.back()));
  scheduler_.set(second, 0, "RUNNING");
  started(ids_[0]);
  backend_.sync(sweep_);
  append(ids_[0], R"({"event":"failed","reason":"loss is NaN at epoch 1"})");
  scheduler_.set(second, 0, "FAILED");
  backend_.sync(sweep_);
  EXPECT_EQ(find_run(store_, ids_[0])->attempts, 2);
  EXPECT_EQ(submit(), 0);  // out of retries
}

TEST(SlurmSchema, Version3MigratesToTheSlurmTables) {
  testing::ScratchDir dir;
  {
    results::Database db(dir.file("old.db"));
    results::migrate(db, 3);
    EXPECT_EQ(results::schema_version(db), 3);
  }
  auto store = results::ResultsStore::open(dir.file("old.db"));
  EXPECT_EQ(store.schema_version(), results::current_schema_version());
  const auto sweep = register_sweep(store, "s", "s.json", "{}");
  register_runs(store, sweep, {{"r1", "{}", ""}});
  const auto id = record_slurm_intent(store, sweep, "cpus=1", "m", "isda.s.1", {"r1"});
  EXPECT_THROW(record_slurm_intent(store, sweep, "cpus=1", "m", "isda.s.1", {"r1"}), results::StoreError);
  EXPECT_THROW(record_slurm_intent(store, sweep, "cpus=1", "m", "isda.s.2", {"nope"}), results::StoreError);
  set_slurm_submission(store, id, "submitted", "9");
  finish_slurm_task(store, id, 0);
  const auto all = slurm_submissions(store, 0, false);
  ASSERT_EQ(all.size(), 1u);
  EXPECT_EQ(all[0].job_id, "9");
  ASSERT_EQ(all[0].tasks.size(), 1u);
  EXPECT_TRUE(all[0].tasks[0].finished);
  EXPECT_THROW(set_slurm_submission(store, id, "bogus"), results::StoreError);
}

}  // namespace
}  // namespace isda::runner
