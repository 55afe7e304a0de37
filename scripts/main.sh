#!/bin/sh
# scripts/main.sh — the README's main command: installs missing packages,
# builds kiln in Release, and runs the fused-vs-unfused benchmark on the
# default workloads (extra arguments go to the benchmark, e.g. --quick).
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
dir=${KILN_BUILD_DIR:-build-release}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)"
if [ -x "$dir/bench/kiln_bench" ]; then
  exec "$dir/bench/kiln_bench" "$@"
fi
exec "$dir/example_seed_affine" "$@"
