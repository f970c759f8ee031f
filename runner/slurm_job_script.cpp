// The job script of a Slurm job array (runner/slurm_backend.h, job_script): runner/slurm_job.sh,
// embedded at build time, after the settings of one array. Its stall watch keeps what isda-run's
// local backend keeps (runner/stall.h).
#include "runner/slurm_backend.h"

#include "common/run_files.h"
#include "runner/slurm_job_resource.h"  // kSlurmJobScript: runner/slurm_job.sh (generated)
#include "train/run_directory.h"

#include <fmt/format.h>

#include <string>
#include <string_view>

namespace isda::runner {
namespace {

// A single-quoted bash word.
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

constexpr std::string_view kSettingsLine = "# @SETTINGS@";

}  // namespace

std::string job_script(const std::string& manifest_path, const std::string& runs_root, const std::string& worker_binary,
                       int ranks) {
  const auto settings = fmt::format(
      "manifest={}\nruns_root={}\nworker={}\nlaunch=({})\n"
      "run_config_file={}\nevents_file={}\nworker_log_file={}\ninterrupted_file={}\nprogress_file={}\n"
      "stall_report_file={}\njob_mark_file={}\nstall_floor={}\nstall_grace={}\n",
      shell_quote(manifest_path), shell_quote(runs_root), shell_quote(worker_binary),
      ranks > 1 ? fmt::format("srun --ntasks={} --kill-on-bad-exit=1", ranks) : std::string(), run_files::kRunConfig,
      run_files::kEvents, run_files::kWorkerLog, run_files::kInterrupted, run_files::kProgress, run_files::kStallReport,
      run_files::kSlurmJobMark, train::kStallLimitFloorSeconds, train::kStallGraceSeconds);
  std::string script(kSlurmJobScript);
  const auto at = script.find(kSettingsLine);
  if (at == std::string::npos) throw std::logic_error("runner/slurm_job.sh has no settings line");
  return script.insert(at, settings);
}

}  // namespace isda::runner
