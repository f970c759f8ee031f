#!/bin/bash
# shellcheck disable=SC2154  # the settings (manifest, worker, file names, ...) are written in by isda-run
# Written by isda-run from runner/slurm_job.sh (runner/slurm_job_script.cpp). Array task i runs the
# run on line i+1 of the manifest; its output goes to the run directory's worker.log. SIGUSR1 (sbatch --signal=B:USR1@lead,
# or scancel -b --signal=USR1) makes isda-train checkpoint and exit with 138; the task then requeues
# itself and resumes from the checkpoint. SIGTERM (scancel, preemption) makes it checkpoint and stop.
# @SETTINGS@: isda-run writes manifest, runs_root, worker, launch (an array), and the names and
# limits below here (runner/slurm_job_script.cpp, job_script).
line=$((SLURM_ARRAY_TASK_ID + 1))
id=$(sed -n "${line}p" "$manifest")
if [[ ! $id =~ ^[0-9a-zA-Z_.-]+$ ]]; then
  echo "isda-run job: no run on line $line of $manifest" >&2
  exit 2
fi
dir=$runs_root/$id
task=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
echo "$SLURM_JOB_NAME $task ${SLURM_RESTART_COUNT:-0}" >"$dir/$job_mark_file"
exec >>"$dir/$worker_log_file" 2>&1
echo "isda-run: slurm job $task (job id $SLURM_JOB_ID) on $(hostname), restart ${SLURM_RESTART_COUNT:-0}"
child=
trap '[[ -n $child ]] && kill -USR1 "$child"' USR1
trap '[[ -n $child ]] && kill -TERM "$child"' TERM
trap '[[ -n $child ]] && kill -INT "$child"' INT
marker=$dir/$interrupted_file
# The stall watch, as isda-run's local backend keeps it (runner/README.md, "Stalled runs"): a worker
# that notes no finished step in its progress file for its stall limit (the limit it noted there,
# else stall_limit of run.json, else the floor) is stopped: what was seen goes to the stall report,
# the worker gets SIGTERM and SIGCONT (it checkpoints) and SIGKILL after the grace period, and the
# attempt ends with a failed record of fault stalled, which isda-run retries within the retries.
progress=$dir/$progress_file
stall_report=$dir/$stall_report_file
stalled=$dir/.stalled
watch_for_stall() {
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
    [[ $limit =~ ^[0-9]+$ ]] || limit=$(grep -o '"stall_limit": *[0-9]*' "$dir/$run_config_file" | grep -o '[0-9]*$')
    [[ $limit =~ ^[1-9][0-9]*$ ]] || limit=$stall_floor
    idle=$(($(date +%s) - last))
    ((idle > limit)) || continue
    echo "stalled: no step finished for $idle s (stall limit $limit s) on $(hostname); where it hung: $stall_report_file" >"$stalled"
    {
      cat "$stalled"
      for p in $pid $(pgrep -P "$pid"); do
        echo "process $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)"
        grep '^State' "/proc/$p/status" 2>/dev/null
        echo "  waiting in: $(cat "/proc/$p/wchan" 2>/dev/null)"
        cat "/proc/$p"/task/*/stack 2>/dev/null
        command -v gdb >/dev/null && timeout 20 gdb -batch -nx -p "$p" -ex "thread apply all bt" 2>&1
      done
    } >"$stall_report"
    echo "isda-run: $(cat "$stalled"); stopping the worker"
    kill -TERM "$pid"
    kill -CONT "$pid" $(pgrep -P "$pid") 2>/dev/null
    for ((p = 0; p < stall_grace; p++)); do kill -0 "$pid" 2>/dev/null && sleep 1; done
    kill -KILL "$pid" $(pgrep -P "$pid") 2>/dev/null
    return
  done
}
for attempt in 1 2 3; do
  rm -f "$marker" "$stalled"
  "${launch[@]}" "$worker" --config "$dir/$run_config_file" --run-dir "$dir" --threads "${SLURM_CPUS_PER_TASK:-1}" &
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
    printf '{"event":"failed","reason":"%s","fault":"stalled","exit_code":1,"time":%s}\n' "$(cat "$stalled")" \
      "$(date +%s)" >>"$dir/$events_file"
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
