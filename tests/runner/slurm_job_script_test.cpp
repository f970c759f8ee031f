// The Slurm job script: as a file of its own (runner/slurm_job.sh) and as job_script() writes it,
// checked by bash and shellcheck, and run by bash with a fake isda-train and scontrol.
#include "runner/slurm_backend.h"

#include "common/durable_file.h"
#include "support/idx_files.h"
#include "support/subprocess.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <thread>
#include <string>

namespace isda::runner {
namespace {

using ::testing::HasSubstr;

// The job script is runner/slurm_job.sh with one array's settings: both pass bash -n, and shellcheck
// (where installed, as on the project's machines) finds no warning in what a job runs.
TEST(SlurmSubmission, TheJobScriptPassesBashAndShellcheck) {
  testing::ScratchDir dir;
  const auto script = dir.file("job.sh");
  std::ofstream(script) << job_script("/d/it's m.runs", "/runs with space", "/bin/isda-train", 2);
  const auto resource = std::string(ISDA_SOURCE_DIR) + "/runner/slurm_job.sh";
  for (const std::string& file : {script, resource}) {
    const auto checked = testing::run_process({"/bin/bash", "-n", file});
    EXPECT_EQ(checked.exit_code, 0) << file << ": " << checked.err;
  }
  EXPECT_THAT(job_script("/d/m.runs", "/runs", "/bin/isda-train"), HasSubstr("manifest='/d/m.runs'\nruns_root='/runs'\n"));
  if (!std::filesystem::exists("/usr/bin/shellcheck")) GTEST_SKIP() << "no shellcheck here (Debian: apt-get install shellcheck)";
  for (const std::string& file : {script, resource}) {
    const auto checked = testing::run_process({"/usr/bin/shellcheck", "--severity=warning", "--shell=bash", file});
    EXPECT_EQ(checked.exit_code, 0) << checked.out << checked.err;
  }
}


void write_executable(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  ::chmod(path.c_str(), 0755);
}

// The job script under bash, outside Slurm, with a fake scontrol that records its arguments and
// a fake isda-train (`worker`, a bash script whose $4 is the run directory). SIGUSR1 goes to the
// batch shell (what --signal=B:USR1 does) once the worker has touched WORKER_READY.
class JobScriptRun {
 public:
  JobScriptRun() {
    std::filesystem::create_directories(runs + "/r0");
    std::filesystem::create_directories(runs + "/r1");
    std::filesystem::create_directories(dir.file("bin"));
    write_manifest(dir.file("m.runs"), {"r0", "r1"});
    write_executable(dir.file("bin/scontrol"), "#!/bin/sh\necho \"$@\" >>" + dir.file("scontrol.txt") + "\n");
    write_executable(dir.file("job.sh"), job_script(dir.file("m.runs"), runs, dir.file("worker")));
  }

  // Writes the fake worker, with WORKER_READY and SCRATCH standing for those paths.
  void worker(std::string script) {
    for (const auto& [name, value] : {std::pair<std::string, std::string>{"WORKER_READY", ready},
                                      {"SCRATCH", dir.file("")}}) {
      for (size_t at; (at = script.find(name)) != std::string::npos;) script.replace(at, name.size(), value);
    }
    write_executable(dir.file("worker"), script);
  }

