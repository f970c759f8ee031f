#!/usr/bin/env bash
# The main job: the quickstart sweep, cross-entropy vs ISDA on Fashion-MNIST (a ResNet-8 on
# 12,000 training images, 5 epochs, tested on all 10,000 test images), run by isda-run and recorded
# in results/isda.db. On the GPU when there is one, otherwise on the CPU (about 5 minutes on 2 cores).
# Rerunning it resumes an interrupted sweep and skips finished runs. Extra arguments go to isda-run
# (e.g. --profile smoke for a 1-minute check). Ends with the results as a table (isda-report).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh --target isda-run isda-train isda-report
build/release/runner/isda-run experiments/quickstart.json "$@"
build/release/report/isda-report --table quickstart
