#!/usr/bin/env bash
# gpu-check.sh: builds, checks and times the suite on a machine with an NVIDIA GPU in one call, and
# rehearses every step a CPU can run so that the first GPU call does not fail on a typo.
#
#   scripts/gpu-check.sh --prepare            here (with network): fills the ignored folder .gpu-carry/
#                                             with what the GPU machine lacks (Debian -dev packages as
#                                             .deb files, the PyTorch peer, one CIFAR-10 batch); idempotent
#   scripts/gpu-check.sh --out DIR            on the GPU machine (carry .gpu-carry): env, dependencies,
#                                             configure + build of the `cuda` preset, the `gpu` tests,
#                                             the benchmarks beside the PyTorch peer, report in DIR
#   scripts/gpu-check.sh --rehearse DIR       here, on the CPU with build/release: every step a CPU can
#                                             run, at tiny sizes (the ctest gpu_check_rehearsal)
#
# Options: --build-dir DIR (default build/cuda, rehearsal build/release), --skip STEP[,STEP...],
# --only STEP[,STEP...] (env and the report always run): a rerun on the warm machine can keep its
# build and run what the deadline cut, e.g. --only train_densenet190,packing,isda_cost_f64.
# Each step runs under its own time limit; a failed step is reported and the next one runs; the
# report (DIR/gpu-check.md, DIR/gpu-check.json, DIR/gpu-check.log) is always written. Exit code:
# 0 when every step that ran passed, 1 otherwise, 2 for bad usage.
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
carry=$root/.gpu-carry

usage() {
  awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0" >&2
  exit 2
}

mode=""
out=""
build_dir=""
skip=","
only=""
while (($#)); do
  case $1 in
    --prepare) mode=prepare ;;
    --rehearse) mode=rehearse; out=${2:-}; shift ;;
    --out) mode=gpu; out=${2:-}; shift ;;
    --build-dir) build_dir=${2:-}; shift ;;
    --skip) skip=",${2:-},"; shift ;;
    --only) only=",${2:-},"; shift ;;
    -h | --help) usage ;;
    *) echo "gpu-check: error: unknown argument \"$1\"" >&2; usage ;;
  esac
  shift
done
[[ -n $mode ]] || usage
[[ $mode == prepare || -n $out ]] || { echo "gpu-check: error: --$mode needs a folder" >&2; exit 2; }

# Debian packages whose headers (and static or relinkable libraries) the GPU machine may lack, each
# with the header that tells whether the machine has it. Only the missing ones are unpacked there.
debs="libsqlite3-dev sqlite3.h
nlohmann-json3-dev nlohmann/json.hpp
libgtest-dev gtest/gtest.h
libgmock-dev gmock/gmock.h
libjpeg62-turbo-dev jpeglib.h
libpng-dev png.h
libcurl4-openssl-dev curl/curl.h
libarchive-dev archive.h
zlib1g-dev zlib.h"
have_header() {  # the system's compiler finds this header (multiarch folder included)
  [[ -e /usr/include/$1 || -e /usr/include/x86_64-linux-gnu/$1 || -e /usr/local/include/$1 ]]
}
peer_source=$root/../shared/bench/pytorch_tuned.py
batch_source=$root/../shared/data/cifar10/data_batch_1.bin