  // Runs the job script as array task 1 of job 7, signals it; returns its exit code.
  int run_and_signal() {
    const std::string path = std::getenv("PATH") ? std::getenv("PATH") : "/usr/bin:/bin";
    setenv("PATH", (dir.file("bin") + ":" + path).c_str(), 1);
    setenv("SLURM_ARRAY_TASK_ID", "1", 1);
    setenv("SLURM_ARRAY_JOB_ID", "7", 1);
    setenv("SLURM_JOB_ID", "9", 1);
    setenv("SLURM_JOB_NAME", "isda.s.x", 1);
    setenv("SLURM_CPUS_PER_TASK", "3", 1);
    const auto pid = testing::start_process({"/bin/bash", dir.file("job.sh")}, dir.file("out.txt"), dir.file("err.txt"));
    for (int i = 0; i < 100 && !std::filesystem::exists(ready); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    ::kill(pid, SIGUSR1);
    const int code = testing::wait_process(pid);
    setenv("PATH", path.c_str(), 1);
    for (const char* name : {"SLURM_ARRAY_TASK_ID", "SLURM_ARRAY_JOB_ID", "SLURM_JOB_ID", "SLURM_JOB_NAME", "SLURM_CPUS_PER_TASK"}) {
      unsetenv(name);
    }
    return code;
  }

  testing::ScratchDir dir;
  const std::string runs = dir.file("runs");
  const std::string ready = dir.file("worker-ready");
};

// A worker that checkpoints on SIGUSR1 as isda-train does (the `interrupted` marker and event,
// then exit 138): the signal reaches it, and the task requeues itself.
TEST(SlurmJobScript, ForwardsUsr1ToTheWorkerAndRequeuesItsTask) {
  JobScriptRun job;
  job.worker(R"(#!/bin/bash
echo "worker $*" >SCRATCH/worker-args.txt
trap 'echo checkpoint; echo 10 >"$4/interrupted"; echo "{\"event\":\"interrupted\",\"signal\":10}" >>"$4/events.jsonl"; exit 138' USR1
touch WORKER_READY
for i in $(seq 1 300); do sleep 0.1; done
exit 0
)");
  const int code = job.run_and_signal();
  const auto& runs = job.runs;
  EXPECT_EQ(code, 138);
  EXPECT_EQ(common::read_file(job.dir.file("scontrol.txt")), "requeue 7_1\n");
  EXPECT_EQ(common::read_file(job.dir.file("worker-args.txt")),
            "worker --config " + runs + "/r1/run.json --run-dir " + runs + "/r1 --threads 3\n");
  EXPECT_EQ(common::read_file(runs + "/r1/slurm-job"), "isda.s.x 7_1 0\n");
  const auto log = common::read_file(runs + "/r1/worker.log");
  EXPECT_THAT(log, HasSubstr("slurm job 7_1"));
  EXPECT_THAT(log, HasSubstr("checkpoint"));
  EXPECT_THAT(log, HasSubstr("requeueing 7_1"));
  EXPECT_FALSE(std::filesystem::exists(runs + "/r0/worker.log"));
}

// 138 is also what SIGUSR1 leaves of a worker killed before it installed its handler (a late
// signal meant for the attempt before a requeue, whose marker is still there): nothing was
// checkpointed, so the task starts the worker again instead of requeueing itself.
TEST(SlurmJobScript, AWorkerKilledByUsr1BeforeItsHandlerIsStartedAgainNotRequeued) {
  JobScriptRun job;
  std::ofstream(job.runs + "/r1/events.jsonl") << R"({"event":"interrupted","signal":10})" << '\n';
  std::ofstream(job.runs + "/r1/interrupted") << "10\n";  // the attempt before the requeue's
  job.worker(R"(#!/bin/bash
echo started >>SCRATCH/starts.txt
if [ -e WORKER_READY ]; then echo '{"event":"done"}' >>"$4/events.jsonl"; exit 0; fi
touch WORKER_READY
for i in $(seq 1 300); do sleep 0.1; done
)");  // no trap the first time: SIGUSR1 kills it
  EXPECT_EQ(job.run_and_signal(), 0);
  EXPECT_FALSE(std::filesystem::exists(job.dir.file("scontrol.txt")));
  EXPECT_EQ(common::read_file(job.dir.file("starts.txt")), "started\nstarted\n");
  EXPECT_THAT(common::read_file(job.runs + "/r1/worker.log"), HasSubstr("died of SIGUSR1 before it could checkpoint"));
}

}  // namespace
}  // namespace isda::runner
