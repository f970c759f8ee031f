#!/usr/bin/env bash
# slurm-local.sh start|stop|status [DIR]: a real single-node Slurm on localhost (Debian's slurm-wlm
# and munge), for the Slurm backend's end-to-end test and for trying isda-run --backend slurm.
#
# Everything it writes (slurm.conf, gres.conf, the munge key, state, spool, logs, daemon PIDs) lives
# under DIR (default $ISDA_SLURM_DIR). `start` starts munged, slurmctld and slurmd and waits until
# the node takes jobs; `stop` stops exactly the daemons it started (by their recorded PIDs); `status`
# says whether they run. Clients find the cluster with SLURM_CONF=DIR/slurm.conf (printed by start).
# The node has two fake GPUs (gres gpu:2, /dev/null symlinks), short credential lifetime and
# scheduling intervals, so a requeued job runs again in about 15-20 s. Needs root.
set -euo pipefail

usage() {
  echo "usage: $0 start|stop|status [DIR]   (DIR defaults to \$ISDA_SLURM_DIR)" >&2
  exit 2
}

command=${1:-}
dir=${2:-${ISDA_SLURM_DIR:-}}
[[ -n $command && -n $dir ]] || usage
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
conf=$dir/slurm.conf
daemons=(munged slurmctld slurmd)

log() { echo "slurm-local: $*" >&2; }

# The recorded PID of a daemon if that process still runs that program, else nothing.
live_pid() {
  local name=$1 pid
  [[ -f $dir/$name.pid ]] || return 0
  pid=$(<"$dir/$name.pid")
  [[ $pid =~ ^[0-9]+$ ]] || return 0
  [[ -r /proc/$pid/cmdline ]] || return 0
  if tr '\0' ' ' <"/proc/$pid/cmdline" | grep -q "$name"; then echo "$pid"; fi
}

free_port() {
  local port=$1
  while ss -Htan | awk '{print $4}' | grep -qE "[:.]$port\$"; do port=$((port + 1)); done
  echo "$port"
}

wait_for() {  # wait_for SECONDS DESCRIPTION COMMAND...
  local seconds=$1 what=$2
  shift 2
  for ((i = 0; i < seconds * 5; i++)); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  log "timed out waiting for $what; logs in $dir/log"
  return 1
}

