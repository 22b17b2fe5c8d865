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
cd "$(dirname "$0")/.."  # so that messages name examples/... as a user would type it

bold='' plain=''
if [[ -t 1 ]]; then
  bold=$'\033[1m' plain=$'\033[0m'
fi
section() { printf '\n%s== %s%s\n\n' "$bold" "$*" "$plain"; }

# The ports the example's services use: HTTP, PostgreSQL, metrics, and DNS.
matrix() {
  "$palisadectl" matrix -f examples --protocols TCP --ports 8080,5432,9090 "$@"
  echo
  "$palisadectl" matrix -f examples --protocols UDP --ports 53 "$@"
}

# explain NOTE FLAGS...; it exits 1 for a denied flow: an answer, not a failure.
explain() {
  local status=0
  echo "# $1"
  shift
  echo "\$ palisadectl explain -f examples --onboard $*"
  "$palisadectl" explain -f examples --onboard "$@" || status=$?
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

$ palisadectl validate -f examples
TEXT
"$palisadectl" validate -f examples
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
