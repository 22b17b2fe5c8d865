#!/usr/bin/env bash
# Admission figures, measured in one run on this machine (figures, not a test):
#   throughput  h2load, HTTP/1.1 with keep-alive, 64 connections, a ~3.5 KiB
#               Pod review (bench/pod-review.json) POSTed to /validate
#   latency     hey (a Go client, like the kube-apiserver) at a fixed offered
#               rate of 5,000 reviews/s, paced two ways: 5 workers x 1,000/s
#               (requests spread evenly, as independent admissions arrive) and
#               50 workers x 100/s (hey starts every worker's ticker at once,
#               so 50 requests land together every 10 ms: a burst test)
#   memory      peak RSS (VmHWM) of palisade-webhook after both runs
# and the same throughput and latency for nginx answering a fixed
# AdmissionReview over the same TLS settings and certificate: the practical
# limit of a TLS server here. Both servers get as many threads/workers as the
# machine has cores, and share those cores with the load generator.
#   scripts/bench-webhook.sh BUILD_DIR
set -euo pipefail

build_dir=$(cd "${1:-build}" && pwd)
cd "$(dirname "$0")/.."
body=bench/pod-review.json
cores=$(nproc)
requests=${PALISADE_BENCH_REQUESTS:-200000}
duration=${PALISADE_BENCH_SECONDS:-10}

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# A port below the kernel's ephemeral range (where the load generators' own
# connections take theirs) that no socket uses.
free_port() {
  local port low
  read -r low _ </proc/sys/net/ipv4/ip_local_port_range
  while :; do
    port=$((10000 + RANDOM % (low - 10000)))
    ss -Htan "sport = :$port" | grep -q . || { echo "$port"; return; }
  done
}

wait_https() {  # URL
  for _ in $(seq 100); do
    curl -sk -o /dev/null "$1" && return 0
    sleep 0.1
  done
  echo "bench: $1 did not come up" >&2
  exit 1
}

# --- palisade-webhook ---------------------------------------------------------
"$build_dir/bin/palisade-webhook" --dev-certs "$work/certs" --config examples/palisade-config.yaml \
  --listen 127.0.0.1:0 --threads "$cores" >"$work/webhook.out" 2>"$work/webhook.log" &
webhook_pid=$!
pids+=("$webhook_pid")
webhook_port=
for _ in $(seq 100); do
  webhook_port=$(jq -r 'select(.msg == "listening") | .port' "$work/webhook.log" 2>/dev/null || true)
  [[ -n "$webhook_port" ]] && break
  sleep 0.1
done
[[ -n "$webhook_port" ]] || { echo "bench: the webhook did not start" >&2; cat "$work/webhook.log" >&2; exit 1; }
webhook_url="https://127.0.0.1:$webhook_port/validate"
wait_https "https://127.0.0.1:$webhook_port/healthz"

# --- nginx with a fixed answer, same certificate and TLS settings ---------------
uid=$(jq -r .request.uid "$body")
nginx_port=$(free_port)
mkdir -p "$work/nginx"
cat >"$work/nginx.conf" <<CONF
worker_processes $cores;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $work/nginx/body;
  proxy_temp_path $work/nginx/proxy;
  fastcgi_temp_path $work/nginx/fastcgi;
  uwsgi_temp_path $work/nginx/uwsgi;
  scgi_temp_path $work/nginx/scgi;
  keepalive_requests 100000000;
  keepalive_timeout 90s;
  client_max_body_size 8m;
  server {
    listen 127.0.0.1:$nginx_port ssl;
    ssl_certificate $work/certs/tls.crt;
    ssl_certificate_key $work/certs/tls.key;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_ciphers ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-AES128-GCM-SHA256:ECDHE-RSA-AES256-GCM-SHA384:ECDHE-RSA-CHACHA20-POLY1305;
    ssl_prefer_server_ciphers on;
    location / {
      default_type application/json;
      return 200 '{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","response":{"uid":"$uid","allowed":true}}';
    }
  }
}
CONF
nginx -c "$work/nginx.conf" -g 'daemon off;' &
pids+=($!)
nginx_url="https://127.0.0.1:$nginx_port/validate"
wait_https "$nginx_url"

