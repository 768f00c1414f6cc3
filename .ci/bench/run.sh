#!/usr/bin/env bash
# run.sh: MLLP throughput suite. Drives the real gateway (`ferry run`, MLLP → convert → fsynced queue →
# local outbox) with `ferry bench mllp` at 1 and 16 connections, every message answered AA and its
# control id logged, then the reference receiver node-hl7-server (server.mjs: ACKs without storing)
# with the same tool. A second gateway run holds delivery (unreachable exchange) so that ingest alone is
# measured. Last, the machine's floor: `ferry bench responder`, which answers AA without doing anything
# else (and, with --sync-dir, after one write + fdatasync per message). Every run also reports the receiver's CPU time per message and peak RSS. Passing means:
# every message got AA (ferry) / an ACK (node), and the acked-id log holds exactly one line per message. The figures are printed and kept in $WORK/bench.txt; CI asserts
# no speed, because CI machines vary.
#
# By hand: go build -o /tmp/ferry ./cmd/ferry && FERRY=/tmp/ferry bash .ci/bench/run.sh
#   (MESSAGES=N sets messages per single-connection run; 16-connection runs send the same total.)
set -euo pipefail
SUITE=bench
here=$(cd "$(dirname "$0")" && pwd)
: "${CI_DIR:=$(cd "$here/.." && pwd)}"
: "${PKI:=unused}" # lib.sh wants it; the held run below needs only a client certificate from it
export CI_DIR PKI
source "$CI_DIR/interop/lib.sh"
source "$here/metrics.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-bench.XXXXXX)}
mkdir -p "$WORK"
MESSAGES=${MESSAGES:-2000}
trap cleanup EXIT
# An exchange is always reached with mutual TLS, so even the unreachable one of the held run needs a
# client certificate: .ci/run's test PKI, or a throwaway one made here when run by hand.
[ -f "$PKI/client.pem" ] || { PKI=$WORK/pki; bash "$CI_DIR/exchange/pki.sh" "$PKI"; }
[ -d "$here/node_modules/node-hl7-server" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

REPORT=$WORK/bench.txt
{
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "ferry:   $("$FERRY" version 2>/dev/null || echo unknown)"
} | tee "$REPORT"

# bench NAME ADDR PID CONNS PER_CONN [ARGS...] runs the load tool and appends its report, plus the
# receiver's (PID's) CPU time per message and its peak RSS: msg/s depends on what else the machine
# runs, CPU per message much less so, and the load tool's own CPU is not in it.
bench() {
  local name=$1 addr=$2 pid=$3 conns=$4 per=$5
  shift 5
  log "$name: $conns x $per"
  {
    echo
    echo "## $name: ferry bench mllp --addr $addr --conns $conns --messages $per $*"
  } >>"$REPORT"
  local t0 t1
  t0=$(proc_ticks "$pid")
  local sums0=""
  [ -n "${BENCH_STATUS:-}" ] && sums0=$(server_sums "$BENCH_STATUS")
  "$FERRY" bench mllp --addr "$addr" --conns "$conns" --messages "$per" "$@" | tee -a "$REPORT"
  t1=$(proc_ticks "$pid")
  [ -n "$sums0" ] && server_times "$sums0" "$(server_sums "$BENCH_STATUS")" | tee -a "$REPORT"
  awk -v t="$((t1 - t0))" -v hz="$(getconf CLK_TCK)" -v n="$((conns * per))" \
    'BEGIN { printf "receiver cpu     %.1f µs/msg (user+sys)\n", t / hz * 1e6 / n }' | tee -a "$REPORT"
  awk '/^VmHWM/ { printf "receiver rss     peak %.1f MB\n", $2 / 1024 }' "/proc/$pid/status" | tee -a "$REPORT"
}

# --- ferry: the whole gateway, one fsynced queue item per message ----------------------------------
MLLP=$(freeport)
STATUS=$(freeport)
cat >"$WORK/ferry.yaml" <<YAML
data_dir: $WORK/data
log:
  level: warn
sources:
  mllp:
    - name: bench
      listen: 127.0.0.1:$MLLP
      max_conns_per_ip: 256   # every load connection comes from loopback (default 32)
status:
  listen: 127.0.0.1:$STATUS
YAML
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
for conns in 1 16; do
  per=$((MESSAGES / conns))
  out=$WORK/acked-$conns.txt
  bench "ferry (gateway, persistent connections)" "127.0.0.1:$MLLP" "$FERRY_PID" "$conns" "$per" --expect AA --out "$out" ||
    { tail -20 "$WORK/ferry.log"; die "ferry did not answer AA to every message"; }
  lines=$(wc -l <"$out")
  uniq=$(sort -u "$out" | wc -l)
  ((lines == conns * per && uniq == lines)) || die "acked-id log has $lines lines ($uniq distinct), want $((conns * per))"
done
for conns in 1 16; do
  bench "ferry (gateway, new connection per message)" "127.0.0.1:$MLLP" "$FERRY_PID" "$conns" $((MESSAGES / 2 / conns)) \
    --conn-per-message --expect AA || die "ferry did not answer AA to every message"
done
stop_pid "$FERRY_PID" TERM

# --- ferry, delivery held: the exchange is unreachable, so only ingest runs (MLLP → convert → fsynced
# queue); the figures above also carry the outbox's own fsyncs on the same disk. ---------------------
MLLP=$(freeport)
held_config "$WORK/ferry-held.yaml" "$WORK/data-held" "$MLLP" "$STATUS"
start_ferry "$WORK/ferry-held.yaml" "$WORK/ferry-held.log" "$MLLP"
# The held runs also print the gateway's own account of each run (its /metrics): mean conversion
# time per message and mean flush (write + fdatasync) per commit, the two parts of an ACK's time that are ferry's.
BENCH_STATUS=127.0.0.1:$STATUS
for conns in 1 16; do
  bench "ferry (ingest only, delivery held, persistent connections)" "127.0.0.1:$MLLP" "$FERRY_PID" "$conns" $((MESSAGES / conns)) \
    --expect AA || die "ferry (held) did not answer AA to every message"
done
for conns in 1 16; do
  bench "ferry (ingest only, delivery held, new connection per message)" "127.0.0.1:$MLLP" "$FERRY_PID" "$conns" \
    $((MESSAGES / 2 / conns)) --conn-per-message --expect AA || die "ferry (held) did not answer AA to every message"
done
stop_pid "$FERRY_PID" TERM
BENCH_STATUS=

# --- node-hl7-server: MLLP + parse + ACK, nothing stored ------------------------------------------
# node-hl7-server 2.5.0 never clears its receive buffer, so the k-th message on a connection is
# answered with k ACKs (upstream issue #102): it can only be measured with a connection per message.
NODE_PORT=$(freeport)
node "$here/server.mjs" --port "$NODE_PORT" >"$WORK/node-hl7-server.log" 2>&1 &
NODE_PID=$!
PIDS+=("$NODE_PID")
wait_port 127.0.0.1 "$NODE_PORT" 30 || { cat "$WORK/node-hl7-server.log"; die "node-hl7-server did not start"; }
for conns in 1 16; do
  bench "node-hl7-server (no storage, new connection per message)" "127.0.0.1:$NODE_PORT" "$NODE_PID" "$conns" \
    $((MESSAGES / 2 / conns)) --conn-per-message --expect AA || die "node-hl7-server run failed"
done

# --- the machine's floor: `ferry bench responder` answers AA to every frame and does nothing else
# (no parsing beyond MSH, no conversion, no queue); with --sync-dir it first writes each message to a
# pre-zeroed file and fdatasyncs it, one flush per message. What any receiver can reach here, and
# what an fsync'd ACK alone costs, read beside the rows above. -------------------------------------
floor() {
  local name=$1
  shift
  local port
  port=$(freeport)
  "$FERRY" bench responder --listen "127.0.0.1:$port" "$@" >"$WORK/responder.log" 2>&1 &
  local pid=$!
  PIDS+=("$pid")
  wait_port 127.0.0.1 "$port" 30 || { cat "$WORK/responder.log"; die "responder did not start"; }
  bench "floor: $name, persistent connections" "127.0.0.1:$port" "$pid" 1 "$MESSAGES" --expect AA ||
    die "responder run failed"
  bench "floor: $name, new connection per message" "127.0.0.1:$port" "$pid" 1 $((MESSAGES / 2)) \
    --conn-per-message --expect AA || die "responder run failed"
  stop_pid "$pid" TERM
}
floor "responder (no storage)"
mkdir -p "$WORK/responder"
floor "responder (write + fdatasync per message)" --sync-dir "$WORK/responder"

echo
grep -E '^(## |answered|ack latency|receiver|gateway )' "$REPORT" | sed 's/^## /\n/'
log "PASS (report: $REPORT)"
