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

echo
echo "== palisade-enforcer: BPF per-packet cost with 0, 1,000 and 10,000 policies (issue 4)"
"$build_dir/bench/bpf_bench"
echo
echo "== compiling 1,000 / 10,000 / 100,000 pods"
"$build_dir/bench/compile_bench"
echo
echo "== palisade-enforcer: from a manifest change to live tables, 100,000 pods and 10,000 policies"
"$(dirname "$0")/bench-update.sh" "$build_dir"
echo
echo "== TCP throughput between two lab pods: no enforcer, iptables + ipset, palisade-enforcer (10,000 policies)"
"$build_dir/bench/dataplane_bench" --runs 7 --seconds 5
