#!/bin/sh
# scripts/main.sh — the README's main command: installs missing packages,
# builds kiln in Release, and runs the fused-vs-unfused benchmark on the
# default workloads (extra arguments go to the benchmark, e.g. --quick,
# --only W1,W4, --threads 1). Unless given --json or --svg, the results go
# to $dir/bench-results.json and $dir/bench-results.svg; the benchmark's
# last lines say where they went.
set -eu
cd "$(dirname "$0")/.."
sh scripts/deps.sh
dir=${KILN_BUILD_DIR:-build-release}
cmake -S . -B "$dir" -DCMAKE_BUILD_TYPE=Release -DKILN_BUILD_TESTS=OFF >/dev/null
cmake --build "$dir" -j"$(nproc)"
if [ ! -x "$dir/bench/kiln_bench" ]; then
  exec "$dir/example_seed_affine" "$@"
fi
out=$(cd "$dir" && pwd)
json=yes svg=yes
for a in "$@"; do
  case $a in
    --json) json=no ;;
    --svg) svg=no ;;
  esac
done
[ $json = yes ] && set -- "$@" --json "$out/bench-results.json"
[ $svg = yes ] && set -- "$@" --svg "$out/bench-results.svg"
exec "$dir/bench/kiln_bench" "$@"
