// The job script of a Slurm job array (runner/slurm_backend.h, job_script): bash, one array task a
// run; its stall watch keeps what isda-run's local backend keeps (runner/stall.h).
#include "runner/slurm_backend.h"

#include "common/run_events.h"
#include "train/run_directory.h"

#include <fmt/format.h>

#include <string>

namespace isda::runner {
namespace {

// A single-quoted bash word.
std::string shell_quote(const std::string& text) {
  std::string quoted = "'";
  for (const char c : text) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return quoted + "'";
}

}  // namespace

std::string job_script(const std::string& manifest_path, const std::string& runs_root, const std::string& worker_binary,
                       int ranks) {
  return fmt::format(R"SH(#!/bin/bash
# Written by isda-run (runner/slurm_backend.cpp). Array task i runs the run on line i+1 of the
# manifest; its output goes to the run directory's worker.log. SIGUSR1 (sbatch --signal=B:USR1@lead,
# or scancel -b --signal=USR1) makes isda-train checkpoint and exit with 138; the task then requeues
# itself and resumes from the checkpoint. SIGTERM (scancel, preemption) makes it checkpoint and stop.
manifest={}
runs_root={}
worker={}
launch=({})
line=$((SLURM_ARRAY_TASK_ID + 1))
id=$(sed -n "${{line}}p" "$manifest")
if [[ ! $id =~ ^[0-9a-zA-Z_.-]+$ ]]; then
  echo "isda-run job: no run on line $line of $manifest" >&2
  exit 2
fi
dir=$runs_root/$id
task=${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}}
echo "$SLURM_JOB_NAME $task ${{SLURM_RESTART_COUNT:-0}}" >"$dir/slurm-job"
exec >>"$dir/worker.log" 2>&1
echo "isda-run: slurm job $task (job id $SLURM_JOB_ID) on $(hostname), restart ${{SLURM_RESTART_COUNT:-0}}"
child=
trap '[[ -n $child ]] && kill -USR1 "$child"' USR1
trap '[[ -n $child ]] && kill -TERM "$child"' TERM
trap '[[ -n $child ]] && kill -INT "$child"' INT
marker=$dir/{}
# The stall watch, as isda-run's local backend keeps it (runner/README.md, "Stalled runs"): a worker
# that notes no finished step in its progress file for its stall limit (the limit it noted there,
# else stall_limit of run.json, else the floor) is stopped: what was seen goes to the stall report,
# the worker gets SIGTERM and SIGCONT (it checkpoints) and SIGKILL after the grace period, and the
# attempt ends with a failed record of fault stalled, which isda-run retries within the retries.
progress=$dir/{progress_file}
stall_report=$dir/{stall_report_file}
stall_floor={stall_floor}
stall_grace={stall_grace}
stalled=$dir/.stalled
watch_for_stall() {{
  local pid=$1 started limit last idle p
  started=$(date +%s)
  while kill -0 "$pid" 2>/dev/null; do
    sleep 1
    last=$started limit=
    if [[ -f $progress ]]; then
      read -r _ _ limit <"$progress"
      last=$(stat -c %Y "$progress")
      ((last < started)) && last=$started
    fi
    [[ $limit =~ ^[0-9]+$ ]] || limit=$(grep -o '"stall_limit": *[0-9]*' "$dir/run.json" | grep -o '[0-9]*$')
    [[ $limit =~ ^[1-9][0-9]*$ ]] || limit=$stall_floor
    idle=$(($(date +%s) - last))
    ((idle > limit)) || continue
    echo "stalled: no step finished for $idle s (stall limit $limit s) on $(hostname); where it hung: {stall_report_file}" >"$stalled"
    {{
      cat "$stalled"
      for p in $pid $(pgrep -P "$pid"); do
        echo "process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        grep '^State' "/proc/$p/status" 2>/dev/null
        echo "  waiting in: $(cat "/proc/$p/wchan" 2>/dev/null)"
        cat "/proc/$p"/task/*/stack 2>/dev/null
        command -v gdb >/dev/null && timeout 20 gdb -batch -nx -p "$p" -ex "thread apply all bt" 2>&1
      done
    }} >"$stall_report"
    echo "isda-run: $(cat "$stalled"); stopping the worker"
    kill -TERM "$pid"
    kill -CONT "$pid" $(pgrep -P "$pid") 2>/dev/null
    for ((p = 0; p < stall_grace; p++)); do kill -0 "$pid" 2>/dev/null && sleep 1; done
    kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null
    return
  done
}}
for attempt in 1 2 3; do
  rm -f "$marker" "$stalled"
  "${{launch[@]}}" "$worker" --config "$dir/run.json" --run-dir "$dir" --threads "${{SLURM_CPUS_PER_TASK:-1}}" &
  child=$!
  watch_for_stall "$child" &
  watcher=$!
  wait "$child"
  code=$?
  # A trapped signal interrupts wait: wait again until the worker itself has exited.
  while ((code > 128)) && kill -0 "$child" 2>/dev/null; do
    wait "$child"
    code=$?
  done
  child=
  kill "$watcher" 2>/dev/null
  wait "$watcher" 2>/dev/null
  if [[ -e $stalled ]]; then
    printf '{{"event":"failed","reason":"%s","fault":"stalled","exit_code":1,"time":%s}}\n' "$(cat "$stalled")" \
      "$(date +%s)" >>"$dir/events.jsonl"
    rm -f "$stalled"
    code=1
    break
  fi
  ((code == 138)) || break
  # 138 is also what SIGUSR1 leaves of a worker that had not installed its handler yet (a signal
  # meant for the attempt before the requeue, delivered late): only the marker that this worker
  # leaves after checkpointing on a signal (common/run_events.h) says that it checkpointed.
  if [[ -e $marker ]]; then
    echo "isda-run: checkpointed on SIGUSR1; requeueing $task"
    scontrol requeue "$task"
    break
  fi
  echo "isda-run: the worker died of SIGUSR1 before it could checkpoint (attempt $attempt); starting it again"
done
exit "$code"
)SH",
                     shell_quote(manifest_path), shell_quote(runs_root), shell_quote(worker_binary),
                     ranks > 1 ? fmt::format("srun --ntasks={} --kill-on-bad-exit=1", ranks) : std::string(),
                     events::kInterruptedMarker, fmt::arg("progress_file", train::kProgressFile),
                     fmt::arg("stall_report_file", train::kStallReportFile),
                     fmt::arg("stall_floor", train::kStallLimitFloorSeconds),
                     fmt::arg("stall_grace", train::kStallGraceSeconds));
}

}  // namespace isda::runner
