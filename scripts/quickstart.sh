#!/usr/bin/env bash
# The main job: a short, real comparison of plain cross-entropy and ISDA on Fashion-MNIST
# (a ResNet-8 on 12,000 training images, 5 epochs, tested on all 10,000 test images).
# Runs on the GPU when there is one, otherwise on the CPU (about 4 minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/setup.sh
scripts/build.sh --target isda-train

common=(--model resnet8 --epochs 5 --train-limit 12000 --batch-size 128 --lr 0.1 --lr-milestones 3
        --weight-decay 5e-4 --seed 1 --threads "$(nproc)")
declare -A result
for method in ce isda; do
  echo "== $method ==" >&2
  build/release/core/isda-train "${common[@]}" --method "$method" --lambda0 0.5 | tee "/tmp/isda-quickstart-$method.log"
  result[$method]=$(sed -n 's/^result: method [a-z]* test_err \([0-9.]*%\).*/\1/p' "/tmp/isda-quickstart-$method.log")
done

echo
echo "Fashion-MNIST, ResNet-8, 5 epochs on 12,000 images: test error on the 10,000 test images"
printf '  %-22s %s\n' "cross-entropy" "${result[ce]}" "ISDA (lambda0 0.5)" "${result[isda]}"
