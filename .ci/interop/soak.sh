#!/usr/bin/env bash
# soak.sh: `ferry run` delivering to the stand-in exchange over mutual TLS for CYCLES cycles under
# steady load, to show that nothing piles up in the process over time: memory, open files and
# sockets, goroutines. The load runs throughout: RATE HL7 v2 messages a second (default 8), half over
# 2 kept MLLP connections and half over 2 that close and reconnect every 5 messages, and 5 HL7 v2
# files dropped into a watched folder each cycle. Each cycle (80 s) is:
#   20 s normal delivery; 10 s of 503 with Retry-After; 20 s to recover;
#   10 s with the exchange process stopped (connection refused), restarted on its data; 20 s to recover.
# The rate is low because the stand-in slows as it fills (Medplum's memory repository searches by
# scanning, and every bundle makes conditional writes): at 40 msg/s it fell behind within a cycle.
# At the end of every cycle it reads ferry's /metrics (process_resident_memory_bytes,
# process_open_fds, go_goroutines, go_memstats_heap_alloc_bytes, ferry_queue_depth) into
# samples.tsv. It passes when every acked message is at the exchange exactly once
# (check-exchange.mjs), every dropped file was taken, the queue drained, and from the first cycle's
# sample to the last one open files grew by at most 8, goroutines by at most 20 and the live heap by
# at most 16 MiB. CI runs 3 cycles (a smoke test, 4 minutes); BENCHMARKS.md has a longer run.
set -euo pipefail
SUITE=soak
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-soak.XXXXXX)}
CYCLES=${CYCLES:-3}
RATE=${RATE:-8}
NORMAL_S=20 # normal delivery, and each recovery
OUTAGE_S=10 # each outage
CYCLE_S=$((3 * NORMAL_S + 2 * OUTAGE_S))
trap cleanup EXIT

EXPORT=$(freeport)
start_exchange "$WORK/ex" "$EXPORT" "$WORK/ex/state.json"
MLLP=$(freeport)
STATUS=$(freeport)
mkdir -p "$WORK/drop"
write_config "$WORK/ferry.yaml" "$WORK/data" "$MLLP" "$STATUS" "$EX_URL" \
  "  folders:
    - {name: drop, kind: ehr, path: $WORK/drop, settle: 200ms, rescan: 2s}"
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
log "exchange $EX_URL, ferry on 127.0.0.1:$MLLP; $CYCLES cycles of $CYCLE_S s at $RATE msg/s"

deadline=$((CYCLES * CYCLE_S + 120))
send() { # PREFIX CONNS RATE RECONNECT_EVERY
  node "$here/load-send.mjs" --port "$MLLP" --count 10000000 --conns "$2" --rate "$3" --obx 2 --prefix "$1" \
    --reconnect-every "$4" --acked "$WORK/acked-$1.txt" --stop-file "$WORK/STOP" --deadline-s "$deadline" \
    --ack-timeout-ms 10000 >"$WORK/load-$1.log" 2>&1 &
  PIDS+=("$!")
  LOADS+=("$!")
}
LOADS=()
send K 2 $((RATE / 2)) 0  # kept connections
send R 2 $((RATE / 2)) 5  # a new connection every 5 messages

dropped=0
drop_files() { # CYCLE: 5 ADT^A01 files, each its own patient (MRN-D<cycle>-<i>)
  local c=$1 i id
  for i in 1 2 3 4 5; do
    id="D$c-$i"
    printf 'MSH|^~\\&|LOADGEN|CICLINIC|FERRY|HIE|%s||ADT^A01^ADT_A01|%s|P|2.5.1\rEVN|A01|%s\rPID|1||MRN-%s^^^HOSP^MR||Drop^Patient%s||19800101|U\rPV1|1|O\r' \
      "$(date -u +%Y%m%d%H%M%S)" "$id" "$(date -u +%Y%m%d%H%M%S)" "$id" "$i" >"$WORK/drop/.$id.tmp"
    mv "$WORK/drop/.$id.tmp" "$WORK/drop/$id.hl7"
    dropped=$((dropped + 1))
  done
}

