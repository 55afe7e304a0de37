#!/bin/sh
# scripts/test.sh — the README's test command: installs missing packages,
# configures and builds kiln (warnings are errors), runs the test suite.
# Build folder: build/ (override with KILN_BUILD_DIR).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh graphviz
dir=${KILN_BUILD_DIR:-build}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DKILN_WERROR=ON >/dev/null
cmake --build "$dir" -j"$(nproc)"
ctest --test-dir "$dir" --output-on-failure -j"$(nproc)"
