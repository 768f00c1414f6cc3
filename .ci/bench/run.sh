#!/usr/bin/env bash
# run.sh: MLLP throughput suite. Drives the real gateway (`ferry run`, MLLP → convert → fsynced queue →
# local outbox) with `ferry bench mllp` at 1 and 16 connections, every message answered AA and its
# control id logged, then the reference receiver node-hl7-server (server.mjs: ACKs without storing)
# with the same tool. Passing means: every message got AA (ferry) / an ACK (node), and the acked-id log
# holds exactly one line per message. The figures are printed and kept in $WORK/bench.txt; CI asserts
# no speed, because CI machines vary.
#
# By hand: go build -o /tmp/ferry ./cmd/ferry && FERRY=/tmp/ferry bash .ci/bench/run.sh
#   (MESSAGES=N sets messages per single-connection run; 16-connection runs send the same total.)
set -euo pipefail
SUITE=bench
here=$(cd "$(dirname "$0")" && pwd)
: "${CI_DIR:=$(cd "$here/.." && pwd)}"
: "${PKI:=unused}" # lib.sh wants it; this suite needs no exchange
export CI_DIR PKI
source "$CI_DIR/interop/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-bench.XXXXXX)}
mkdir -p "$WORK"
MESSAGES=${MESSAGES:-2000}
trap cleanup EXIT
[ -d "$here/node_modules/node-hl7-server" ] || (cd "$here" && npm ci --no-audit --no-fund --loglevel=error)

REPORT=$WORK/bench.txt
{
  echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(lscpu | sed -n 's/^Model name: *//p' | head -1)"
  echo "ferry:   $("$FERRY" version 2>/dev/null || echo unknown)"
} | tee "$REPORT"

# bench NAME ADDR CONNS PER_CONN [ARGS...] runs the load tool and appends its report.
bench() {
  local name=$1 addr=$2 conns=$3 per=$4
  shift 4
  log "$name: $conns x $per"
  {
    echo
    echo "## $name: ferry bench mllp --addr $addr --conns $conns --messages $per $*"
  } >>"$REPORT"
  "$FERRY" bench mllp --addr "$addr" --conns "$conns" --messages "$per" "$@" | tee -a "$REPORT"
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
status:
  listen: 127.0.0.1:$STATUS
YAML
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
for conns in 1 16; do
  per=$((MESSAGES / conns))
  out=$WORK/acked-$conns.txt
  bench "ferry (gateway, persistent connections)" "127.0.0.1:$MLLP" "$conns" "$per" --expect AA --out "$out" ||
    { tail -20 "$WORK/ferry.log"; die "ferry did not answer AA to every message"; }
  lines=$(wc -l <"$out")
  uniq=$(sort -u "$out" | wc -l)
  ((lines == conns * per && uniq == lines)) || die "acked-id log has $lines lines ($uniq distinct), want $((conns * per))"
done
for conns in 1 16; do
  bench "ferry (gateway, new connection per message)" "127.0.0.1:$MLLP" "$conns" $((MESSAGES / 2 / conns)) \
    --conn-per-message --expect AA || die "ferry did not answer AA to every message"
done
stop_pid "$FERRY_PID" TERM

# --- node-hl7-server: MLLP + parse + ACK, nothing stored ------------------------------------------
# node-hl7-server 2.5.0 never clears its receive buffer, so the k-th message on a connection is
# answered with k ACKs (upstream issue #102): it can only be measured with a connection per message.
NODE_PORT=$(freeport)
node "$here/server.mjs" --port "$NODE_PORT" >"$WORK/node-hl7-server.log" 2>&1 &
PIDS+=("$!")
wait_port 127.0.0.1 "$NODE_PORT" 30 || { cat "$WORK/node-hl7-server.log"; die "node-hl7-server did not start"; }
for conns in 1 16; do
  bench "node-hl7-server (no storage, new connection per message)" "127.0.0.1:$NODE_PORT" "$conns" \
    $((MESSAGES / 2 / conns)) --conn-per-message --expect AA || die "node-hl7-server run failed"
done

echo
grep -E '^(## |answered|ack latency)' "$REPORT" | sed 's/^## /\n/'
log "PASS (report: $REPORT)"
