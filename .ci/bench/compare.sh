#!/usr/bin/env bash
# compare.sh: two ferry builds, turn about, on the same load. Each round starts a fresh held gateway
# (MLLP -> convert -> fsynced queue; the exchange is unreachable, so only ingest runs) from each binary
# in turn, drives it with `ferry bench mllp` and prints msg/s, ACK p50/p99, the gateway's CPU per
# message and its own account from /metrics (mean conversion, mean flush). On a shared machine two
# runs of the same build move by 15 % or more: only figures taken in alternation compare, and the
# order within a round turns each round.
#
#   bash .ci/bench/compare.sh OLD_BINARY NEW_BINARY [CONNS] [MESSAGES] [ROUNDS]
#     e.g. git worktree add /tmp/old HEAD~3 && (cd /tmp/old && go build -o /tmp/ferry-old ./cmd/ferry)
#          go build -o /tmp/ferry-new ./cmd/ferry && bash .ci/bench/compare.sh /tmp/ferry-old /tmp/ferry-new 16 48000 4
#   AUDIT=udp also turns the gateways' audit trail on (syslog over UDP to a reader started here).
set -euo pipefail
SUITE=compare
here=$(cd "$(dirname "$0")" && pwd)
: "${CI_DIR:=$(cd "$here/.." && pwd)}"
: "${PKI:=unused}"
[ $# -ge 2 ] || { echo "usage: compare.sh OLD_BINARY NEW_BINARY [CONNS] [MESSAGES] [ROUNDS]" >&2; exit 2; }
FERRY=$2 # lib.sh wants one; each run names its own binary
export CI_DIR PKI FERRY
source "$CI_DIR/interop/lib.sh"
source "$here/metrics.sh"
OLD=$1 NEW=$2 CONNS=${3:-1} MESSAGES=${4:-16000} ROUNDS=${5:-3}
WORK=${WORK:-$(mktemp -d /tmp/ferry-compare.XXXXXX)}
trap cleanup EXIT
[ -f "$PKI/client.pem" ] || { PKI=$WORK/pki; bash "$CI_DIR/exchange/pki.sh" "$PKI" >/dev/null; }
if [ "${AUDIT:-}" = udp ]; then
  # The audit trail on, as syslog over UDP to a reader that only drains it: what recording an
  # event per message costs the ingest path.
  audit_port=$(freeport)
  python3 -c 'import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("127.0.0.1", int(sys.argv[1])))
while True: s.recv(65535)' "$audit_port" &
  PIDS+=($!)
  export AUDIT_URL=udp://127.0.0.1:$audit_port
fi

one() {
  local bin=$1 tag=$2 dir
  dir=$(mktemp -d "$WORK/run.XXXX")
  local mllp status
  mllp=$(freeport)
  status=$(freeport)
  held_config "$dir/ferry.yaml" "$dir/data" "$mllp" "$status"
  FERRY=$bin start_ferry "$dir/ferry.yaml" "$dir/ferry.log" "$mllp"
  local t0 t1 out
  t0=$(proc_ticks "$FERRY_PID")
  out=$("$bin" bench mllp --addr "127.0.0.1:$mllp" --conns "$CONNS" --messages $((MESSAGES / CONNS)) --expect AA)
  t1=$(proc_ticks "$FERRY_PID")
  local m
  m=$(server_times "0 0 0 0" "$(server_sums "127.0.0.1:$status")" | sed 's/^gateway *//')
  awk -v tag="$tag" -v out="$out" -v t=$((t1 - t0)) -v hz="$(getconf CLK_TCK)" -v n="$MESSAGES" -v m="$m" 'BEGIN {
    split(out, lines, "\n")
    for (i in lines) {
      if (lines[i] ~ /^answered/) { sub(/.*= /, "", lines[i]); rate = lines[i] }
      if (lines[i] ~ /^ack latency/) { split(lines[i], f, " +"); p50 = f[4]; p99 = f[8] }
    }
    printf "%-4s %14s  p50 %-11s p99 %-11s cpu %6.1f µs/msg  %s\n", tag, rate, p50, p99, t / hz * 1e6 / n, m }'
  stop_pid "$FERRY_PID" TERM
  rm -rf "$dir"
}

# The order turns each round (old, new; new, old; ...): on the reference VMs the build that runs first
# in a pair was ahead in most pairs whichever it was (BENCHMARKS.md, sessions 14 and 16), so a fixed
# order would favour one build. Use an even number of rounds.
log "$ROUNDS rounds of $CONNS connection(s) x $((MESSAGES / CONNS)) messages: old=$OLD new=$NEW (order turns each round)"
for ((r = 1; r <= ROUNDS; r++)); do
  if ((r % 2)); then
    one "$OLD" old
    one "$NEW" new
  else
    one "$NEW" new
    one "$OLD" old
  fi
done
