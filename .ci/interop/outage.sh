#!/usr/bin/env bash
# outage.sh: the exchange fails while clinics keep sending. Every message must still get AA (it is
# queued durably), and once the exchange is back the queue drains and everything arrives, once.
#   A: exchange answers 503 with Retry-After for ~20 s
#   B: exchange process stopped (connection refused), then restarted on the same port with its data
#   C: exchange stores the bundle but the answer is lost (503 after processing): resends must not duplicate
#   D: exchange refuses a bundle with 400: dead-lettered after one attempt with the exchange's
#      OperationOutcome (shown by `ferry queue show`), the queue moves on
#   F: the exchange is down and the clinic's PC is replaced: `ferry backup` of the running gateway
#      while a sender goes on, the old data folder gone, `ferry restore --write-config` on the "new"
#      one; the restored gateway delivers every message acknowledged before the backup began, once,
#      and still holds the dead letter of D
set -euo pipefail
SUITE=outage
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-outage.XXXXXX)}
OUTAGE_S=${OUTAGE_S:-20}
trap cleanup EXIT

EXPORT=$(freeport)
start_exchange "$WORK/ex" "$EXPORT" "$WORK/ex/state.json"
MLLP=$(freeport)
STATUS=$(freeport)
write_config "$WORK/ferry.yaml" "$WORK/data" "$MLLP" "$STATUS"
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
log "exchange $EX_URL, ferry on 127.0.0.1:$MLLP"

send() { # PREFIX COUNT
  node "$here/load-send.mjs" --port "$MLLP" --count "$2" --conns 2 --obx 2 --prefix "$1" \
    --acked "$WORK/acked-$1.txt" --deadline-s 60 --ack-timeout-ms 5000 >"$WORK/load-$1.log" 2>&1 ||
    { cat "$WORK/load-$1.log"; die "phase $1: not every message got AA while the exchange was failing"; }
  [ "$(wc -l <"$WORK/acked-$1.txt")" = "$2" ] || die "phase $1: $(wc -l <"$WORK/acked-$1.txt") of $2 acked"
}
delivered() { # PREFIX → number of that phase's patients at the exchange
  ctl "/control/dump?type=Patient" GET | jq --arg p "MRN-$1" '[.resources[].identifier[]?.value | select(startswith($p))] | length'
}

# --- A: 503 + Retry-After ---
RA=5       # Retry-After seconds: longer than ferry's max_interval (2s) so honouring it is visible
WORKERS=4  # ferry's default exchange.workers
ctl "/control/fail?status=503&retry_after=$RA" >/dev/null
t0=$(date +%s)
send A 30
log "A: 30 messages acked during 503"
for ((i = 0; i < 30; i++)); do # until ferry has tried the exchange (and got its 503)
  n503=$(ctl /control/stats GET | jq -r '.byStatus["503"] // 0')
  ((n503 > 0)) && break
  sleep 0.5
done
((n503 > 0)) || die "A: ferry did not try the exchange during the outage"
[ "$(delivered A)" = 0 ] || die "A: resources arrived although the exchange answered 503"
while (($(date +%s) - t0 < OUTAGE_S)); do sleep 1; done
n503=$(ctl /control/stats GET | jq -r '.byStatus["503"] // 0')
log "A: ${OUTAGE_S}s of 503 (Retry-After: $RA) drew $n503 attempts; restoring"
# Honouring Retry-After, each worker tries at most about once per RA seconds; ignoring it (backoff
# capped at max_interval 2s) would take well over twice as many.
limit=$((WORKERS * (OUTAGE_S / RA + 2)))
((n503 <= limit)) || die "A: $n503 attempts in ${OUTAGE_S}s: Retry-After: $RA not honoured (limit $limit)"
ctl /control/ok >/dev/null
node "$here/check-exchange.mjs" --control "$EX_CTL" --acked "$WORK/acked-A.txt" --obx 2 --wait-s 120 ||
  die "A: queue did not drain after the 503 outage"