# --- prepare (here) ------------------------------------------------------------------------------
if [[ $mode == prepare ]]; then
  set -e
  mkdir -p "$carry/debs"
  grep -qxF '/.gpu-carry/' .gitignore 2>/dev/null || { echo "gpu-check: error: .gitignore lacks /.gpu-carry/" >&2; exit 1; }
  while read -r package header; do
    if ! ls "$carry/debs/${package}_"*.deb >/dev/null 2>&1; then
      (cd "$carry/debs" && apt-get download "$package" 2>&1 >/dev/null | grep -v 'unsandboxed' >&2 || true)
      ls "$carry/debs/${package}_"*.deb >/dev/null 2>&1 || { echo "gpu-check: error: apt-get download $package failed" >&2; exit 1; }
    fi
  done <<<"$debs"
  [[ -f $peer_source ]] || { echo "gpu-check: error: $peer_source not found" >&2; exit 1; }
  [[ -f $batch_source ]] || { echo "gpu-check: error: $batch_source not found" >&2; exit 1; }
  cp -u "$peer_source" "$carry/pytorch_tuned.py"
  cp -u "$batch_source" "$carry/data_batch_1.bin"
  echo "gpu-check: $carry holds $(du -sh "$carry" | cut -f1):"
  (cd "$carry" && ls -1 debs/*.deb pytorch_tuned.py data_batch_1.bin)
  echo "device call: bash scripts/gpu-check.sh --out \$OUT   (carry: [\".gpu-carry\"], timeout_s 600)"
  exit 0
fi

# --- check and rehearsal: shared machinery -------------------------------------------------------
mkdir -p "$out"
out=$(cd "$out" && pwd)
if [[ -z $build_dir ]]; then
  if [[ $mode == gpu ]]; then build_dir=$root/build/cuda; else build_dir=$root/build/release; fi
fi
[[ $build_dir == /* ]] || build_dir=$root/$build_dir
# Scratch (logs, data links, run directories) stays out of DIR on the GPU machine, where only a few
# files of DIR come back.
if [[ $mode == gpu ]]; then work=$build_dir/gpu-check-work; else work=$out/work; fi
rm -rf "$work"
mkdir -p "$work/logs"
: >"$work/steps.tsv"
: >"$work/results.jsonl"
: >"$work/env.txt"
started=$(date +%s)
notes=()

note() { notes+=("$*"); echo "gpu-check: $*" >&2; }
skipped() { [[ $skip == *",$1,"* || ( -n $only && $1 != env && $only != *",$1,"* ) ]]; }

# run_step NAME SECONDS COMMAND...: runs COMMAND (a program or one of the step functions below) under
# a time limit, never past the deadline (ISDA_GPU_CHECK_DEADLINE seconds after the start, less time
# for the report), with its output in logs/NAME.log; records status (ok, failed, timeout, skipped)
# and seconds. JSON lines it prints ({...}) become results.
deadline=${ISDA_GPU_CHECK_DEADLINE:-450}
# The rehearsal checks the plumbing, not the time: on a loaded 2-core CI machine (beside the rest of
# the suite) its tiny steps can take several times longer, so its limits are five times wider.
[[ $mode == rehearse ]] && deadline=${ISDA_GPU_CHECK_DEADLINE:-1500}
run_step() {
  local name=$1 limit=$2 rc t0 t1 status left
  shift 2
  [[ $mode == rehearse ]] && limit=$((limit * 5))
  if skipped "$name"; then  # on request (a rerun that keeps its build): the flow goes on
    record "$name" skipped 0 0 "--skip"
    return 0
  fi
  left=$((deadline - 15 - ($(date +%s) - started)))
  if ((left < 5)); then
    skip_step "$name" "out of time (deadline ${deadline}s)"
    return 1
  fi
  ((limit > left)) && limit=$left
  echo "gpu-check: $name (limit ${limit}s)" >&2
  t0=$(date +%s.%N)
  timeout --kill-after=10 "$limit" bash -c '"$@"' "$name" "$@" >"$work/logs/$name.log" 2>&1
  rc=$?
  t1=$(date +%s.%N)
  case $rc in
    0) status=ok ;;
    124 | 137) status=timeout ;;
    *) status=failed ;;
  esac
  grep -E '^\{.*\}$' "$work/logs/$name.log" | sed "s/^{/{\"step\":\"$name\",/" >>"$work/results.jsonl"
  record "$name" "$status" "$rc" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }')" \
    "$(grep -v -E '^\{' "$work/logs/$name.log" | grep -E -i 'error|fail|not found|missing' | tail -1 | cut -c1-200)"
  [[ $status == ok ]]
}

record() {  # record NAME STATUS RC SECONDS [DETAIL]
  printf '%s\t%s\t%s\t%s\t%s\n' "$1" "$2" "$3" "$4" "${5:-}" >>"$work/steps.tsv"
}

skip_step() {  # skip_step NAME REASON
  record "$1" skipped 0 0 "$2"
  echo "gpu-check: $1 skipped: $2" >&2
}

bin=$build_dir
train_bin=$bin/core/command/isda-train
run_bin=$bin/runner/isda-run
bench_bin=$bin/bench/isda-bench
export ISDA_WORK=$work

# --- step: env --------------------------------------------------------------------------------
step_env() {
  local package header
  echo "ENV date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "ENV host=$(uname -n) $(uname -m), $(nproc) cores"
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    echo "ENV gpu=$(nvidia-smi --query-gpu=name,memory.total --format=csv,noheader | head -1)"
    echo "ENV driver=$(nvidia-smi --query-gpu=driver_version --format=csv,noheader | head -1)"
  else
    echo "ENV gpu=none (no nvidia-smi or no GPU)"
  fi
  echo "ENV nvcc=$(nvcc --version 2>/dev/null | grep -o 'release [0-9.]*' || echo none)"
  python3 - <<'EOF' 2>/dev/null || echo "ENV pytorch=none (python3 cannot import torch)"
import torch
print("ENV pytorch=%s (CUDA %s, cuDNN %s)" % (torch.__version__, torch.version.cuda, torch.backends.cudnn.version()))
print("ENV libtorch_cmake=%s" % torch.utils.cmake_prefix_path)
import os
macros = os.path.join(os.path.dirname(torch.__file__), "include/c10/cuda/impl/cuda_cmake_macros.h")
print("ENV libtorch_cuda_headers=%s" % ("yes" if os.path.exists(macros) else "no (no CUDA graphs: " + macros + " missing)"))
print("ENV torch_sees=%s" % (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device"))
EOF
  echo "ENV compiler=$(g++ --version | head -1)"
  echo "ENV cmake=$(cmake --version | head -1), ninja $(ninja --version 2>/dev/null || echo none)"
  while read -r package header; do
    if have_header "$header"; then echo "have $header"; else echo "MISSING $header ($package)"; fi
  done <<<"$debs"
  for header in fmt/format.h boost/math/distributions/non_central_t.hpp; do  # needed too, not carried (the machine has them)
    if have_header "$header"; then echo "have $header"; else echo "MISSING $header (not carried: configure will fail)"; fi
  done
  if [[ -x $train_bin ]]; then "$train_bin" --help >/dev/null && echo "isda-train runs"; fi
  return 0
}

# --- step: deps (unpack the carried .debs whose header the machine lacks) ----------------------
# Under build/ (ignored), not in .gpu-carry: a later call that carries .gpu-carry again replaces that
# folder, and the configured build links through this prefix.
prefix=$root/build/gpu-deps
step_deps() {
  local package header deb link base system
  [[ -d $carry/debs ]] || { echo "error: $carry/debs not found (run scripts/gpu-check.sh --prepare and carry .gpu-carry)"; return 1; }
  rm -rf "$prefix"
  mkdir -p "$prefix"
  while read -r package header; do
    # ISDA_FORCE_UNPACK (the rehearsal) names packages to unpack even where the header is present.
    if [[ " ${ISDA_FORCE_UNPACK:-} " != *" $package "* ]] && have_header "$header"; then continue; fi
    deb=$(ls "$carry/debs/${package}_"*.deb 2>/dev/null | head -1)
    [[ -n $deb ]] || { echo "error: no carried .deb for $package, which this machine lacks"; return 1; }
    dpkg -x "$deb" "$prefix"
    echo "unpacked $(basename "$deb") into $prefix"
  done <<<"$debs"
  # A -dev package's lib.so is a link to the runtime package's lib.so.N: point it at this machine's
  # copy of that library when it has one, else drop it so that the static .a is linked instead.
  for link in "$prefix"/usr/lib/*/*.so; do
    [[ -L $link && ! -e $link ]] || continue
    base=$(basename "$link")
    system=$(ls /usr/lib/x86_64-linux-gnu/"$base".* /lib/x86_64-linux-gnu/"$base".* 2>/dev/null | head -1)
    if [[ -n $system ]]; then ln -sfn "$system" "$link"; echo "$base -> $system"; else rm -f "$link"; echo "$base: static"; fi
  done
  return 0
}

