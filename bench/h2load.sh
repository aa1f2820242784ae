#!/usr/bin/env bash
# Server-only throughput: one pre-encoded Evaluate request body (a subscription's whole stream,
# gRPC-framed) replayed with h2load, so no client work competes with the server. h2load sees HTTP
# status only, not grpc-status, so the answers are checked separately: one response is captured with
# curl and checked by sla-load, and the server's own metrics must count every call as OK.
#   bench/h2load.sh   (env: POLICY, MONTHS, REQUESTS, CLIENTS, STREAMS, FORM, SERVER_FLAGS)
# Needs h2load (Debian: nghttp2-client) and curl; as root it installs them.
set -euo pipefail
cd "$(dirname "$0")/.."

policy=${POLICY:-tencent-trtc} months=${MONTHS:-1} requests=${REQUESTS:-4000}
clients=${CLIENTS:-4} streams=${STREAMS:-4} form=${FORM:-columns}
for tool in h2load curl; do
  if ! command -v "$tool" >/dev/null; then
    if [[ $(id -u) == 0 ]]; then apt-get install -y -q nghttp2-client curl >/dev/null
    else echo "bench/h2load.sh needs $tool: apt-get install nghttp2-client curl" >&2; exit 1; fi
  fi
done
cargo build --release --quiet --bins

work=$(mktemp -d)
server=
trap '[[ -n $server ]] && kill "$server" 2>/dev/null; rm -rf "$work"' EXIT
body=$(target/release/sla-load --write-body "$work/body.bin" --policy "$policy" --months "$months" --form "$form")
buckets=$(sed -E 's/.*"buckets":([0-9]+).*/\1/' <<<"$body")

# shellcheck disable=SC2086 # SERVER_FLAGS is a list of flags
target/release/sla-evaluator --listen 127.0.0.1:0 --metrics-listen 127.0.0.1:0 --log-format json --log warn,sla_evaluator=info \
  ${SERVER_FLAGS:-} >"$work/server.log" &
server=$!
for _ in $(seq 100); do grep -q '"listen"' "$work/server.log" 2>/dev/null && break; sleep 0.05; done
addr=$(grep -o '"listen":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4)
metrics=$(grep -o '"metrics_listen":"[^"]*"' "$work/server.log" | head -1 | cut -d'"' -f4)
url="http://$addr/sla.v1.SlaEvaluator/Evaluate"
headers=(-H 'content-type: application/grpc' -H 'te: trailers')

h2load -n "$requests" -c "$clients" -m "$streams" "${headers[@]}" -d "$work/body.bin" "$url" \
  >"$work/h2load.out"
grep -q "$requests succeeded, 0 failed, 0 errored" "$work/h2load.out" \
  || { cat "$work/h2load.out" >&2; echo "h2load saw failures" >&2; exit 1; }
rate=$(grep -oE '[0-9.]+ req/s' "$work/h2load.out" | cut -d' ' -f1)
peak=$(awk '/VmHWM/ {print $2 * 1024}' "/proc/$server/status")

curl -s --http2-prior-knowledge "${headers[@]}" --data-binary "@$work/body.bin" "$url" -o "$work/response.bin"
target/release/sla-load --check-response "$work/response.bin" --policy "$policy" --months "$months" >/dev/null
ok=$(curl -s "http://$metrics/metrics" \
  | awk '/^grpc_server_handled_total\{grpc_code="OK",grpc_method="Evaluate",grpc_service="sla.v1.SlaEvaluator"/ {print $2}')
if [[ $ok != "$((requests + 1))" ]]; then
  echo "the server answered $ok Evaluate calls OK, not all $((requests + 1))" >&2
  curl -s "http://$metrics/metrics" | grep '^grpc_server_handled_total{[^}]*grpc_method="Evaluate"' >&2
  exit 1
fi

awk -v rate="$rate" -v buckets="$buckets" -v policy="$policy" -v months="$months" -v form="$form" \
    -v clients="$clients" -v streams="$streams" -v peak="$peak" 'BEGIN {
  printf "{\"tool\":\"h2load\",\"form\":\"%s\",\"policy\":\"%s\",\"months\":%d,\"connections\":%d,", form, policy, months, clients
  printf "\"streams_per_connection\":%d,\"requests_per_second\":%.1f,\"buckets_per_request\":%d,", streams, rate, buckets
  printf "\"buckets_per_second\":%.0f,\"server_peak_rss_bytes\":%d,\"all_answers_ok\":true}\n", rate * buckets, peak
}'