stop() {
  local name pid jobs
  # Jobs first, so that no slurmstepd or worker outlives the cluster (all jobs here are this cluster's).
  if [[ -n $(live_pid slurmctld) && -f $conf ]]; then
    jobs=$(SLURM_CONF=$conf squeue -h -o %A 2>/dev/null | sort -u | tr '\n' ' ')
    if [[ -n ${jobs// /} ]]; then
      # shellcheck disable=SC2086
      SLURM_CONF=$conf scancel $jobs 2>/dev/null || true
      wait_for 30 "the jobs to end" bash -c "! SLURM_CONF=$conf squeue -h -o %A | grep -q ." || true
    fi
  fi
  for name in slurmd slurmctld munged; do
    pid=$(live_pid "$name")
    if [[ -n $pid ]]; then
      kill -TERM "$pid" 2>/dev/null || true
      for ((i = 0; i < 50; i++)); do
        [[ -d /proc/$pid ]] || break
        sleep 0.2
      done
      if [[ -d /proc/$pid ]]; then
        log "$name (pid $pid) ignored SIGTERM; killing it"
        kill -KILL "$pid" 2>/dev/null || true
      fi
      log "stopped $name (pid $pid)"
    fi
    rm -f "$dir/$name.pid"
  done
}

status() {
  local name pid rc=0
  for name in "${daemons[@]}"; do
    pid=$(live_pid "$name")
    if [[ -n $pid ]]; then echo "$name running (pid $pid)"; else echo "$name stopped"; rc=1; fi
  done
  if ((rc == 0)); then SLURM_CONF=$conf sinfo -h -o "%P %a %D %T %C %G" || rc=1; fi
  return "$rc"
}

start() {
  [[ $(id -u) -eq 0 ]] || { log "needs root (it starts munged as user munge and slurmd as root)"; exit 1; }
  for program in munged slurmctld slurmd; do
    command -v "$program" >/dev/null || [[ -x /usr/sbin/$program ]] || {
      log "$program not found (apt-get install slurm-wlm munge; see scripts/setup.sh)"
      exit 1
    }
  done
  export PATH=$PATH:/usr/sbin
  for name in "${daemons[@]}"; do
    if [[ -n $(live_pid "$name") ]]; then log "$name already runs for $dir; stop it first"; exit 1; fi
  done
  mkdir -p "$dir"/{state,spool,log,gres,munge}
  rm -rf "$dir/state"/* "$dir/spool"/*  # a fresh cluster: no jobs left from an earlier start

  # munge: its own key, socket and logs under DIR, running as user munge.
  if [[ ! -s $dir/munge/munge.key ]]; then
    dd if=/dev/urandom of="$dir/munge/munge.key" bs=1024 count=1 status=none
  fi
  chown -R munge:munge "$dir/munge"
  chmod 0755 "$dir/munge"  # munged wants the socket directory searchable by all
  chmod 0400 "$dir/munge/munge.key"
  local socket=$dir/munge/munge.socket
  setpriv --reuid=munge --regid=munge --init-groups -- munged --foreground --socket="$socket" \
    --key-file="$dir/munge/munge.key" --pid-file="$dir/munge/munged.pid" --log-file="$dir/munge/munged.log" \
    --seed-file="$dir/munge/munged.seed" </dev/null >>"$dir/log/munged.out" 2>&1 &
  echo $! >"$dir/munged.pid"
  wait_for 10 "munged" test -S "$socket"

  local cpus memory ctld_port slurmd_port
  cpus=$(nproc)
  memory=$(slurmd -C | sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p')
  memory=${memory:-2048}
  ctld_port=$(free_port 6817)
  slurmd_port=$(free_port $((ctld_port + 1)))
  for i in 0 1; do ln -sfn /dev/null "$dir/gres/gpu$i"; done

  cat >"$conf" <<EOF
# Written by scripts/slurm-local.sh: a single-node Slurm on localhost for tests.
ClusterName=isda-local
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$socket,cred_expire=10
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.daemon.pid
SlurmdPidFile=$dir/slurmd.daemon.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=$((memory / cpus < 1024 ? memory / cpus : 1024))
SchedulerType=sched/backfill
SchedulerParameters=sched_interval=5,bf_interval=5
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
JobRequeue=1
ReturnToService=2
MinJobAge=600
KillWait=10
SlurmdTimeout=60
GresTypes=gpu
SlurmdParameters=config_overrides
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory Gres=gpu:2 State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
  cat >"$dir/gres.conf" <<EOF
AutoDetect=off
NodeName=localhost Name=gpu File=$dir/gres/gpu0
NodeName=localhost Name=gpu File=$dir/gres/gpu1
EOF

  export SLURM_CONF=$conf
  setsid slurmctld -D -i -f "$conf" </dev/null >>"$dir/log/slurmctld.out" 2>&1 &
  echo $! >"$dir/slurmctld.pid"
  wait_for 20 "slurmctld" scontrol ping
  setsid slurmd -D -N localhost -f "$conf" </dev/null >>"$dir/log/slurmd.out" 2>&1 &
  echo $! >"$dir/slurmd.pid"
  if ! wait_for 30 "the node to be idle" bash -c 'sinfo -h -N -o %T | grep -qx idle'; then
    stop
    exit 1
  fi
  log "started munged ($(<"$dir/munged.pid")), slurmctld ($(<"$dir/slurmctld.pid")), slurmd ($(<"$dir/slurmd.pid")) in $dir"
  echo "export SLURM_CONF=$conf"
}

case $command in
  start) start ;;
  stop) stop ;;
  status) status ;;
  *) usage ;;
esac
