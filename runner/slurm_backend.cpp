#include "runner/slurm_backend.h"

#include "common/durable_file.h"
#include "common/run_events.h"
#include "common/run_files.h"
#include "common/system.h"

#include "results/run_metrics.h"
#include "runner/attempt_outcome.h"
#include "runner/progress.h"
#include "runner/spec.h"
#include "runner/sweep.h"
#include "runner/worker.h"
#include "train/run_directory.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

namespace isda::runner {
namespace {

namespace fs = std::filesystem;
using results::RunState;

constexpr int kLogTailLines = 20;
constexpr size_t kMaxArrayTasks = 1000;  // Slurm's default MaxArraySize is 1001

using common::absolute_path;
using common::now_seconds;

// Writes `text` to `path` through a temporary file and a rename: complete or absent.
// Complete or absent after a crash (temporary file, fsync, rename, fsync of the directory).
void write_atomically(const std::string& path, const std::string& text, unsigned mode = 0644) {
  common::write_file_atomically(path, text, mode);
}


std::string read_first_line(const std::string& path) {
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);
  return line;
}

// The mark the job script leaves in a run directory: "<job name> <array job>_<task> <restarts>".
struct JobMark {
  std::string job_name, task_id;
};
std::optional<JobMark> job_mark_of(const std::string& run_dir) {
  std::istringstream in(read_first_line(run_files::path(run_dir, run_files::kSlurmJobMark)));
  JobMark mark;
  if (!(in >> mark.job_name >> mark.task_id)) return std::nullopt;
  return mark;
}

std::string worker_command_line(const std::string& worker, const std::string& run_dir) {
  return worker + " --config " + run_files::path(run_dir, run_files::kRunConfig) + " --run-dir " + run_dir + " --threads $SLURM_CPUS_PER_TASK";
}

}  // namespace

std::string ResourceClass::label() const {
  std::string text;
  if (!partition.empty()) text += "partition=" + partition + " ";
  if (!gres.empty()) text += "gres=" + gres + " ";
  text += fmt::format("cpus={}", cpus_per_task);
  if (!time.empty()) text += " time=" + time;
  if (ranks > 1) text += fmt::format(" ranks={}", ranks);
  return text;
}

ResourceClass resource_class_of(const nlohmann::json& config, const SlurmOptions& options) {
  ResourceClass resources;
  resources.partition = options.partition;
  resources.time = options.time;
  resources.cpus_per_task = options.cpus_per_task;
  const auto device = config.is_object() && config.contains("device") && config["device"].is_string()
                          ? config["device"].get<std::string>()
                          : std::string("auto");
  if (device != "cpu") resources.gres = options.gres;
  if (config.is_object() && config.contains("ranks") && config["ranks"].is_number_integer()) {
    resources.ranks = std::max(1, config["ranks"].get<int>());
  }
  // A data-parallel run: one GPU per rank, all ranks on one node (NCCL within a node; see
  // distributed/README.md for several nodes).
  if (resources.ranks > 1 && !resources.gres.empty()) resources.gres = fmt::format("gpu:{}", resources.ranks);
  return resources;
}

std::vector<std::string> sbatch_arguments(const SlurmOptions& options, const ResourceClass& resources,
                                          const std::string& job_name, size_t tasks, const std::string& slurm_dir,
                                          const std::string& script_path) {
  std::string array = fmt::format("0-{}", tasks == 0 ? 0 : tasks - 1);
  if (options.array_limit > 0) array += fmt::format("%{}", options.array_limit);
  std::vector<std::string> args = {"--job-name=" + job_name,
                                   "--array=" + array,
                                   fmt::format("--cpus-per-task={}", resources.cpus_per_task),
                                   fmt::format("--ntasks={}", resources.ranks),
                                   "--requeue",
                                   fmt::format("--signal=B:USR1@{}", options.signal_lead),
                                   "--open-mode=append",
                                   "--output=" + slurm_dir + "/" + job_name + "-%A_%a.out",
                                   "--chdir=" + slurm_dir};
  if (!resources.partition.empty()) args.push_back("--partition=" + resources.partition);
  if (resources.ranks > 1) args.push_back(fmt::format("--ntasks-per-node={}", resources.ranks));
  if (!resources.gres.empty()) args.push_back("--gres=" + resources.gres);
  if (!resources.time.empty()) args.push_back("--time=" + resources.time);
  args.insert(args.end(), options.sbatch_args.begin(), options.sbatch_args.end());
  args.push_back(script_path);
  return args;
}

