#include "runner/slurm_commands.h"

#include "common/process.h"

#include <fmt/format.h>

#include <csignal>
#include <chrono>
#include <sstream>

namespace isda::runner {
namespace {

constexpr auto kCommandTimeout = std::chrono::seconds(120);
constexpr size_t kNamesPerQuery = 100;  // keeps squeue's command line short

struct CommandResult {
  int exit_code = 0;
  std::string out;
  std::string err;
};

std::string first_line(const std::string& text) {
  const auto begin = text.find_first_not_of(" \n\t");
  if (begin == std::string::npos) return "";
  const auto end = text.find('\n', begin);
  return text.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
}

// Runs `program args...` (found in PATH) and captures its output. The child dies with this process
// (SIGKILL): a coordinator killed mid-sbatch does not leave an sbatch to submit later.
CommandResult run_program(const std::string& program, const std::vector<std::string>& args) {
  const auto path = common::find_in_path(program);
  if (path.empty()) {
    throw SlurmError(fmt::format("{}: not found in PATH (the Slurm backend needs the Slurm client commands)", program));
  }
  common::CaptureOptions options;
  options.timeout = kCommandTimeout;
  options.death_signal = SIGKILL;
  common::Captured captured;
  try {
    captured = common::run_captured(path, args, options);
  } catch (const std::exception& e) {
    throw SlurmError(fmt::format("{}: cannot start it ({})", program, e.what()));
  }
  if (captured.timed_out) {
    throw SlurmError(fmt::format("{}: no answer within {} s", program, kCommandTimeout.count()));
  }
  return {captured.exit_code, captured.out, captured.err};
}

std::vector<std::string> split(const std::string& text, char separator) {
  std::vector<std::string> parts;
  std::string part;
  std::istringstream in(text);
  while (std::getline(in, part, separator)) parts.push_back(part);
  if (!text.empty() && text.back() == separator) parts.emplace_back();
  return parts;
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  for (auto& line : split(text, '\n')) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) lines.push_back(line);
  }
  return lines;
}

bool all_digits(const std::string& text) {
  return !text.empty() && text.find_first_not_of("0123456789") == std::string::npos;
}

int64_t to_index(const std::string& text, const std::string& whole) {
  if (!all_digits(text)) throw SlurmError(fmt::format("cannot read the array index list \"{}\"", whole));
  return std::stoll(text);
}

std::string join(const std::vector<std::string>& items, const std::string& separator) {
  std::string joined;
  for (const auto& item : items) joined += (joined.empty() ? "" : separator) + item;
  return joined;
}

class SlurmCommands : public Scheduler {
 public:
  std::string submit(const std::vector<std::string>& arguments) override {
    std::vector<std::string> args = {"--parsable"};
    args.insert(args.end(), arguments.begin(), arguments.end());
    const auto result = run_program("sbatch", args);
    if (result.exit_code != 0) {
      throw SlurmError(fmt::format("sbatch refused the job array (exit code {}): {}", result.exit_code,
                                   first_line(result.err.empty() ? result.out : result.err)));
    }
    return parse_sbatch_output(result.out);
  }

  std::vector<JobTask> live_tasks(const std::vector<std::string>& job_names) override {
    std::vector<JobTask> tasks;
    for (size_t begin = 0; begin < job_names.size(); begin += kNamesPerQuery) {
      const std::vector<std::string> names(job_names.begin() + static_cast<std::ptrdiff_t>(begin),
                                           job_names.begin() + static_cast<std::ptrdiff_t>(std::min(job_names.size(), begin + kNamesPerQuery)));
      const auto result = run_program("squeue", {"-h", "-r", "-t", "all", "--name=" + join(names, ","), "-o", "%j|%F|%K|%T|%N"});
      if (result.exit_code != 0) {
        throw SlurmError(fmt::format("squeue failed (exit code {}): {}", result.exit_code, first_line(result.err)));
      }
      for (auto& task : parse_squeue_output(result.out)) tasks.push_back(std::move(task));
    }
    return tasks;
  }

  std::vector<JobTask> accounted_tasks(const std::vector<std::string>& job_ids) override {
    if (job_ids.empty() || accounting_disabled_) return {};
    CommandResult result;
    try {
      result = run_program("sacct", {"-n", "-P", "-X", "-j", join(job_ids, ","), "-o", "JobID,JobName,State,NodeList"});
    } catch (const SlurmError&) {
      accounting_disabled_ = true;  // no sacct here: squeue and the event logs are all there is
      return {};
    }
    if (result.exit_code != 0) {
      // "Slurm accounting storage is disabled": no slurmdbd. Nothing to learn from it this time.
      if ((result.out + result.err).find("disabled") != std::string::npos) accounting_disabled_ = true;
      return {};
    }
    return parse_sacct_output(result.out);
  }

  void cancel(const std::vector<std::string>& job_ids, const std::vector<std::string>& job_names) override {
    if (!job_ids.empty()) check_scancel(run_program("scancel", job_ids));
    for (const auto& name : job_names) check_scancel(run_program("scancel", {"--name=" + name}));
  }

