#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test (GPU-labelled tests only where a GPU is).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh

exclude=()
if ! command -v nvidia-smi >/dev/null 2>&1 || ! nvidia-smi -L >/dev/null 2>&1; then
  exclude=(-LE gpu)
fi
ctest --test-dir build/release --output-on-failure -j "$(nproc)" "${exclude[@]}"
