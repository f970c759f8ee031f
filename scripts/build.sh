#!/usr/bin/env bash
# Configures and builds the suite with the `release` preset (into build/release).
# Extra arguments are passed to `cmake --build` (e.g. `--target isda-train`).
# ISDA_WERROR=1 turns the project's warnings into errors (CI does this).
set -euo pipefail
cd "$(dirname "$0")/.."

werror=OFF
if [[ ${ISDA_WERROR:-0} == 1 ]]; then werror=ON; fi
cmake --preset release -DISDA_WARNINGS_AS_ERRORS=$werror >/dev/null
cmake --build --preset release "$@"
