#!/usr/bin/env bash
# startlat.sh N: how long a gateway with a large backlog takes to start. A held gateway (its exchange
# unreachable, so bundles stay queued) takes N messages from `ferry bench mllp` (16 connections) and
# is stopped; then it is started three times with the page cache warm and twice after dropping it
# (root only), each time from the exec to the status page answering /healthz, which it does once the
# queue is replayed and the sources listen. The Windows service control manager gives a service 30 s
# by default to report that it runs.
#   FERRY=/tmp/ferry PKI=/tmp/pki bash .ci/bench/startlat.sh 200000   (PKI from .ci/exchange/pki.sh)
set -euo pipefail
N=${1:-200000}
FERRY=${FERRY:?FERRY=path of the ferry binary}
PKI=${PKI:?PKI=folder made by .ci/exchange/pki.sh}
W=$(mktemp -d /tmp/ferry-startlat.XXXXXX)
trap 'rm -rf "$W"' EXIT
cat >"$W/ferry.yaml" <<YAML
data_dir: $W/data
sources:
  mllp:
    - {name: bench, listen: 127.0.0.1:42575, max_conns_per_ip: 256}
exchange:
  url: https://127.0.0.1:9/fhir
  tls: {cert_file: $PKI/client.pem, key_file: $PKI/client.key}
  retry: {initial_interval: 1h, max_interval: 1h}
status:
  listen: 127.0.0.1:48089
YAML
up() {
  for _ in $(seq 12000); do
    curl -fsS http://127.0.0.1:48089/healthz >/dev/null 2>&1 && return 0
    sleep 0.01
  done
  return 1
}
"$FERRY" run --config "$W/ferry.yaml" >"$W/fill.log" 2>&1 &
pid=$!
up
"$FERRY" bench mllp --addr 127.0.0.1:42575 --conns 16 --messages $((N / 16)) --expect AA | grep -E "answered"
kill -TERM "$pid"
wait "$pid" || true
echo "queue: $(du -sh "$W/data/queue" | cut -f1)"
start() { # LABEL
  local t0 t1
  t0=$(date +%s.%N)
  "$FERRY" run --config "$W/ferry.yaml" >"$W/start.log" 2>&1 &
  pid=$!
  up
  t1=$(date +%s.%N)
  echo "$1: $(echo "$t1 - $t0" | bc) s to /healthz, queue depth $(curl -fsS http://127.0.0.1:48089/metrics | awk '/^ferry_queue_depth /{print $2}')"
  kill -TERM "$pid"
  wait "$pid" || true
}
for r in 1 2 3; do start "warm start $r"; done
if [ -w /proc/sys/vm/drop_caches ]; then
  for r in 1 2; do
    sync
    echo 3 >/proc/sys/vm/drop_caches
    start "cold start $r"
  done
fi