 private:
  static void check_scancel(const CommandResult& result) {
    // Jobs that ended meanwhile are no failure of a cancel.
    for (const auto& line : lines_of(result.err)) {
      if (line.find("already completing or completed") != std::string::npos) continue;
      if (line.find("Invalid job id") != std::string::npos) continue;
      throw SlurmError(fmt::format("scancel failed (exit code {}): {}", result.exit_code, line));
    }
  }

  bool accounting_disabled_ = false;
};

}  // namespace

TaskPhase phase_of(const std::string& state) {
  static const char* const kQueued[] = {"PENDING", "REQUEUED", "REQUEUE_HOLD", "REQUEUE_FED", "SUSPENDED",
                                        "STOPPED", "RESV_DEL_HOLD", "SPECIAL_EXIT", "CONFIGURING"};
  static const char* const kEnded[] = {"COMPLETED", "FAILED",        "CANCELLED", "TIMEOUT", "PREEMPTED",
                                       "NODE_FAIL", "OUT_OF_MEMORY", "BOOT_FAIL", "DEADLINE", "REVOKED"};
  for (const char* name : kQueued) {
    if (state == name) return TaskPhase::queued;
  }
  for (const char* name : kEnded) {
    if (state == name) return TaskPhase::ended;
  }
  return TaskPhase::running;  // RUNNING, COMPLETING, SIGNALING, STAGE_OUT, RESIZING and unknown states
}

std::unique_ptr<Scheduler> make_slurm_commands() { return std::make_unique<SlurmCommands>(); }

std::string parse_sbatch_output(const std::string& out) {
  const auto lines = lines_of(out);
  if (lines.empty()) throw SlurmError("sbatch printed no job id");
  const auto& line = lines.back();  // warnings may come first
  const auto id = line.substr(0, line.find(';'));
  if (!all_digits(id)) throw SlurmError(fmt::format("sbatch printed \"{}\", not a job id", line));
  return id;
}

std::vector<int64_t> expand_task_ids(const std::string& text) {
  std::string list = text;
  if (const auto percent = list.find('%'); percent != std::string::npos) list.erase(percent);
  if (!list.empty() && list.front() == '[') list.erase(0, 1);
  if (!list.empty() && list.back() == ']') list.pop_back();
  std::vector<int64_t> ids;
  for (const auto& item : split(list, ',')) {
    if (item.empty()) throw SlurmError(fmt::format("cannot read the array index list \"{}\"", text));
    const auto dash = item.find('-');
    if (dash == std::string::npos) {
      ids.push_back(to_index(item, text));
      continue;
    }
    const auto first = to_index(item.substr(0, dash), text);
    auto range = item.substr(dash + 1);
    int64_t step = 1;
    if (const auto colon = range.find(':'); colon != std::string::npos) {
      step = std::max<int64_t>(1, to_index(range.substr(colon + 1), text));
      range.erase(colon);
    }
    const auto last = to_index(range, text);
    for (int64_t i = first; i <= last; i += step) ids.push_back(i);
  }
  return ids;
}

std::vector<JobTask> parse_squeue_output(const std::string& out) {
  std::vector<JobTask> tasks;
  for (const auto& line : lines_of(out)) {
    // The job name comes first and is ours (no '|'); split the rest from the right.
    const auto fields = split(line, '|');
    if (fields.size() < 5) throw SlurmError(fmt::format("squeue printed \"{}\", expected name|job|task|state|nodes", line));
    const size_t n = fields.size();
    JobTask task;
    task.job_name = join(std::vector<std::string>(fields.begin(), fields.end() - 4), "|");
    task.array_job_id = fields[n - 4];
    task.state = fields[n - 2].substr(0, fields[n - 2].find(' '));
    task.nodes = fields[n - 1];
    if (!all_digits(task.array_job_id)) throw SlurmError(fmt::format("squeue printed \"{}\": no job id", line));
    const auto& index = fields[n - 3];
    if (index == "N/A" || index.empty()) {
      tasks.push_back(task);
      continue;
    }
    for (const auto i : expand_task_ids(index)) {
      task.task = i;
      tasks.push_back(task);
    }
  }
  return tasks;
}

std::vector<JobTask> parse_sacct_output(const std::string& out) {
  std::vector<JobTask> tasks;
  for (const auto& line : lines_of(out)) {
    const auto fields = split(line, '|');
    if (fields.size() < 4) throw SlurmError(fmt::format("sacct printed \"{}\", expected JobID|JobName|State|NodeList", line));
    JobTask task;
    const auto& id = fields[0];
    const auto underscore = id.find('_');
    task.array_job_id = id.substr(0, underscore);
    if (!all_digits(task.array_job_id)) throw SlurmError(fmt::format("sacct printed \"{}\": no job id", line));
    task.job_name = join(std::vector<std::string>(fields.begin() + 1, fields.end() - 2), "|");
    const auto& state = fields[fields.size() - 2];
    task.state = state.substr(0, state.find(' '));  // "CANCELLED by 0"
    task.nodes = fields.back();
    if (underscore == std::string::npos) {
      tasks.push_back(task);
      continue;
    }
    for (const auto i : expand_task_ids(id.substr(underscore + 1))) {
      task.task = i;
      tasks.push_back(task);
    }
  }
  return tasks;
}

}  // namespace isda::runner