void write_manifest(const std::string& path, const std::vector<std::string>& run_ids) {
  std::string text;
  for (const auto& id : run_ids) text += id + "\n";
  write_atomically(path, text);
}

std::vector<std::string> read_manifest(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error(fmt::format("{}: cannot read the manifest", path));
  std::vector<std::string> ids;
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty()) ids.push_back(line);
  }
  return ids;
}

std::string new_job_name(const std::string& sweep_name) {
  std::string name;
  for (const char c : sweep_name) name += std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' ? c : '_';
  std::random_device device;
  std::mt19937_64 random((static_cast<uint64_t>(device()) << 32) ^ device() ^
                         static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count()));
  return fmt::format("isda.{}.{:08x}", name.substr(0, 40), static_cast<uint32_t>(random()));
}

// ---------------------------------------------------------------------------------------------
// SlurmBackend

SlurmBackend::SlurmBackend(results::ResultsStore& store, Scheduler& scheduler,
                           std::function<void(const std::string&)> log)
    : store_(store), scheduler_(scheduler), log_(std::move(log)) {}

std::set<std::string> SlurmBackend::queued_runs(int64_t sweep_id) {
  std::set<std::string> runs;
  for (const auto& submission : slurm_submissions(store_, sweep_id, /*open_only=*/true)) {
    for (const auto& task : submission.tasks) {
      if (!task.finished) runs.insert(task.run_id);
    }
  }
  return runs;
}

void SlurmBackend::sync(int64_t sweep_id) {
  auto open = slurm_submissions(store_, sweep_id, /*open_only=*/true);
  if (open.empty()) return;
  std::vector<std::string> names;
  for (const auto& submission : open) names.push_back(submission.job_name);
  const auto live = scheduler_.live_tasks(names);
  std::map<std::string, std::string> job_of_name;
  std::map<std::pair<std::string, int64_t>, JobTask> status;
  for (const auto& task : live) {
    job_of_name.emplace(task.job_name, task.array_job_id);
    status[{task.array_job_id, task.task}] = task;
  }

  // Intents: did their sbatch make it?
  for (auto& submission : open) {
    if (submission.state != "intent") continue;
    std::string job_id;
    if (const auto it = job_of_name.find(submission.job_name); it != job_of_name.end()) job_id = it->second;
    for (size_t i = 0; job_id.empty() && i < submission.tasks.size(); ++i) {
      const auto run = find_run(store_, submission.tasks[i].run_id);
      const auto mark = run ? job_mark_of(run->run_dir) : std::nullopt;
      if (mark && mark->job_name == submission.job_name) job_id = mark->task_id.substr(0, mark->task_id.find('_'));
    }
    if (!job_id.empty()) {
      set_slurm_submission(store_, submission.id, "submitted", job_id);
      submission.state = "submitted";
      submission.job_id = job_id;
      log_(fmt::format("found job array {} ({} runs) submitted by an earlier isda-run", job_id, submission.tasks.size()));
    } else if (now_seconds() - submission.created > intent_grace_) {
      set_slurm_submission(store_, submission.id, "abandoned");
      submission.state = "abandoned";
      log_(fmt::format("submission {} never reached Slurm; its {} runs will be submitted again", submission.job_name,
                       submission.tasks.size()));
    } else {
      log_(fmt::format("submission {} is not known to Slurm yet; decided within {:.0f} s (its sbatch may be on its way)",
                       submission.job_name, intent_grace_ - (now_seconds() - submission.created)));
    }
  }

  // Tasks that squeue no longer knows: ask the accounting database, where there is one.
  std::vector<std::string> unknown_jobs;
  for (const auto& submission : open) {
    if (submission.state != "submitted") continue;
    for (const auto& task : submission.tasks) {
      if (!task.finished && status.count({submission.job_id, task.task}) == 0) {
        unknown_jobs.push_back(submission.job_id);
        break;
      }
    }
  }
  for (const auto& task : scheduler_.accounted_tasks(unknown_jobs)) status.emplace(std::pair{task.array_job_id, task.task}, task);

  for (const auto& submission : open) {
    if (submission.state != "submitted") continue;
    bool all_finished = true;
    for (const auto& task : submission.tasks) {
      if (task.finished) continue;
      const auto it = status.find({submission.job_id, task.task});
      update_task(submission, task, it == status.end() ? nullptr : &it->second);
      if (it != status.end() && phase_of(it->second.state) != TaskPhase::ended) all_finished = false;
    }
    if (all_finished) set_slurm_submission(store_, submission.id, "finished");
  }
}

