#!/usr/bin/env bash
# make demo: Palisade on the example cluster in examples/ (see its README).
#   scripts/demo.sh BUILD_DIR
set -euo pipefail

build_dir=${1:-build}
if [[ ! -x "$build_dir/bin/palisadectl" ]]; then
  echo "demo: $build_dir/bin/palisadectl not found: build first (make demo does)" >&2
  exit 2
fi
palisadectl="$(cd "$build_dir" && pwd)/bin/palisadectl"
webhook="$(cd "$build_dir" && pwd)/bin/palisade-webhook"
cd "$(dirname "$0")/.."  # so that messages name examples/... as a user would type it

bold='' plain=''
if [[ -t 1 ]]; then
  bold=$'\033[1m' plain=$'\033[0m'
fi
section() { printf '\n%s== %s%s\n\n' "$bold" "$*" "$plain"; }

# The ports the example's services use: HTTP, PostgreSQL, metrics, and DNS.
matrix() {
  "$palisadectl" matrix -f examples/cluster --protocols TCP --ports 8080,5432,9090 "$@"
  echo
  "$palisadectl" matrix -f examples/cluster --protocols UDP --ports 53 "$@"
}

# explain NOTE FLAGS...; it exits 1 for a denied flow: an answer, not a failure.
explain() {
  local status=0
  echo "# $1"
  shift
  echo "\$ palisadectl explain -f examples/cluster --onboard $*"
  "$palisadectl" explain -f examples/cluster --onboard "$@" || status=$?
  ((status <= 1)) || exit "$status"
  echo
}

section "The example cluster (examples/)"
cat <<'TEXT'
A shop runs a frontend, a backend and a database in two namespaces, shop-prod
and shop-staging; Prometheus (namespace monitoring) scrapes their metrics and
CoreDNS (kube-system) answers DNS. The shop team wrote NetworkPolicies for
what must work: anyone -> frontend on 8080, frontend -> backend on 8080,
backend -> its own environment's database on 5432, backend -> the payment API
(203.0.113.0/24 on 443), Prometheus -> every shop pod on 9090.

$ palisadectl validate -f examples/cluster
TEXT
"$palisadectl" validate -f examples/cluster
echo "(intended: the frontend is the edge, open to everyone on 8080)"

section "Before Palisade: the team's policies alone"
cat <<'TEXT'
A pod is restricted only in the directions some policy selects it for. No
policy restricts what the databases send (rows 3 and 6) nor what Prometheus
and CoreDNS receive (columns 7 and 8). And the frontends and backends cannot
even resolve names: their egress policies forgot DNS (UDP/53, column 8).
TEXT
matrix

section "After Palisade: palisadectl matrix --onboard"
cat <<'TEXT'
Onboarding puts two managed policies in every namespace but kube-system:
palisade-default-deny (nothing in, nothing out) and palisade-allow-dns (UDP and
TCP 53 to CoreDNS). Every pod now resolves names, and apart from DNS, only the
flows some policy asks for are left.
TEXT
matrix --onboard

section "Why? palisadectl explain"
explain "Staging's backend wants the production database: both ends refuse." \
  --from shop-staging/backend --to shop-prod/database --port 5432/TCP
explain "Production's backend may: one rule at each end allows it." \
  --from shop-prod/backend --to shop-prod/database --port 5432/TCP
explain "DNS works for every pod, thanks to the onboarding policy." \
  --from shop-prod/frontend --to kube-system/coredns --port 53/UDP

section "Real packets: palisadectl lab"
if [[ $(id -u) -ne 0 ]]; then
  echo "(skipped: the lab builds network namespaces and needs root)"
else
  cat <<'TEXT'
The lab builds the example cluster as network namespaces: one per pod, around
a "node" namespace that routes between them. Every pod serves the probed ports;
every ordered pair of pods is probed with a real TCP connection or UDP
exchange. First without an enforcer: Kubernetes' default, everything open.

$ palisadectl lab -f examples/cluster --ports 8080,5432 --protocols TCP --no-enforcer
TEXT
  "$palisadectl" lab -f examples/cluster --ports 8080,5432 --protocols TCP --no-enforcer
  cat <<'TEXT'