# --- step: configure and build ------------------------------------------------------------------
step_configure() {
  local torch_prefix paths sqlite
  # PyTorch's LibTorch; the rehearsal passes the system's in TORCH_CMAKE_PREFIX.
  torch_prefix=${TORCH_CMAKE_PREFIX:-$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)')} ||
    { echo "error: python3 cannot import torch"; return 1; }
  paths="$torch_prefix"
  [[ -d $prefix/usr ]] && paths="$paths;$prefix/usr"
  local args=(-DCMAKE_PREFIX_PATH="$paths" -Wno-dev)
  # The CUDA runtime's headers for compat::CudaGraph (torch's targets may carry them; no harm twice).
  local cuda_include
  cuda_include=$(dirname "$(dirname "$(command -v nvcc || echo /usr/local/cuda/bin/nvcc)")")/include
  [[ -e $cuda_include/cuda_runtime_api.h ]] && args+=(-DCMAKE_CXX_FLAGS="-isystem $cuda_include")
  if [[ -e $prefix/usr/include/sqlite3.h ]]; then
    # The machine's own libsqlite3.so.0 through the repointed link, else the static library.
    sqlite=$prefix/usr/lib/x86_64-linux-gnu/libsqlite3.so
    [[ -e $sqlite ]] || sqlite=$prefix/usr/lib/x86_64-linux-gnu/libsqlite3.a
    args+=(-DSQLite3_INCLUDE_DIR="$prefix/usr/include" -DSQLite3_LIBRARY="$sqlite")
  fi
  export TORCH_CMAKE_PREFIX=$torch_prefix TORCH_CUDA_ARCH_LIST=${TORCH_CUDA_ARCH_LIST:-9.0}
  # The rehearsal configures a scratch folder: the build it is given is the one the test suite runs
  # beside it, which must not be reconfigured (or relinked) under the other tests' feet.
  local into=$build_dir
  [[ $mode == rehearse ]] && into=$work/configure-rehearsal
  echo "cmake --preset cuda -B $into ${args[*]}"
  cmake --preset cuda -B "$into" "${args[@]}"
}

