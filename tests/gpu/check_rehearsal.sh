#!/usr/bin/env bash
# check_rehearsal.sh GPU_CHECK OUT BUILD_DIR: runs `GPU_CHECK --rehearse OUT --build-dir BUILD_DIR` and
# checks its report: both files exist, every step of the GPU call is in them with a status, every
# benchmark printed its JSON lines, and the JSON parses (where python3 is). Exit 0 when all hold.
set -uo pipefail
script=$1 out=$2 build=$3
rm -rf "$out"
bash "$script" --rehearse "$out" --build-dir "$build"
rc=$?
fail() { echo "check_rehearsal: $*" >&2; exit 1; }
((rc == 0)) || fail "gpu-check.sh --rehearse exited with $rc (see $out/gpu-check.md and $out/gpu-check.log)"
md=$out/gpu-check.md json=$out/gpu-check.json
[[ -s $md && -s $json && -s $out/gpu-check.log ]] || fail "report files missing in $out"
for step in env deps configure build gpu_tests model_names graph_config_error train_resnet32 peer_resnet32 \
  train_resnet32_graph train_resnet110 peer_resnet110 train_wrn28_10 peer_wrn28_10 isda_cost_f32 augment_step packing \
  train_densenet190 isda_cost_f64; do
  grep -qE "^\| $step \| (ok|skipped) " "$md" || fail "$md: no ok or skipped row for step $step"
  grep -q "\"name\":\"$step\"" "$json" || fail "$json: no step $step"
done
for bench in '"bench":"train_epoch"' '"bench":"isda_cost"' '"bench":"augment_step"' '"bench":"packing"' \
  '"bench":"peer"'; do
  grep -q "$bench" "$json" || fail "$json: no result with $bench"
done
[[ $(grep -c '"bench":"packing"' "$json") == 2 ]] || fail "$json: expected packing results for 1 and 2 slots"
grep -q '| ResNet-32, ISDA, s per 50,000-image epoch' "$md" || fail "$md: no targets table"
if command -v python3 >/dev/null 2>&1; then
  python3 -m json.tool "$json" >/dev/null || fail "$json is not valid JSON"
fi
echo "check_rehearsal: ok ($out)"