# --- B: exchange process down ---
stop_pid "$EX_PID" TERM
log "B: exchange stopped"
tries0=$(attempts "$STATUS")
send B 20
log "B: 20 messages acked while the exchange was down"
wait_attempts "$STATUS" $((tries0 + 4)) 60 # ferry found the exchange down, more than once
[ "$(metric "$STATUS" ferry_dead_letters)" = 0 ] || die "B: the exchange being down dead-lettered bundles"
start_exchange "$WORK/ex" "$EXPORT" "$WORK/ex/state.json"
log "B: exchange restarted on the same port"
cat "$WORK/acked-A.txt" "$WORK/acked-B.txt" >"$WORK/acked-AB.txt"
node "$here/check-exchange.mjs" --control "$EX_CTL" --acked "$WORK/acked-AB.txt" --obx 2 --wait-s 120 ||
  die "B: queue did not drain after the exchange came back"

# --- C: stored, but the answer is lost ---
ctl "/control/fail?status=503&retry_after=1&count=5&when=after" >/dev/null
send C 10
cat "$WORK/acked-A.txt" "$WORK/acked-B.txt" "$WORK/acked-C.txt" >"$WORK/acked-all.txt"
node "$here/check-exchange.mjs" --control "$EX_CTL" --acked "$WORK/acked-all.txt" --obx 2 --wait-s 120 ||
  die "C: lost answers led to missing or duplicated resources"
injected=$(ctl /control/stats GET | jq -r .injected)
# the exchange's counters started again with it in B: all 5 lost answers are C's, else C tested nothing
[ "$injected" = 5 ] || die "C: $injected answers lost after storing, want the 5 injected: the lost-answer case was not exercised"
log "C: $injected answers lost after storing; no duplicates"
assert_drained "$STATUS"

# --- D: a permanent refusal (400) is dead-lettered, not retried forever, and does not block the rest ---
before=$(ctl /control/stats GET | jq -r '.byStatus["400"] // 0')
ctl "/control/fail?status=400&count=1" >/dev/null
send D 1
for ((i = 0; i < 30; i++)); do
  [ "$(metric "$STATUS" ferry_dead_letters)" = 1 ] && break
  sleep 1
done
[ "$(metric "$STATUS" ferry_dead_letters)" = 1 ] || die "D: a 400 answer was not dead-lettered"
# The dead letter keeps the exchange's whole OperationOutcome (not only the reason's extract), and
# `ferry queue show` prints it beside the running gateway.
dead_id=$("$FERRY" queue list --config "$WORK/ferry.yaml" | awk 'NR==2{print $1}')
[ -n "$dead_id" ] || die "D: ferry queue list shows no dead letter"
"$FERRY" queue show "$dead_id" --config "$WORK/ferry.yaml" >"$WORK/dead-D.txt" || die "D: ferry queue show $dead_id failed"
sed -n "/^exchange's answer/,\$p" "$WORK/dead-D.txt" >"$WORK/dead-D-answer.txt"
grep -q '"resourceType": "OperationOutcome"' "$WORK/dead-D-answer.txt" && grep -q 'injected failure 400' "$WORK/dead-D-answer.txt" ||
  { cat "$WORK/dead-D.txt"; die "D: ferry queue show does not print the exchange's OperationOutcome with the injected failure"; }
send E 5
node "$here/check-exchange.mjs" --control "$EX_CTL" --acked "$WORK/acked-E.txt" --obx 2 --wait-s 60 >/dev/null ||
  die "D: messages after a dead-lettered one were not delivered"
n400=$(( $(ctl /control/stats GET | jq -r '.byStatus["400"] // 0') - before ))
((n400 == 1)) || die "D: the refused bundle was sent $n400 times (want 1: 4xx is permanent)"
[ "$(delivered D)" = 0 ] || die "D: refused bundle arrived anyway"
log "D: 400 dead-lettered after 1 attempt with its OperationOutcome; later messages delivered"