step_build() {  # only what the check runs; the rehearsal only asks ninja what it would do (-n)
  local dry=()
  [[ $mode == rehearse ]] && dry=(-- -n)
  cmake --build "$build_dir" --target isda-train isda-run isda-bench isda_gpu_tests -j "$1" "${dry[@]}"
}

# --- step: the gpu tests ------------------------------------------------------------------------
step_gpu_tests() {
  ctest --test-dir "$build_dir" -L gpu --output-on-failure --timeout "$1" -j "$2"
}

# --- benchmarks ---------------------------------------------------------------------------------
# data/cifar10: the carried training batch five times (50,000 images; the same 10,000 repeated) and
# once as the test batch (the benches test on its first 1,000): epochs of the real size and format.
make_data() {
  local source=$1 i
  mkdir -p "$work/data/cifar10"
  for i in 1 2 3 4 5; do ln -sf "$source" "$work/data/cifar10/data_batch_$i.bin"; done
  ln -sf "$source" "$work/data/cifar10/test_batch.bin"
}

# A synthetic batch in CIFAR-10's record format (label byte + 3072 pixel bytes) for a rehearsal
# without the real one.
synthetic_batch() {
  local path=$1 count=$2 i
  for ((i = 0; i < count; i++)); do
    printf "\\x$(printf %02x $((i % 10)))"
    head -c 3072 /dev/urandom
  done >"$path"
}

bench_train() {  # bench_train EXTRA...: one isda-bench train invocation with JSON lines
  "$bench_bin" train --json --dataset cifar10 --data-root "$work/data/cifar10" --epochs 2 --test-images "$TEST_IMAGES" "$@"
}

# isda-train with cuda_graph on the CPU must be a one-line config error naming the key.
check_graph_on_cpu() {
  local err rc
  err=$("$train_bin" --dataset cifar10 --data-root "$work/data/cifar10" --model resnet8 --epochs 1 --train-limit 64 \
    --test-limit 64 --device cpu --cuda-graph true 2>&1 >/dev/null)
  rc=$?
  echo "exit $rc: $err"
  [[ $rc == 2 && $err == *cuda_graph* && $(wc -l <<<"$err") == 1 ]]
}

# A graph step on the CPU: the command must fail with the config error that names cuda_graph.
expect_graph_refusal() {
  local output rc
  output=$("$@" 2>&1)
  rc=$?
  echo "exit $rc: $output"
  [[ $rc != 0 && $output == *"cuda_graph: needs a CUDA device"* ]]
}

# The packing experiment: the CIFAR-10 ResNet-32 reproduction's final runs (experiments/
# cifar10_resnet32.json: CE and ISDA x seeds, lambda0 0.5 as its search would pick, without the
# search) under a short profile, run by isda-run with K workers per GPU (or K CPU slots).
packing_spec() {  # packing_spec EPOCHS TRAIN_LIMIT SEEDS
  cat <<EOF
{
  "name": "gpu_check_packing",
  "description": "experiments/cifar10_resnet32.json's final runs (lambda0 0.5, no search), for scripts/gpu-check.sh",
  "base": {"dataset": "cifar10", "holdout": false, "model": "resnet32", "recipe": "resnet", "augment": "standard",
           "lambda0": 0.5, "precision": "$PACK_PRECISION", "channels_last": $PACK_CHANNELS_LAST},
  "grid": {"method": ["ce", "isda"]},
  "seeds": [$3],
  "profiles": {"gpucheck": {"epochs": $1, "train_limit": $2, "test_limit": $TEST_IMAGES, "lr_milestones": [80]}}
}
EOF
}

