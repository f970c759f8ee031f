#!/usr/bin/env bash
# Configures and builds the suite with the `release` preset (into build/release).
# Extra arguments are passed to `cmake --build` (e.g. `--target isda-train`).
# ISDA_WERROR=1 turns the project's warnings into errors (CI does this); the setting stays in the
# build directory's cache until changed, so toggling it does not rebuild everything each time.
set -euo pipefail
cd "$(dirname "$0")/.."

configure=(cmake --preset release)
if [[ ${ISDA_WERROR:-0} == 1 ]]; then configure+=(-DISDA_WARNINGS_AS_ERRORS=ON); fi
"${configure[@]}" >/dev/null
cmake --build --preset release "$@"