printf 'cycle\tseconds\trss_bytes\topen_fds\tgoroutines\theap_bytes\tqueue_depth\tdelivered\n' >"$WORK/samples.tsv"
sample() { # CYCLE
  local m n v vals=()
  m=$(curl -sS "http://127.0.0.1:$STATUS/metrics")
  for n in process_resident_memory_bytes process_open_fds go_goroutines go_memstats_heap_alloc_bytes ferry_queue_depth ferry_delivered_total; do
    v=$(awk -v n="$n" '$1==n && !done {print $2; done=1}' <<<"$m")
    # a metric missing from a sample would read as 0 in the first and the last and hide any growth
    [ -n "$v" ] || die "ferry's /metrics has no $n"
    vals+=("$v")
  done
  printf '%s\t%s\t%.0f\t%s\t%s\t%.0f\t%s\t%s\n' "$1" "$SECONDS" "${vals[@]}" >>"$WORK/samples.tsv"
}

for ((c = 1; c <= CYCLES; c++)); do
  drop_files "$c"
  sleep "$NORMAL_S"
  ctl "/control/fail?status=503&retry_after=3" >/dev/null
  sleep "$OUTAGE_S"
  ctl "/control/ok" >/dev/null
  sleep "$NORMAL_S"
  stop_pid "$EX_PID" TERM
  sleep "$OUTAGE_S"
  start_exchange "$WORK/ex" "$EXPORT" "$WORK/ex/state.json"
  sleep "$NORMAL_S"
  for p in "${LOADS[@]}"; do kill -0 "$p" 2>/dev/null || { cat "$WORK"/load-*.log; die "a load sender stopped early"; }; done
  sample "$c"
  log "cycle $c: $(tail -1 "$WORK/samples.tsv")"
done

touch "$WORK/STOP"
for p in "${LOADS[@]}"; do wait "$p" || { cat "$WORK"/load-*.log; die "a load sender reported unfinished or rejected messages"; }; done
cat "$WORK"/load-*.log
cat "$WORK"/acked-*.txt >"$WORK/acked.txt"
acked=$(sort -u "$WORK/acked.txt" | wc -l)
((acked >= CYCLES * CYCLE_S * RATE / 2)) || die "only $acked messages acked: the load did not get through"
grep -q '"closed":[1-9]' "$WORK/load-R.log" || die "the reconnecting sender never closed a connection"
log "$acked messages acked, $dropped files dropped; waiting for the exchange to have them all"
# The stand-in slows as it fills, so a long run ends with a backlog to drain (12 cycles: about 1,000).
node "$here/check-exchange.mjs" --control "$EX_CTL" --acked "$WORK/acked.txt" --obx 2 --wait-s $((180 + CYCLES * 20)) ||
  { tail -20 "$WORK/ferry.log"; die "exchange content check failed"; }
assert_drained "$STATUS"
done_files=$(curl -sS "http://127.0.0.1:$STATUS/metrics" | awk '$1 ~ /^ferry_folder_files_done_total\{folder="drop"/ {print $2}')
[ "$done_files" = "$dropped" ] || die "$dropped files dropped, $done_files taken"
# every dropped file's patient at the exchange, once (the files are in done/ and the queue is empty)
for ((c = 1; c <= CYCLES; c++)); do
  for i in 1 2 3 4 5; do
    n=$(fhir_total "Patient?identifier=$HOSP_SYSTEM|MRN-D$c-$i")
    [ "$n" = 1 ] || die "the patient of dropped file D$c-$i.hl7 is at the exchange $n time(s), want 1"
  done
done
sample drained # for the record: senders gone, queue empty

column -t "$WORK/samples.tsv"
# The first and last cycles' samples were taken at the same point of a cycle, under the same load.
first=$(sed -n 2p "$WORK/samples.tsv")
last=$(sed -n "$((CYCLES + 1))p" "$WORK/samples.tsv")
growth() { # COLUMN → last minus first
  awk -F'\t' -v c="$1" -v a="$first" -v b="$last" 'BEGIN { split(a, x, "\t"); split(b, y, "\t"); print y[c] - x[c] }'
}
fds=$(growth 4)
gor=$(growth 5)
heap=$(growth 6)
rss=$(growth 3)
log "from cycle 1 to cycle $CYCLES: open fds $fds, goroutines $gor, live heap $((heap / 1024)) KiB, resident $((rss / 1024)) KiB"
((fds <= 8)) || die "open file descriptors grew by $fds over the run"
((gor <= 20)) || die "goroutines grew by $gor over the run"
((heap <= 16 * 1024 * 1024)) || die "the live heap grew by $((heap / 1024)) KiB over the run"
log "PASS ($acked acked messages and $dropped files through $CYCLES cycles of 503 and exchange restarts; nothing grew)"
