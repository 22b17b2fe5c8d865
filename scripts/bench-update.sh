#!/usr/bin/env bash
# How long palisade-enforcer takes from a manifest change to the new tables
# being live, on the scale cluster (100,000 pods, 10,000 policies), and how
# long its first start takes. Figures, not a test. Needs root (BPF).
#   scripts/bench-update.sh BUILD_DIR
set -euo pipefail

build_dir=$(cd "${1:-build}" && pwd)
work=$(mktemp -d)
enforcer_pid=
cleanup() {
  if [[ -n "$enforcer_pid" ]]; then
    kill -TERM "$enforcer_pid" 2>/dev/null || true
    wait "$enforcer_pid" 2>/dev/null || true
  fi
  "$build_dir/bin/palisade-enforcer" --uninstall --pin-dir "$work/bpf/palisade" >/dev/null 2>&1 || true
  umount "$work/bpf" 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A BPF filesystem of the benchmark's own: the machine's may not be mounted.
mkdir -p "$work/bpf" "$work/manifests"
mount -t bpf bpf "$work/bpf"

now_ms() { date +%s%3N; }

# wait_live GENERATION: until the enforcer logs that generation's tables live.
wait_live() {
  for _ in $(seq 6000); do
    # Slurped: on an empty log, a plain `jq -e select(...)` would succeed.
    if jq -s -e --argjson g "$1" 'any(.[]; .msg == "tables live" and .generation == $g)' \
         "$work/log" >/dev/null 2>&1; then
      return 0
    fi
    kill -0 "$enforcer_pid" 2>/dev/null || { cat "$work/log" >&2; exit 1; }
    sleep 0.01
  done
  echo "bench-update: generation $1 never went live" >&2
  exit 1
}

"$build_dir/bench/scale_manifests" > "$work/cluster.json"
cp "$work/cluster.json" "$work/manifests/cluster.json"
echo "cluster: $(jq '.items | map(select(.kind == "Pod")) | length' "$work/cluster.json") pods," \
     "$(jq '.items | map(select(.kind == "NetworkPolicy")) | length' "$work/cluster.json") policies," \
     "$(stat -c %s "$work/cluster.json") bytes of JSON"

start=$(now_ms)
"$build_dir/bin/palisade-enforcer" --manifests "$work/manifests" --pin-dir "$work/bpf/palisade" \
  --metrics-addr off 2>"$work/log" &
enforcer_pid=$!
wait_live 1
echo "first start to tables live: $(( $(now_ms) - start )) ms"
report() {  # GENERATION: what the enforcer says that update cost
  jq -r --argjson g "$1" 'select(.msg == "tables live" and .generation == $g) |
    "  compile \(.compileSeconds * 1000 | floor) ms, apply \(.applySeconds * 1000 | floor) ms (\(.endpoints) endpoints, \(.rules) rules, \(.cidrs) cidrs); the rest is reading the manifests"' "$work/log"
}
report 1

for generation in 2 3 4; do
  # One policy gains a port: the change a team makes; written by rename, as
  # kubectl cp or a ConfigMap update would.
  jq --argjson p $((8000 + generation)) \
     '(.items[] | select(.kind == "NetworkPolicy" and .metadata.name == "app-0-from-team-1")
       .spec.ingress[0].ports) += [{"protocol": "TCP", "port": $p}]' \
     "$work/manifests/cluster.json" > "$work/next.json"
  changed=$(now_ms)
  mv "$work/next.json" "$work/manifests/cluster.json"
  wait_live "$generation"
  echo "change $((generation - 1)): manifest written to tables live in $(( $(now_ms) - changed )) ms"
  report "$generation"
done

# What the tables take in the kernel, as it accounts them (the memlock of each
# map in /proc's fdinfo, which bpftool reports; since Linux 6.4 hash and LPM
# maps report what they hold, not their capacity). Read after the last update,
# when the previous generation's entries have been removed; only this
# enforcer's maps, by their pins.
echo "kernel memory of palisade-enforcer's maps (bytes_memlock):"
for pin in "$work/bpf/palisade"/*; do
  bpftool map show pinned "$pin" -j 2>/dev/null || true
done | jq -s -r '
  [.[] | select(type == "object" and has("bytes_memlock"))] as $maps
  | ($maps | sort_by(-.bytes_memlock) | .[] |
      "  \(.name): \(.bytes_memlock / 1048576 * 10 | floor / 10) MiB (\(.max_entries) max entries)"),
    "  total: \($maps | map(.bytes_memlock) | add / 1048576 * 10 | floor / 10) MiB"'