step_packing() {  # step_packing EPOCHS TRAIN_LIMIT SEEDS K... (K workers per GPU; none for CPU slots)
  local epochs=$1 limit=$2 seeds=$3 k t0 t1
  shift 3
  packing_spec "$epochs" "$limit" "$seeds" >"$work/packing.json"
  for k in "$@"; do
    local device_args=(--gpus all --per-gpu "$k")
    [[ $mode == rehearse ]] && device_args=(--gpus none --cpu-slots "$k" --threads 1)
    t0=$(date +%s.%N)
    ISDA_DATA_ROOT=$work/data "$run_bin" "$work/packing.json" --profile gpucheck --plain "${device_args[@]}" \
      --db "$work/packing-$k.db" --runs-dir "$work/packing-runs-$k" || return 1
    t1=$(date +%s.%N)
    # Seconds per epoch of each run (training and evaluation), packed K ways, as the results store the
    # sweep wrote holds them (read by column name, not from the runs' logs).
    python3 - "$work/packing-$k.db" "$k" "$epochs" "$limit" "$t0" "$t1" <<'PY' || return 1
import json, sqlite3, sys
db, k, epochs, limit, t0, t1 = sys.argv[1:]
store = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
runs = store.execute("SELECT count(*) FROM runs").fetchone()[0]
seconds = store.execute("SELECT avg(seconds) FROM epochs").fetchone()[0]
print(json.dumps({"bench": "packing", "per_gpu": int(k), "runs": runs, "epochs": int(epochs), "train_limit": int(limit),
                  "wall_seconds": round(float(t1) - float(t0), 1),
                  "epoch_seconds_mean": None if seconds is None else round(seconds, 3)}, separators=(",", ":")))
PY
  done
}

step_peer() {  # step_peer MODEL MODE EPOCHS
  local line model peer_mode epochs ips
  # PEER_RUNNER and PEER_SCRIPT let the rehearsal put a stub with the peer's output format in its place.
  "${PEER_RUNNER:-python3}" "${PEER_SCRIPT:-$carry/pytorch_tuned.py}" "$work/data/cifar10/data_batch_1.bin" "$@" |
    tee "$work/peer.out" || return 1
  # RESULT resnet32 eager epoch_s=['3.10', '2.51'] img_per_s_last=19920 loss=1.234
  line=$(grep '^RESULT' "$work/peer.out" | tail -1)
  [[ -n $line ]] || { echo "error: no RESULT line"; return 1; }
  model=$(awk '{ print $2 }' <<<"$line")
  peer_mode=$(awk '{ print $3 }' <<<"$line")
  epochs=$(sed -n "s/.*epoch_s=\[\([^]]*\)\].*/\1/p" <<<"$line" | tr -d "' ")
  ips=$(sed -n 's/.*img_per_s_last=\([0-9.]*\).*/\1/p' <<<"$line")
  echo "{\"bench\":\"peer\",\"model\":\"$model\",\"mode\":\"$peer_mode\",\"epoch_seconds\":[$epochs],\"images_per_second\":${ips:-null},\"seconds_per_50k\":${epochs##*,}}"
}
export -f expect_graph_refusal have_header step_env step_deps step_configure step_build step_gpu_tests bench_train check_graph_on_cpu packing_spec \
  step_packing step_peer
export mode work carry prefix build_dir train_bin run_bin bench_bin debs

# --- the steps ----------------------------------------------------------------------------------
run_step env 15 step_env
grep '^ENV ' "$work/logs/env.log" | cut -c5- >"$work/env.txt"

built=1
if [[ $mode == gpu ]]; then
  run_step deps 20 step_deps || built=0
  if ((built)); then run_step configure 60 step_configure || built=0; else skip_step configure "deps failed"; fi
  if ((built)); then run_step build 240 step_build 16 || built=0; else skip_step build "configure failed"; fi
else
  if [[ -d $carry/debs ]]; then
    prefix=$work/prefix  # rehearse the unpacking into a scratch prefix, never the carried one
    export prefix
    ISDA_FORCE_UNPACK=libsqlite3-dev run_step deps 20 step_deps
  else
    skip_step deps "no $carry/debs here (scripts/gpu-check.sh --prepare fills it)"
  fi
  # The cuda preset's configure against the system's CPU LibTorch (and the rehearsal's unpacked
  # SQLite, if any) into a scratch folder: the command line the GPU machine runs, minus CUDA.
  TORCH_CMAKE_PREFIX=/usr/lib/x86_64-linux-gnu/cmake/Torch build_dir=$work/cuda-preset run_step configure 90 step_configure
  run_step build 120 step_build 2 || built=0
