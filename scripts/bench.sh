#!/usr/bin/env bash
# Benchmarks: figures to read, not tests to pass. `make bench` runs this after
# building. Usage: scripts/bench.sh BUILD_DIR
set -euo pipefail
build_dir=${1:-build}

echo "== reachability oracle: 1,000 pods, 200 policies (20 namespaces x 50 pods x 10 policies)"
"$build_dir/bench/oracle_bench" --benchmark_counters_tabular=true

echo
echo "== palisade-webhook against nginx (issue 3's figures)"
"$(dirname "$0")/bench-webhook.sh" "$build_dir"
