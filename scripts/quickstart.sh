#!/usr/bin/env bash
# The main job: the quickstart sweep, cross-entropy vs ISDA on Fashion-MNIST (a ResNet-8 on 1,000
# training images, about 100 per class, 15 epochs, 3 seeds per method, tested on 2,000 test images),
# run by isda-run and recorded in results/isda.db. On the GPU when there is one, otherwise on the CPU
# in two slots of one thread each (about 5 minutes on 2 cores; README.md says how it was measured).
# Rerunning it resumes an interrupted sweep and skips finished runs. Extra arguments go to isda-run
# (e.g. --profile smoke for a 1-minute check). Ends with the results as a table (isda-report).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh --target isda-run isda-train isda-report
build/release/runner/isda-run experiments/quickstart.json --cpu-slots 2 --threads 1 "$@"
build/release/report/isda-report --table quickstart