void SlurmBackend::start(const std::string& run_id, const std::string& owner, const std::string& node,
                         const std::string& run_dir) {
  start_attempt(store_, run_id, owner);
  // The worker's own record of its environment (its start event) wins over what the login node
  // knows, once it is taken in.
  auto provenance = provenance_of(store_, run_id).value_or(results::Provenance{});
  if (provenance.host.empty()) provenance.host = node;
  provenance.command_line = worker_command_line(worker_binary_.empty() ? "isda-train" : worker_binary_, run_dir);
  provenance.started = now_seconds();
  provenance.ended = std::nan("");
  record_provenance(store_, run_id, provenance);
}

void SlurmBackend::update_task(const results::SlurmSubmission& submission, const results::SlurmTaskRow& task,
                               const JobTask* status) {
  const auto run = find_run(store_, task.run_id);
  const auto owner = fmt::format("slurm:{}_{}", submission.job_id, task.task);
  const auto phase = status ? phase_of(status->state) : TaskPhase::ended;
  const auto seen = ingest_events(store_, task.run_id, run_files::path(run->run_dir, run_files::kEvents));
  if (run->state == RunState::done) {
    if (phase == TaskPhase::ended) finish_slurm_task(store_, submission.id, task.task);
    return;
  }
  switch (phase) {
    case TaskPhase::queued:
      if (run->state == RunState::running) {  // it ran and was requeued
        set_state(store_, run->id, RunState::interrupted, fmt::format("requeued by Slurm ({})", owner),
                  tail_of_file(run_files::path(run->run_dir, run_files::kWorkerLog), kLogTailLines));
        log_(fmt::format("requeued {} ({}), resumes from its checkpoint", run->id, owner));
      }
      return;
    case TaskPhase::running:
      if (run->state == RunState::pending || run->state == RunState::interrupted) {
        start(run->id, owner, status->nodes, run->run_dir);
        log_(fmt::format("started {} as {} on {}", run->id, owner, status->nodes));
      } else if (run->state == RunState::running) {
        heartbeat(store_, run->id, run->lease_owner);
      }
      if (seen.outcome == results::IngestResult::Outcome::done) {
        set_state(store_, run->id, RunState::done);
        log_(fmt::format("done {}", run->id));
      }
      return;
    case TaskPhase::ended:
      settle_ended(*run, seen, owner, submission.job_name, status);
      finish_slurm_task(store_, submission.id, task.task);
      return;
  }
}

void SlurmBackend::settle_ended(const results::RunInfo& run, const results::IngestResult& seen, const std::string& owner,
                                const std::string& job_name, const JobTask* status) {
  const auto mark = job_mark_of(run.run_dir);
  const bool ran = run.state == RunState::running ||
                   (mark && mark->job_name == job_name && "slurm:" + mark->task_id == owner);
  if (!ran) return;  // cancelled or failed before it started: it stays pending or interrupted
  if (run.state != RunState::running) start(run.id, owner, status ? status->nodes : "", run.run_dir);
  if (auto provenance = provenance_of(store_, run.id)) {
    provenance->ended = now_seconds();
    record_provenance(store_, run.id, *provenance);
  }
  const auto tail = tail_of_file(run_files::path(run.run_dir, run_files::kWorkerLog), kLogTailLines);
  const auto how = status ? fmt::format("ended {}", status->state) : std::string("is gone from the scheduler");
  AttemptEvidence evidence;
  evidence.seen = seen;
  evidence.has_checkpoint = fs::exists(run_files::path(run.run_dir, run_files::kCheckpoint));
  evidence.ended = fmt::format("slurm job {} {}", owner, how);
  const auto outcome = attempt_outcome(evidence);
  switch (outcome.kind) {
    case AttemptOutcome::Kind::done:
      set_state(store_, run.id, RunState::done);
      log_(fmt::format("done {}", run.id));
      return;
    case AttemptOutcome::Kind::failed:
      record_failure(store_, run.id, outcome.fault, outcome.reason, tail);
      log_(fmt::format("failed {} ({}); its log: {}", run.id, outcome.reason, run_files::path(run.run_dir, run_files::kWorkerLog)));
      return;
    case AttemptOutcome::Kind::interrupted:
      if (outcome.checkpointed) {
        set_state(store_, run.id, RunState::interrupted, fmt::format("stopped by signal {} ({})", outcome.signal, owner), tail);
        log_(fmt::format("interrupted {} ({} {})", run.id, owner, how));
      } else {
        set_state(store_, run.id, RunState::interrupted, outcome.reason, tail);
        log_(fmt::format("interrupted {} ({}; resumes from its checkpoint)", run.id, outcome.reason));
      }
      return;
    case AttemptOutcome::Kind::lost:
      set_state(store_, run.id, RunState::failed, outcome.reason, tail);
      log_(fmt::format("failed {} ({}); its log: {}", run.id, outcome.reason, run_files::path(run.run_dir, run_files::kWorkerLog)));
      return;
  }
}

