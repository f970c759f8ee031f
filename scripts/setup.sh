#!/usr/bin/env bash
# Installs the Debian 12 packages the suite needs, only those that are missing; safe to run twice.
set -euo pipefail

packages=(
  build-essential cmake ninja-build
  libtorch-dev nlohmann-json3-dev libfmt-dev libboost-dev libsqlite3-dev zlib1g-dev
  libgtest-dev libgmock-dev
  libcurl4-openssl-dev libarchive-dev libjpeg62-turbo-dev libpng-dev  # isda-data: downloads, .tar.gz, JPEGs, PNGs
  libgloo-dev                                          # data-parallel isda-train: c10d's Gloo headers
  chromium                                             # isda-report's HTML checked in a real browser
  slurm-wlm munge                                      # the Slurm backend's end-to-end test (a local Slurm)
  shellcheck                                           # the Slurm job script (runner/slurm_job.sh) checked
  python3-torch python3-torchvision                    # isda-train --export loaded back by PyTorch 1.13 (libtorch-dev's version) in tests/python
  dataset-fashion-mnist
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]} == 0)); then
  exit 0
fi

echo "setup: installing ${missing[*]}" >&2
sudo=()
if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