# --- F: backup and restore with bundles still queued ---
# The backup is taken of the running gateway while a sender (G) goes on: every message acknowledged
# before `ferry backup` started must be in it.
stop_pid "$EX_PID" TERM
send F 15
node "$here/load-send.mjs" --port "$MLLP" --count 100000 --conns 2 --obx 2 --prefix G --acked "$WORK/acked-G.txt" \
  --stop-file "$WORK/stop-G" --deadline-s 120 --ack-timeout-ms 10000 >"$WORK/load-G.log" 2>&1 &
sender=$!
until [ -f "$WORK/acked-G.txt" ] && [ "$(wc -l <"$WORK/acked-G.txt")" -ge 200 ]; do
  kill -0 "$sender" 2>/dev/null || { cat "$WORK/load-G.log"; die "F: the sender G stopped"; }
  sleep 0.2
done
cp "$WORK/acked-G.txt" "$WORK/acked-G-before.txt"
"$FERRY" backup "$WORK/backup.tar.gz" --config "$WORK/ferry.yaml" >"$WORK/backup.txt" 2>&1 ||
  { cat "$WORK/backup.txt"; die "F: ferry backup of the running gateway failed"; }
grep -q "taken from the running gateway" "$WORK/backup.txt" || { cat "$WORK/backup.txt"; die "F: the backup does not say it was taken live"; }
cp "$WORK/acked-G.txt" "$WORK/acked-G-backup.txt" # acknowledged by the time the backup was written
touch "$WORK/stop-G"
wait "$sender" || { cat "$WORK/load-G.log"; die "F: the sender G failed beside the backup"; }
[ ! -e "$WORK/data/.backup-snapshot" ] || die "F: the backup's snapshot was left in the data folder"
log "F: $(head -2 "$WORK/backup.txt" | tr -s ' ' | paste -sd ' ') ($(wc -l <"$WORK/acked-G-before.txt") of G acknowledged before it, $(wc -l <"$WORK/acked-G-backup.txt") by its end, $(wc -l <"$WORK/acked-G.txt") in all)"
"$FERRY" restore --check "$WORK/backup.tar.gz" --config "$WORK/ferry.yaml" >"$WORK/check.txt" 2>&1 ||
  { cat "$WORK/check.txt"; die "F: ferry restore --check of the backup failed"; }
grep -q "ok: it restores" "$WORK/check.txt" && grep -q "1 dead letter," "$WORK/check.txt" ||
  { cat "$WORK/check.txt"; die "F: ferry restore --check does not say the backup restores with its dead letter"; }
log "F: restore --check: $(sed -n 2p "$WORK/check.txt" | sed 's/^ *//')"
stop_pid "$FERRY_PID" TERM
mv "$WORK/data" "$WORK/data.lost"
"$FERRY" restore "$WORK/backup.tar.gz" --write-config "$WORK/restored/ferry.yaml" >"$WORK/restore.txt" ||
  { cat "$WORK/restore.txt"; die "F: ferry restore failed"; }
cmp -s "$WORK/ferry.yaml" "$WORK/restored/ferry.yaml" || die "F: the restored configuration differs"
[ "$(cat "$WORK/data/site-id")" = "$(cat "$WORK/data.lost/site-id")" ] || die "F: the site id was not restored"
start_exchange "$WORK/ex" "$EXPORT" "$WORK/ex/state.json"
start_ferry "$WORK/restored/ferry.yaml" "$WORK/ferry-restored.log" "$MLLP"
cat "$WORK/acked-F.txt" "$WORK/acked-G-before.txt" >"$WORK/acked-FG.txt"
node "$here/check-exchange.mjs" --control "$EX_CTL" --acked "$WORK/acked-FG.txt" --obx 2 --wait-s 180 ||
  die "F: the restored gateway did not deliver, once each, every message acknowledged before the backup"
[ "$(metric "$STATUS" ferry_dead_letters)" = 1 ] || die "F: the dead letter of D was not restored"
g_delivered=$(delivered G)
log "F: 15 messages queued while the exchange was down, and $(wc -l <"$WORK/acked-G-before.txt") more acknowledged before a live backup, restored into a new data folder, delivered once ($g_delivered of G in all, up to the backup's moment); the dead letter kept"
log "PASS"