fi

if ((built)); then
  run_step gpu_tests 100 step_gpu_tests 90 3
else
  skip_step gpu_tests "build failed"
fi

# Data for the benchmarks: the carried batch, else ../shared's, else (rehearsal) a synthetic one.
data_source=""
for candidate in "$carry/data_batch_1.bin" "$batch_source"; do
  if [[ -f $candidate ]]; then data_source=$(cd "$(dirname "$candidate")" && pwd)/$(basename "$candidate"); break; fi
done
if [[ -z $data_source && $mode == rehearse ]]; then
  data_source=$work/synthetic_batch.bin
  synthetic_batch "$data_source" 300
  note "rehearsal data: a synthetic CIFAR-10 batch of 300 random images (no carried or ../shared batch)"
fi
if [[ -n $data_source ]]; then
  make_data "$data_source"
  note "CIFAR-10 data: $data_source linked as data_batch_1..5.bin (five times its images) and as test_batch.bin"
fi

if ((built)) && [[ -n $data_source ]]; then
  # One list of benchmark command lines for both modes: the rehearsal runs the very same lines on
  # the CPU, with tiny sizes and a small network in place of each big one (whose names model_names
  # checks), so that a typo fails here and not on the GPU machine.
  if [[ $mode == gpu ]]; then
    device=cuda fast=(--precision bf16 --channels-last) batch=128 augment_batch=128
    m32=resnet32 m110=resnet110 mwrn=wrn28_10 mdense=densenet_bc190_40
    i32=0 i110=20000 iwrn=10000 idense=5000
    cost=() steps=() pack=(1 25000 "0, 1, 2" 1 6) graph=()
    # ISDA's full-covariance estimator at ImageNet's size (C=1000, A=2048, float32): whole on one
    # GPU, and sharded by class with one GPU per rank where the machine has several.
    gpus=$(nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
    ((gpus >= 1)) || gpus=1
    shard_ranks=1
    for ((r = 2; r <= gpus; r *= 2)); do shard_ranks+=",$r"; done
    shard=(--classes 1000 --memory-dim 2048 --dtype float32 --ranks "$shard_ranks" --step-dim 2048
           --step-ranks "$((gpus >= 2 ? 2 : 1))" --batch 256 --steps 4)
    export PACK_PRECISION=bf16 PACK_CHANNELS_LAST=true TEST_IMAGES=1000
    peer=1
    python3 -c 'import torch' 2>/dev/null && [[ -f $carry/pytorch_tuned.py ]] || peer=0
    ((peer)) || note "no peer: python3 cannot import torch, or $carry/pytorch_tuned.py is absent"
  else
    device=cpu fast=() batch=32 augment_batch=16
    m32=resnet32 m110=resnet8 mwrn=resnet8 mdense=resnet8
    i32=64 i110=64 iwrn=64 idense=64
    cost=(--classes 10 --dim 64 --batch 16 --model resnet8 --image-size 32) steps=(--steps 2) pack=(1 64 "0" 1 2)
    shard=(--classes 20 --memory-dim 32 --dtype float32 --ranks 1,2 --step-dim 16 --step-ranks 2 --batch 16 --steps 2)
    graph=(expect_graph_refusal)  # the CPU's answer to a CUDA graph: a config error naming the key
    export PACK_PRECISION=fp32 PACK_CHANNELS_LAST=false TEST_IMAGES=64
    run_step model_names 20 bash -c '"$train_bin" --list-models >"$ISDA_WORK/models.txt" &&
      for m in resnet32 resnet110 wrn28_10 densenet_bc190_40 resnet50; do grep -qw "^$m" "$ISDA_WORK/models.txt" || { echo "error: unknown model $m"; exit 1; }; done'
    run_step graph_config_error 20 check_graph_on_cpu
    if [[ -f $carry/pytorch_tuned.py ]]; then run_step peer_syntax 10 python3 -m py_compile "$carry/pytorch_tuned.py"; fi
    # In the peer's place a stub that prints its RESULT line, through the same parsing.
    printf '%s\n' '#!/usr/bin/env bash' \
      "echo \"RESULT \$2 \$3 epoch_s=['9.99', '9.98'] img_per_s_last=5000 loss=2.303\"" >"$work/peer_stub.sh"
    export PEER_RUNNER=bash PEER_SCRIPT=$work/peer_stub.sh
    peer=1
    note "peer: a stub prints pytorch_tuned.py's RESULT line (the peer needs PyTorch with CUDA; it runs on the GPU machine)"
  fi
  train=(bench_train --device "$device" --batch "$batch" "${fast[@]}")
  # Most wanted first: a step the deadline cuts is reported as skipped (rerun it with --only).
  run_step train_resnet32 40 "${train[@]}" --models "$m32" --methods ce,isda --images "$i32"
  ((peer)) && run_step peer_resnet32 30 step_peer resnet32 eager 2
  run_step train_resnet32_graph 30 "${graph[@]}" "${train[@]}" --models "$m32" --methods isda --images "$i32" --cuda-graph
  run_step train_resnet110 45 "${train[@]}" --models "$m110" --methods ce,isda --images "$i110"
  ((peer)) && run_step peer_resnet110 40 step_peer resnet110 eager 2
  run_step train_wrn28_10 40 "${train[@]}" --models "$mwrn" --methods ce,isda --images "$iwrn"
  ((peer)) && run_step peer_wrn28_10 40 step_peer wrn28_10 eager 2
  run_step isda_cost_f32 30 "$bench_bin" isda-cost --device "$device" --state-dtype float32 "${cost[@]}" "${steps[@]}"
  run_step augment_step 20 "$bench_bin" augment-step --device "$device" --model "$m110" --batch "$augment_batch" "${steps[@]}"
  run_step packing 80 step_packing "${pack[@]}"
  run_step train_densenet190 45 "${train[@]}" --models "$mdense" --methods ce,isda --images "$idense"
  run_step isda_cost_f64 30 "$bench_bin" isda-cost --device "$device" --state-dtype float64 "${cost[@]}" "${steps[@]}"
  run_step sharded_estimator 60 "$bench_bin" sharded-estimator --device "$device" "${shard[@]}"
else
  skip_step benchmarks "$( ((built)) || echo "build failed")$( [[ -n $data_source ]] || echo " no CIFAR-10 batch (run --prepare)")"
fi

# --- report -------------------------------------------------------------------------------------
total=$(($(date +%s) - started))
export total
failed=$(awk -F'\t' '$2 == "failed" || $2 == "timeout"' "$work/steps.tsv" | wc -l)

json_string() {  # a JSON string literal of $1
  printf '"%s"' "$(printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g' | tr '\t\n' '  ')"
}

{
  printf '{"mode":"%s","seconds":%s,"failed_steps":%s,\n"environment":{' "$mode" "$total" "$failed"
  first=1
  while IFS='=' read -r key value; do
    ((first)) || printf ','
    first=0
    printf '%s:%s' "$(json_string "$key")" "$(json_string "$value")"
  done <"$work/env.txt"
  printf '},\n"notes":['
  first=1
  for n in "${notes[@]}"; do
    ((first)) || printf ','
    first=0
    json_string "$n"
  done
  printf '],\n"steps":[\n'
  first=1
  while IFS=$'\t' read -r name status rc seconds detail; do
    ((first)) || printf ',\n'
    first=0
    printf '{"name":"%s","status":"%s","exit_code":%s,"seconds":%s,"detail":%s}' "$name" "$status" "$rc" "$seconds" \
      "$(json_string "$detail")"
  done <"$work/steps.tsv"
  printf '],\n"results":[\n'
  paste -sd, "$work/results.jsonl" | sed 's/},{/},\n{/g'
  printf ']}\n'
} >"$out/gpu-check.json"

# The targets of issue 13, read off the results (GPU mode); each line: what, measured, target, verdict.
field() {  # field KEY: the value of "KEY" in the JSON line on stdin
  sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[^,}]*\).*/\1/p" | tr -d '"'
}
result() {  # result STEP [GREP]: the result lines of a step
  grep "\"step\":\"$1\"" "$work/results.jsonl" | grep -- "${2:-}"
}
targets() {
  local ips32 graph32 c e m
  ips32=$(result train_resnet32 '"method":"isda"' | field seconds_per_50k | awk '{ printf "%.2f", $1 }')
  graph32=$(result train_resnet32_graph | field seconds_per_50k | awk '{ printf "%.2f", $1 }')
  echo "| ResNet-32, ISDA, s per 50,000-image epoch (eager / CUDA graph) | ${ips32:-n/a} / ${graph32:-n/a} | <= 1.3 |"
  for m in resnet110 wrn28_10; do
    echo "| ${m}, ISDA, images/s | $(result "train_$m" '"method":"isda"' | field images_per_second | awk '{ printf "%.0f", $1 }') | >= 10,000 |"
  done
  for m in resnet110 wrn28_10 densenet190; do
    c=$(result "train_$m" '"method":"ce"' | field images_per_second)
    e=$(result "train_$m" '"method":"isda"' | field images_per_second)
    echo "| ${m}, ISDA over CE per epoch | $(awk -v c="$c" -v e="$e" 'BEGIN { if (c > 0 && e > 0) printf "%+.1f%%", 100 * (c / e - 1); else print "n/a" }') | <= +2% |"
  done
  for d in f64 f32; do
    local line
    line=$(result "isda_cost_$d")
    echo "| full-covariance ISDA C=1000 A=2048 N=64, $d state: extra memory / cost vs ResNet-50 step | $(echo "$line" | field extra_memory_bytes | awk '{ if ($1 ~ /^[0-9]/) printf "%.1f GB", $1 / 1e9; else print "n/a" }') / $(echo "$line" | field isda_over_model_step | awk '{ if ($1 ~ /^[-0-9]/) printf "%.1f%%", 100 * $1; else print "n/a" }') | < 20 GB / <= 10% |"
  done
  grep '"bench":"packing"' "$work/results.jsonl" | while read -r line; do
    local k wall epoch
    k=$(echo "$line" | field per_gpu)
    wall=$(echo "$line" | field wall_seconds)
    epoch=$(echo "$line" | field epoch_seconds_mean)
    # Table 1's ResNet-32 row: 6 runs x 160 epochs of 50,000 images, K at a time.
    echo "| packing, ${k} per GPU: sweep wall time / projected Table 1 ResNet-32 row | ${wall} s / $(awk -v k="$k" -v e="$epoch" -v l="$(echo "$line" | field train_limit)" 'BEGIN { if (e > 0) printf "%.1f h", (6 / k) * 160 * e * (50000 / l) / 3600; else print "n/a" }') | best K |"
  done
  result augment_step | while read -r line; do
    echo "| augmentation $(echo "$line" | field augment) per batch beside a ResNet-110 step | $(echo "$line" | field augment_ms | awk '{ printf "%.2f ms", $1 }') ($(echo "$line" | field augment_over_step | awk '{ printf "%.1f%%", 100 * $1 }') of $(echo "$line" | field step_ms | awk '{ printf "%.1f ms", $1 }')) | |"
  done
  grep '"bench":"peer"' "$work/results.jsonl" | while read -r line; do
    echo "| peer (pytorch_tuned.py) $(echo "$line" | field model) $(echo "$line" | field mode): s per epoch (49,920 images) / images/s | $(echo "$line" | field seconds_per_50k) / $(echo "$line" | field images_per_second) | |"
  done
}