int64_t SlurmBackend::submit(int64_t sweep_id, const std::string& sweep_name, int retries,
                             const SubmitSettings& settings) {
  worker_binary_ = settings.worker_binary;
  const auto queued = queued_runs(sweep_id);
  // (runs root, resource class) -> runs, in registration order.
  std::map<std::pair<std::string, std::string>, std::pair<ResourceClass, std::vector<results::RunInfo>>> groups;
  std::vector<std::pair<std::string, std::string>> order;
  for (const auto& run : runs_of_sweep(store_, sweep_id)) {
    if (queued.count(run.id) != 0) continue;
    switch (run.state) {
      case RunState::done: continue;
      case RunState::failed:
        // A fault of the machine (disk full, device lost) is not charged to the retries.
        if (run.fault != events::to_string(events::Fault::environment) && run.failures > retries) continue;
        set_state(store_, run.id, RunState::pending);
        break;
      case RunState::running:
        // Not in any open submission: left running by a local coordinator that died.
        ingest_events(store_, run.id, run_files::path(run.run_dir, run_files::kEvents));
        set_state(store_, run.id, RunState::interrupted, "no live worker or job");
        break;
      case RunState::pending:
      case RunState::interrupted: break;
    }
    const auto config = nlohmann::json::parse(run.config_json);
    const auto resources = resource_class_of(config, settings.options);
    const auto root = fs::path(absolute_path(run.run_dir)).parent_path().string();
    const std::pair key{root, resources.label()};
    auto [it, added] = groups.try_emplace(key, resources, std::vector<results::RunInfo>{});
    if (added) order.push_back(key);
    it->second.second.push_back(run);
  }

  int64_t submitted = 0;
  for (const auto& key : order) {
    const auto& [resources, runs] = groups.at(key);
    const auto& root = key.first;
    const auto slurm_dir = root + "/.slurm";
    fs::create_directories(slurm_dir);
    for (size_t begin = 0; begin < runs.size(); begin += kMaxArrayTasks) {
      const size_t end = std::min(runs.size(), begin + kMaxArrayTasks);
      std::vector<std::string> ids;
      for (size_t i = begin; i < end; ++i) {
        const auto& run = runs[i];
        fs::create_directories(run.run_dir);
        write_atomically(run_files::path(run.run_dir, run_files::kRunConfig), nlohmann::json::parse(run.config_json).dump(2) + "\n");
        ids.push_back(run.id);
      }
      const auto job_name = new_job_name(sweep_name);
      const auto manifest = slurm_dir + "/" + job_name + ".runs";
      const auto script = slurm_dir + "/" + job_name + ".sh";
      write_manifest(manifest, ids);
      write_atomically(script, job_script(manifest, root, settings.worker_binary, resources.ranks), 0755);
      const auto submission = record_slurm_intent(store_, sweep_id, resources.label(), manifest, job_name, ids);
      for (size_t i = begin; i < end; ++i) {
        if (runs[i].state == RunState::interrupted) set_state(store_, runs[i].id, RunState::pending);
      }
      std::string job_id;
      try {
        job_id = scheduler_.submit(sbatch_arguments(settings.options, resources, job_name, ids.size(), slurm_dir, script));
      } catch (const SlurmError&) {
        set_slurm_submission(store_, submission, "abandoned");
        throw;
      }
      set_slurm_submission(store_, submission, "submitted", job_id);
      submitted += static_cast<int64_t>(ids.size());
      log_(fmt::format("submitted {} runs as job array {} ({}; manifest {})", ids.size(), job_id, resources.label(),
                       manifest));
    }
  }
  return submitted;
}

void SlurmBackend::cancel(int64_t sweep_id) {
  std::vector<std::string> job_ids, job_names;
  for (const auto& submission : slurm_submissions(store_, sweep_id, /*open_only=*/true)) {
    if (submission.state == "submitted") {
      job_ids.push_back(submission.job_id);
    } else {
      job_names.push_back(submission.job_name);
    }
  }
  if (job_ids.empty() && job_names.empty()) return;
  scheduler_.cancel(job_ids, job_names);
  log_(fmt::format("cancelled {} job arrays", job_ids.size() + job_names.size()));
}

// ---------------------------------------------------------------------------------------------
// The commands

}  // namespace isda::runner
