#!/usr/bin/env bash
# crash.sh: `ferry run` under MLLP load is killed with SIGKILL at random moments (KILLS times, default
# 20) and restarted on the same data dir each time. Afterwards the queue must drain, and at the
# exchange every message that got AA must be there exactly once in effect, with no duplicates at all.
# Halfway through, encryption at rest is switched on (`ferry keygen`, encryption.key_file): the second
# half crashes a gateway that seals new data while its plaintext backlog is still being delivered.
set -euo pipefail
SUITE=crash
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-crash.XXXXXX)}
KILLS=${KILLS:-20}
RATE=${RATE:-60}
trap cleanup EXIT

start_exchange "$WORK/ex"
MLLP=$(freeport)
STATUS=$(freeport)
write_config "$WORK/ferry.yaml" "$WORK/data" "$MLLP" "$STATUS"
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
log "exchange $EX_URL, ferry on 127.0.0.1:$MLLP; load at ${RATE}/s, $KILLS kills"

node "$here/load-send.mjs" --port "$MLLP" --count 100000 --conns 4 --rate "$RATE" --obx 2 --prefix K \
  --acked "$WORK/acked.txt" --sent "$WORK/sent.txt" --stop-file "$WORK/STOP" --deadline-s 600 \
  >"$WORK/load.log" 2>&1 &
LOAD_PID=$!
PIDS+=("$LOAD_PID")

kills=0
while ((kills < KILLS)); do
  # a random moment: 0.2 .. 2.2 s after the gateway came up; every 5th kill hits it while starting
  if ((kills % 5 == 4)); then
    "$FERRY" run --config "$WORK/ferry.yaml" >>"$WORK/ferry.log" 2>&1 &
    FERRY_PID=$!
    PIDS+=("$FERRY_PID")
    sleep "0.0$((RANDOM % 10))"
  else
    sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
    sleep 0.2
  fi
  kill -0 "$LOAD_PID" 2>/dev/null || { cat "$WORK/load.log"; die "load generator stopped early"; }
  # the gateway must be there to be killed: one that exited by itself (a panic in recovery) would
  # otherwise be restarted by this loop as if the kill had stopped it
  kill -0 "$FERRY_PID" 2>/dev/null || { tail -30 "$WORK/ferry.log"; die "ferry exited by itself before kill #$((kills + 1))"; }
  stop_pid "$FERRY_PID" KILL
  kills=$((kills + 1))
  printf '%s kill -9 #%d (acked so far: %d)\n' "$(date +%T)" "$kills" "$(wc -l <"$WORK/acked.txt" 2>/dev/null || echo 0)" >>"$WORK/kills.log"
  if ((kills == KILLS / 2)); then
    switch_encryption_on "$WORK/ferry.yaml" "$WORK/kills.log"
  fi
  if ((kills % 5 != 4)); then
    start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
  fi
done
# the last kill may have been of a starting gateway: make sure one runs for the drain
if ! kill -0 "$FERRY_PID" 2>/dev/null; then start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"; fi
wait_port 127.0.0.1 "$MLLP" 30 || die "ferry not listening after the kills"
log "$kills kills done; letting the sender finish its in-flight messages"
touch "$WORK/STOP"
wait "$LOAD_PID" || { cat "$WORK/load.log"; die "load generator reported unfinished or rejected messages"; }
cat "$WORK/load.log"
acked=$(sort -u "$WORK/acked.txt" | wc -l)
((acked >= 100)) || die "only $acked messages acked: the test did not put enough load through"
log "$acked messages acked across $kills crashes; waiting for the queue to drain"

node "$here/check-exchange.mjs" --control "$EX_CTL" --acked "$WORK/acked.txt" --sent "$WORK/sent.txt" --obx 2 --wait-s 300 ||
  { tail -20 "$WORK/ferry.log"; die "exchange content check failed"; }
assert_drained "$STATUS"
grep -q "data at rest encrypted" "$WORK/ferry.log" || die "the second half did not run with encryption at rest"
if grep -E -m3 '^(panic:|fatal error:)' "$WORK/ferry.log"; then die "ferry panicked (ferry.log)"; fi
log "PASS ($acked acked messages, $kills kill -9, encryption at rest from kill $((KILLS / 2)) on)"
