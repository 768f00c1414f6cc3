#!/usr/bin/env bash
# livebackup.sh MODE: what a live `ferry backup` costs MLLP senders. A held gateway (its exchange
# unreachable, so bundles stay queued and the backlog grows) takes 4 connections x 10,000 messages
# from `ferry bench mllp`; with MODE=backup a `ferry backup` of the running gateway is taken every 2 s
# meanwhile (each printed with its file count, size and how long the queue was held still); with
# MODE=none nothing else runs. Prints the bench tool's msg/s and ACK latency.
#   FERRY=/tmp/ferry PKI=/tmp/pki bash .ci/bench/livebackup.sh backup   (PKI from .ci/exchange/pki.sh)
set -euo pipefail
MODE=${1:?usage: livebackup.sh none|backup}
FERRY=${FERRY:?FERRY=path of the ferry binary}
PKI=${PKI:?PKI=folder made by .ci/exchange/pki.sh}
W=$(mktemp -d /tmp/ferry-livebackup.XXXXXX)
cat >"$W/ferry.yaml" <<YAML
data_dir: $W/data
sources:
  mllp:
    - name: main
      listen: 127.0.0.1:22576
exchange:
  url: https://127.0.0.1:9/fhir
  tls: {ca_file: $PKI/ca.pem, cert_file: $PKI/client.pem, key_file: $PKI/client.key}
  retry: {initial_interval: 1h, max_interval: 2h}
status:
  listen: 127.0.0.1:28081
YAML
"$FERRY" run --config "$W/ferry.yaml" >"$W/run.log" 2>&1 &
pid=$!
trap 'kill $pid 2>/dev/null; rm -rf "$W"' EXIT
sleep 2
"$FERRY" bench mllp --addr 127.0.0.1:22576 --conns 4 --messages 10000 >"$W/bench.txt" 2>&1 &
b=$!
n=0
if [ "$MODE" = backup ]; then
  sleep 1
  while kill -0 $b 2>/dev/null; do
    n=$((n + 1))
    "$FERRY" backup --config "$W/ferry.yaml" "$W/b$n.tar.gz" 2>&1 |
      sed -n 's/^backed up .*: \([0-9]* files, [^,]*\),.*/backup: \1,/p; s/.*held its queue still for \(.*\)/queue held \1/p' | paste -sd' '
    rm -f "$W/b$n.tar.gz"
    sleep 2
  done
fi
wait $b
grep -E "answered|ack latency" "$W/bench.txt"