Now with palisade-enforcer on the node: eBPF programs on each pod's veth, the
example policies and Palisade's onboarding (default deny, DNS), and --check
comparing every measured probe with the oracle's answer.

$ palisadectl lab -f examples/cluster --ports 8080,5432 --protocols TCP --onboard --check
TEXT
  enforcer_log=$(mktemp)
  "$palisadectl" lab -f examples/cluster --ports 8080,5432 --protocols TCP --onboard --check \
    --enforcer-log "$enforcer_log"
  echo
  echo "# The enforcer's log: one JSON line per denied flow, naming pods and policies:"
  grep -m 2 '"msg":"flow"' "$enforcer_log"
  rm -f "$enforcer_log"
fi

section "The admission webhook: palisade-webhook on 127.0.0.1"
cat <<'TEXT'
The kube-apiserver calls palisade-webhook with AdmissionReviews. Here it runs
on loopback with a throwaway CA (--dev-certs) and examples/palisade-config.yaml
(namespaces need a team and an env, pods an app; violations are denied), and
curl plays the apiserver with the reviews in examples/admission/.
TEXT
workdir=$(mktemp -d)
webhook_pid=
stop_webhook() {
  if [[ -n "$webhook_pid" ]] && kill -0 "$webhook_pid" 2>/dev/null; then
    kill -TERM "$webhook_pid" 2>/dev/null || true
    wait "$webhook_pid" 2>/dev/null || true
  fi
  rm -rf "$workdir"
}
trap stop_webhook EXIT
"$webhook" --dev-certs "$workdir/certs" --config examples/palisade-config.yaml \
  --listen 127.0.0.1:0 --threads 2 >"$workdir/stdout" 2>"$workdir/log" &
webhook_pid=$!
port=
for _ in $(seq 100); do
  port=$(jq -r 'select(.msg == "listening") | .port' "$workdir/log" 2>/dev/null || true)
  [[ -n "$port" ]] && break
  kill -0 "$webhook_pid" 2>/dev/null || { cat "$workdir/log" >&2; exit 1; }
  sleep 0.1
done
[[ -n "$port" ]] || { echo "demo: the webhook did not start" >&2; cat "$workdir/log" >&2; exit 1; }
echo "palisade-webhook is listening on https://127.0.0.1:$port"

# review ROUTE FILE NOTE: POST an AdmissionReview and show the decision.
review() {
  echo
  echo "# $3"
  echo "\$ curl https://127.0.0.1:$port/$1 -d @examples/admission/$2"
  curl -sS --fail --cacert "$workdir/certs/ca.crt" -H 'Content-Type: application/json' \
    --data-binary "@examples/admission/$2" "https://127.0.0.1:$port/$1" |
    jq '.response | {allowed}
        + (if .patch then {patch: (.patch | @base64d | fromjson)} else {} end)
        + (if .status then {status: .status.message} else {} end)
        + (if .warnings then {warnings} else {} end)'
}
review mutate namespace-create.json \
  "A namespace created with only a team: env defaults to dev, and it is marked for onboarding."
review validate namespace-bad-team.json \
  "A namespace whose labels break the taxonomy is denied, and told why."
review validate pod-bad-labels.json \
  "A pod without an app label, and with a version that is not a version, is denied."
review validate networkpolicy-broad.json \
  "A valid NetworkPolicy that opens egress to the whole internet is admitted with warnings."
review validate networkpolicy-delete-managed.json \
  "Only Palisade may delete the default-deny policy it manages."

echo
echo "# Prometheus metrics (/metrics):"
curl -sS --cacert "$workdir/certs/ca.crt" "https://127.0.0.1:$port/metrics" |
  grep '^palisade_admission_requests_total'
kill -TERM "$webhook_pid"
status=0
wait "$webhook_pid" || status=$?
webhook_pid=
echo
echo "SIGTERM: palisade-webhook drained and exited with status $status."
echo
# Decision lines are batched for a fraction of a second; after the exit all are written.
echo "# One JSON log line per decision:"
jq -c 'select(.msg == "admission") | {kind, name, operation, decision, durationMs}' "$workdir/log"