{
  echo "# gpu-check ($mode), $(date -u +%Y-%m-%d)"
  echo
  echo "$((total / 60)) min $((total % 60)) s in all; ${failed} step(s) failed or timed out. Build: \`$build_dir\`."
  echo
  echo "## Environment"
  echo
  sed 's/^/- /' "$work/env.txt"
  echo
  echo "## Steps"
  echo
  echo "| step | status | seconds | detail |"
  echo "|---|---|---|---|"
  awk -F'\t' '{ printf "| %s | %s | %s | %s |\n", $1, $2 ($2 == "failed" ? " (exit " $3 ")" : ""), $4, $5 }' "$work/steps.tsv"
  if ((${#notes[@]})); then
    echo
    echo "## Notes"
    echo
    printf -- '- %s\n' "${notes[@]}"
  fi
  echo
  echo "## Targets (issue 13)"
  echo
  if [[ $mode == rehearse ]]; then echo "Rehearsal on the CPU at tiny sizes: the figures check the plumbing, not the targets."; echo; fi
  echo "| what | measured | target |"
  echo "|---|---|---|"
  targets
  echo
  echo "## Results (JSON lines)"
  echo
  echo '```'
  cat "$work/results.jsonl"
  echo '```'
} >"$out/gpu-check.md"

# One log with every step's output (each cut to its last 400 lines).
for log in "$work"/logs/*.log; do
  echo "===== $(basename "$log" .log)"
  tail -n 400 "$log"
done >"$out/gpu-check.log"

echo "gpu-check: report in $out/gpu-check.md ($failed step(s) failed)" >&2
((failed == 0))