# --- measurements ---------------------------------------------------------------
throughput() {  # URL -> requests per second; fails on any failed request
  local out
  out=$(h2load --h1 -c 64 -t 1 -n "$requests" -d "$body" -H 'content-type: application/json' "$1")
  local succeeded total
  succeeded=$(sed -n 's/^requests: .* \([0-9]*\) succeeded.*/\1/p' <<<"$out")
  total=$(sed -n 's/^requests: \([0-9]*\) total.*/\1/p' <<<"$out")
  if [[ "$succeeded" != "$total" ]]; then
    echo "bench: failed requests against $1:" >&2
    echo "$out" >&2
    exit 1
  fi
  sed -n 's/^finished in .*, \([0-9.]*\) req\/s.*/\1/p' <<<"$out"
}

latency() {  # URL WORKERS RATE_PER_WORKER -> "p50 p90 p99 achieved_rps" in milliseconds
  local out
  out=$(hey -z "${duration}s" -c "$2" -q "$3" -m POST -T application/json -D "$body" "$1")
  if grep -q '^Error distribution' <<<"$out"; then
    echo "bench: errors against $1:" >&2
    echo "$out" >&2
    exit 1
  fi
  local p50 p90 p99 rps
  p50=$(awk '/ 50% in /{print $3 * 1000}' <<<"$out")
  p90=$(awk '/ 90% in /{print $3 * 1000}' <<<"$out")
  p99=$(awk '/ 99% in /{print $3 * 1000}' <<<"$out")
  rps=$(awk '/Requests\/sec:/{print $2}' <<<"$out")
  echo "$p50 $p90 $p99 $rps"
}

# The webhook's answer must be a real decision, not an error page.
curl -sS --cacert "$work/certs/ca.crt" -H 'content-type: application/json' --data-binary "@$body" \
  "$webhook_url" | jq -e '.response.allowed == true' >/dev/null

echo "warming up..."
h2load --h1 -c 8 -n 20000 -d "$body" -H 'content-type: application/json' "$webhook_url" >/dev/null
h2load --h1 -c 8 -n 20000 -d "$body" -H 'content-type: application/json' "$nginx_url" >/dev/null

echo "throughput (h2load --h1, 64 connections, $requests reviews of $(stat -c %s "$body") bytes)..."
webhook_rps=$(throughput "$webhook_url")
nginx_rps=$(throughput "$nginx_url")
echo "latency (hey, 5,000 reviews/s offered, ${duration}s each: 5 workers x 1,000/s, then 50 x 100/s)..."
read -r w50 w90 w99 w_achieved < <(latency "$webhook_url" 5 1000)
read -r n50 n90 n99 n_achieved < <(latency "$nginx_url" 5 1000)
read -r wb50 wb90 wb99 wb_achieved < <(latency "$webhook_url" 50 100)
read -r nb50 nb90 nb99 nb_achieved < <(latency "$nginx_url" 50 100)
rss_kib=$(awk '/VmHWM/{print $2}' "/proc/$webhook_pid/status")

echo
printf '%-34s %14s %14s %10s\n' "" "palisade" "nginx" "ratio"
printf '%-34s %14.0f %14.0f %10.2f\n' "throughput (reviews/s)" "$webhook_rps" "$nginx_rps" \
  "$(echo "$webhook_rps / $nginx_rps" | bc -l)"
ratio() { echo "$1 / $2" | bc -l; }
printf '%-34s %14.3f %14.3f %10.2f\n' "p50 at 5,000/s, paced (ms)" "$w50" "$n50" "$(ratio "$w50" "$n50")"
printf '%-34s %14.3f %14.3f %10.2f\n' "p90 at 5,000/s, paced (ms)" "$w90" "$n90" "$(ratio "$w90" "$n90")"
printf '%-34s %14.3f %14.3f %10.2f\n' "p99 at 5,000/s, paced (ms)" "$w99" "$n99" "$(ratio "$w99" "$n99")"
printf '%-34s %14.0f %14.0f\n' "achieved rate, paced" "$w_achieved" "$n_achieved"
printf '%-34s %14.3f %14.3f %10.2f\n' "p50 at 5,000/s, bursts of 50 (ms)" "$wb50" "$nb50" "$(ratio "$wb50" "$nb50")"
printf '%-34s %14.3f %14.3f %10.2f\n' "p99 at 5,000/s, bursts of 50 (ms)" "$wb99" "$nb99" "$(ratio "$wb99" "$nb99")"
printf '%-34s %14.0f %14.0f\n' "achieved rate, bursts" "$wb_achieved" "$nb_achieved"
printf '%-34s %14.1f\n' "palisade-webhook peak RSS (MiB)" "$(echo "$rss_kib / 1024" | bc -l)"
echo
echo "targets: throughput >= 0.5 x nginx; p99 <= 1 ms at 5,000 reviews/s; RSS < 30 MiB"
