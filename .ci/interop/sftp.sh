#!/usr/bin/env bash
# sftp.sh: an exchange that takes bundles as files over SFTP. Debian's OpenSSH sshd (its own
# configuration, run from this suite's folder on a free port, internal-sftp, public-key login only) is
# the exchange; ssh-keygen makes its host key and ferry's key, ssh-keyscan writes the known_hosts ferry
# checks it by. `ferry run` with exchange.url sftp://... gets HL7 v2 messages from mllp_send and writes
# each bundle as <id>.json into the drop directory. Then:
#  - every file is a whole FHIR Bundle, no .part file is left, and one patient's files sort in the
#    order the messages were sent;
#  - `ferry doctor` logs in, checks the host key, writes, renames and removes a probe, and finds fsync@openssh.com;
#  - sshd stopped: messages are still acknowledged (queued), nothing is dead-lettered; sshd back: the
#    queue drains;
#  - sshd comes back with another host key (a man in the middle, or an unannounced re-key): ferry
#    sends nothing, dead-letters nothing, and `ferry status` says the host key is not the one
#    known_hosts names; the right key back, the queue drains;
#  - the gateway is killed with SIGKILL three times during bursts of messages: every message that got
#    AA is in the drop directory afterwards, and no .part file is left;
#  - with sftp.format hl7v2, mllp_send's messages are .hl7 files, byte for byte as sent;
#  - a folder with fetch: takes what a cloud EHR left in the server's outbound directory (HL7 v2 files,
#    a C-CDA), converts it, and moves it to ferry-done there; hidden and .part files stay.
set -euo pipefail
SUITE=sftp
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-sftp.XXXXXX)}
SSHD_PID=""
stop_sshd() { # the listener and its sessions (a session outlives its listener otherwise)
  [ -n "$SSHD_PID" ] || return 0
  pkill -KILL -P "$SSHD_PID" 2>/dev/null || true
  kill "$SSHD_PID" 2>/dev/null || true
  wait "$SSHD_PID" 2>/dev/null || true
  SSHD_PID=""
}
trap 'stop_sshd; cleanup' EXIT
msgs=$here/messages
root=$(cd "$here/../.." && pwd)

SSHD=/usr/sbin/sshd
[ -x "$SSHD" ] || die "sshd not installed (Debian openssh-server)"
command -v ssh-keyscan >/dev/null || die "ssh-keyscan not installed (Debian openssh-client)"
# OpenSSH's privilege separation wants its empty directory (the package's service would make it).
[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }

D=$WORK/sshd
DROP=$D/drop/inbound
mkdir -p "$DROP"
chmod 755 "$D" "$D/drop"
ssh-keygen -q -t ed25519 -N '' -C ci-host -f "$D/host_ed25519"
ssh-keygen -q -t ed25519 -N '' -C ci-host-impostor -f "$D/impostor_ed25519"
ssh-keygen -q -t ed25519 -N '' -C ferry -f "$WORK/ferry_ed25519"
cp "$WORK/ferry_ed25519.pub" "$D/authorized_keys"
chmod 600 "$D/authorized_keys"
PORT=$(freeport)
USER_NAME=$(id -un)

start_sshd() { # HOSTKEY
  cat >"$D/sshd_config" <<EOF
Port $PORT
ListenAddress 127.0.0.1
HostKey $1
PidFile $D/sshd.pid
AuthorizedKeysFile $D/authorized_keys
AuthenticationMethods publickey
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
PermitRootLogin prohibit-password
AllowUsers $USER_NAME
Subsystem sftp internal-sftp -l VERBOSE
ForceCommand internal-sftp -l VERBOSE
LogLevel VERBOSE
EOF
  "$SSHD" -D -e -f "$D/sshd_config" 2>>"$WORK/sshd.log" &
  SSHD_PID=$!
  wait_port 127.0.0.1 "$PORT" 20 || { tail -20 "$WORK/sshd.log"; die "sshd did not listen on $PORT"; }
}

start_sshd "$D/host_ed25519"
ssh-keyscan -p "$PORT" -t ed25519 127.0.0.1 >"$WORK/known_hosts" 2>/dev/null
grep -q "^\[127.0.0.1\]:$PORT ssh-ed25519 " "$WORK/known_hosts" || die "ssh-keyscan wrote no host key: $(cat "$WORK/known_hosts")"
log "sshd on 127.0.0.1:$PORT (internal-sftp, public key only); drop directory $DROP"

MLLP=$(freeport)
STATUS=$(freeport)
cat >"$WORK/ferry.yaml" <<EOF
data_dir: $WORK/data
sources:
  mllp:
    - {name: ci, listen: 127.0.0.1:$MLLP}
exchange:
  url: sftp://$USER_NAME@127.0.0.1:$PORT$DROP
  timeout: 5s
  sftp:
    key_file: $WORK/ferry_ed25519
    known_hosts: $WORK/known_hosts
  retry: {initial_interval: 200ms, max_interval: 1s}
identifiers:
  systems:
    HOSP: $HOSP_SYSTEM
status:
  listen: 127.0.0.1:$STATUS
EOF
"$FERRY" config check "$WORK/ferry.yaml" >/dev/null || die "config refused: $("$FERRY" config check "$WORK/ferry.yaml" 2>&1)"
"$FERRY" doctor --config "$WORK/ferry.yaml" >"$WORK/doctor.txt" 2>&1 || true
grep -q '^ok .*exchange .*SSH login ok .*host key as known_hosts names it; a probe file written, renamed and removed$' "$WORK/doctor.txt" ||
  die "ferry doctor: $(grep -i 'exchange' "$WORK/doctor.txt")"
[ -z "$(ls -A "$DROP")" ] || die "ferry doctor left its probe: $(ls -A "$DROP")"
log "ferry doctor: SSH login, host key and a probe file ok; the server offers fsync@openssh.com"

start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
msa() { tr '\r\013\034' '\n\n\n' | awk -F'|' '$1=="MSA"{print $2; exit}'; }
# send N: ADT^A01 then A08 for patient SFTP-N (two bundles of one patient, in order)
send() {
  local n=$1 ev f code
  for ev in A01 A08; do
    f=$WORK/msg-$n-$ev.hl7
    sed -e "s/CI-MRN-1001/CI-MRN-S$n/" -e "s/CI-ADT-0001/CI-SFTP-$n-$ev/" -e "s/ADT^A01^ADT_A01/ADT^$ev^ADT_A01/" -e "s/^EVN|A01|/EVN|$ev|/" \
      "$msgs/adt_a01.hl7" >"$f"
    code=$(mllp_send --loose -p "$MLLP" --file "$f" 127.0.0.1 | msa)
    [ "$code" = AA ] || die "mllp_send $ev for patient $n: got '$code', want AA"
  done
}
# files: the drop directory's bundle count
files() { find "$DROP" -maxdepth 1 -name '*.json' | wc -l; }
wait_files() { # WANT
  local i
  for ((i = 0; i < 60; i++)); do [ "$(files)" -ge "$1" ] && return 0; sleep 0.5; done
  die "the drop directory has $(files) files, want $1 ($(tail -3 "$WORK/ferry.log"))"
}

for n in 1 2 3 4 5; do send $n; done
wait_files 10
assert_drained "$STATUS"
[ "$(files)" = 10 ] || die "$(files) files for 10 messages"
[ -z "$(find "$DROP" -name '.*')" ] || die "files left half-written: $(find "$DROP" -name '.*')"
for f in "$DROP"/*.json; do
  jq -e '.resourceType == "Bundle" and .type == "transaction" and (.entry | length) > 0' "$f" >/dev/null || die "$(basename "$f") is not a whole transaction Bundle"
done
# one patient's two files, by name, in the order sent: the A01's visit first, then the A08's
order=$(for f in $(ls "$DROP"/*.json | sort); do jq -r '[.entry[].resource | select(.resourceType == "MessageHeader") | .eventCoding.code][0] + " " + ([.entry[].resource | select(.resourceType == "Patient") | .identifier[] | select(.value | startswith("CI-MRN-S3")) | .value][0] // "")' "$f"; done | awk '$2 == "CI-MRN-S3" {print $1}' | tr '\n' ' ')
[ "$order" = "A01 A08 " ] || die "patient S3's files sort as '$order', want the A01 then the A08"
log "10 messages from mllp_send: 10 whole Bundles in the drop directory, none half-written, one patient's in the order sent"

# sshd down: messages are still acknowledged once stored, nothing is dead-lettered; back: drained.
stop_sshd
tries0=$(attempts "$STATUS")
for n in 6 7; do send $n; done
wait_attempts "$STATUS" $((tries0 + 2)) 60 # ferry found the server down
[ "$(metric "$STATUS" ferry_queue_depth)" = 4 ] || die "with sshd down the queue holds $(metric "$STATUS" ferry_queue_depth), want 4"
[ "$(metric "$STATUS" ferry_dead_letters)" = 0 ] || die "sshd down dead-lettered bundles"
start_sshd "$D/host_ed25519"
wait_files 14
assert_drained "$STATUS"
log "sshd stopped: 4 bundles queued, none dead-lettered; back: delivered"

# sshd back with another host key: nothing is sent, nothing dead-lettered, status says why.
stop_sshd
start_sshd "$D/impostor_ed25519"
tries0=$(attempts "$STATUS")
send 8
wait_attempts "$STATUS" $((tries0 + 2)) 60 # ferry met the other host key
[ "$(files)" = 14 ] || die "ferry wrote to a server whose host key known_hosts does not name"
[ "$(metric "$STATUS" ferry_dead_letters)" = 0 ] || die "a changed host key dead-lettered bundles"
st=$("$FERRY" status --config "$WORK/ferry.yaml" 2>&1 || true)
grep -q "host key is not the one exchange.sftp.known_hosts names" <<<"$st" || die "ferry status does not name the host key problem: $st"
stop_sshd
start_sshd "$D/host_ed25519"
wait_files 16
assert_drained "$STATUS"
log "a server with another host key got nothing and ferry status named the problem; the right key back, delivered"

# kill -9 while messages arrive and files are written: every message that got AA is in the drop
# directory once the gateway is back (a file written again after a crash replaces its copy).
: >"$WORK/acked"
burst() { # FROM TO: one A01 each, the AA'd control ids appended to $WORK/acked
  local n f code
  for ((n = $1; n <= $2; n++)); do
    f=$WORK/crash-$n.hl7
    sed -e "s/CI-MRN-1001/CI-MRN-K$n/" -e "s/CI-ADT-0001/CI-SFTP-K$n/" "$msgs/adt_a01.hl7" >"$f"
    code=$(timeout 10 mllp_send --loose -p "$MLLP" --file "$f" 127.0.0.1 2>/dev/null | msa || true)
    [ "$code" = AA ] && echo "CI-SFTP-K$n" >>"$WORK/acked"
  done
  return 0
}
for round in 1 2 3; do
  had=$(wc -l <"$WORK/acked")
  burst $((round * 100)) $((round * 100 + 14)) &
  bp=$!
  # the kill comes once this burst has had 4 AAs (a fixed sleep let too few through on a busy machine),
  # at a random moment up to 0.3 s later, while the burst goes on
  for ((i = 0; i < 200; i++)); do
    (($(wc -l <"$WORK/acked") >= had + 4)) && break
    kill -0 "$bp" 2>/dev/null || die "round $round: the burst ended with $(($(wc -l <"$WORK/acked") - had)) AA before the kill"
    sleep 0.1
  done
  sleep 0.$((RANDOM % 3))$((RANDOM % 10))
  kill -9 "$FERRY_PID"
  wait "$FERRY_PID" 2>/dev/null || true
  wait "$bp"
  start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
done
assert_drained "$STATUS"
acked=$(sort -u "$WORK/acked" | wc -l)
((acked >= 10)) || die "only $acked messages got AA across the kills"
cat "$DROP"/*.json | jq -r '.identifier.value' | sort >"$WORK/delivered-all"
# a bundle written again after a crash replaces its own file: two files for one message are a duplicate
twice=$(uniq -d "$WORK/delivered-all")
[ -z "$twice" ] || die "bundles in the drop directory more than once after kill -9: $twice"
uniq "$WORK/delivered-all" >"$WORK/delivered"
missing=$(sort -u "$WORK/acked" | comm -23 - "$WORK/delivered")
[ -z "$missing" ] || die "acknowledged but not in the drop directory after kill -9: $missing"
[ -z "$(find "$DROP" -name '.*')" ] || die "files left half-written after kill -9: $(find "$DROP" -name '.*')"
log "kill -9 three times during bursts: all $acked acknowledged messages are in the drop directory, none half-written"
stop_pid "$FERRY_PID" TERM

# sftp.format hl7v2: an exchange that collects HL7 v2 files (an immunization registry, a state's lab
# reporting) gets each message as it was received, as <id>.hl7 with CR-ended segments.
V2DROP=$D/drop/v2
mkdir -p "$V2DROP"
M3=$(freeport)
S3=$(freeport)
cat >"$WORK/ferry-v2.yaml" <<EOF
data_dir: $WORK/data-v2
sources:
  mllp:
    - {name: ci, listen: 127.0.0.1:$M3}
exchange:
  url: sftp://$USER_NAME@127.0.0.1:$PORT$V2DROP
  sftp:
    key_file: $WORK/ferry_ed25519
    known_hosts: $WORK/known_hosts
    format: hl7v2
  retry: {initial_interval: 200ms, max_interval: 1s}
status:
  listen: 127.0.0.1:$S3
EOF
start_ferry "$WORK/ferry-v2.yaml" "$WORK/ferry-v2.log" "$M3"
for f in adt_a01 oru_r01; do
  code=$(mllp_send --loose -p "$M3" --file "$msgs/$f.hl7" 127.0.0.1 | msa)
  [ "$code" = AA ] || die "hl7v2 format: mllp_send $f got '$code'"
done
for ((i = 0; i < 60; i++)); do [ "$(find "$V2DROP" -name '*.hl7' | wc -l)" -ge 2 ] && break; sleep 0.5; done
assert_drained "$S3"
[ "$(find "$V2DROP" -name '*.hl7' | wc -l)" = 2 ] && [ -z "$(find "$V2DROP" -name '*.json' -o -name '.*')" ] || die "hl7v2 format: the drop directory holds $(ls -A "$V2DROP")"
for f in adt_a01 oru_r01; do
  ctl=$(awk -F'|' 'NR == 1 {print $10}' "$msgs/$f.hl7")
  got=$(grep -l "|$ctl|" "$V2DROP"/*.hl7) || die "hl7v2 format: no file holds $f ($ctl)"
  cmp -s <(tr '\n' '\r' <"$msgs/$f.hl7" | sed 's/\r*$//') <(sed 's/\r*$//' "$got") ||
    die "hl7v2 format: $(basename "$got") is not $f.hl7 as sent (segments ended by CR): $(od -c "$got" | head -3)"
done
stop_pid "$FERRY_PID" TERM
log "sftp.format hl7v2: mllp_send's ADT and ORU are in the drop directory as .hl7 files, byte for byte as sent (segments ended by CR)"

# A folder that fetches from the same server (sources.folders[].fetch): a cloud EHR's exports left in
# its outbound directory. The files come into the ehr folder once a listing sees them unchanged, the
# folder converts them (bundles to the outbox: this gateway has no exchange), and on the server they
# move to ferry-done; hidden and .part files stay. ferry doctor lists the directory; ferry status
# counts the files.
OUT=$D/ehr/outbound
mkdir -p "$OUT" "$WORK/ehr-in"
chmod 755 "$D/ehr"
M2=$(freeport)
S2=$(freeport)
cat >"$WORK/fetch.yaml" <<EOF
data_dir: $WORK/data-fetch
sources:
  mllp:
    - {name: ci, listen: 127.0.0.1:$M2}
  folders:
    - name: ehr
      kind: ehr
      path: $WORK/ehr-in
      fetch:
        url: sftp://$USER_NAME@127.0.0.1:$PORT$OUT
        key_file: $WORK/ferry_ed25519
        known_hosts: $WORK/known_hosts
        poll: 1s
identifiers:
  systems:
    HOSP: $HOSP_SYSTEM
status:
  listen: 127.0.0.1:$S2
EOF
for n in 1 2 3; do
  sed -e "s/CI-MRN-1001/CI-MRN-F$n/" -e "s/CI-ADT-0001/CI-FETCH-$n/" "$msgs/adt_a01.hl7" >"$OUT/adt-$n.hl7"
done
cp "$root/testdata/convert/ccda-allergy/input.xml" "$OUT/ccd-allergy.xml"
printf 'x' >"$OUT/.upload-in-progress"
printf 'x' >"$OUT/export.zip.part"
"$FERRY" config check "$WORK/fetch.yaml" >/dev/null || die "fetch config refused: $("$FERRY" config check "$WORK/fetch.yaml" 2>&1)"
"$FERRY" doctor --config "$WORK/fetch.yaml" >"$WORK/doctor-fetch.txt" 2>&1 || true
grep -q 'sources.folders\[0\].fetch ehr: SSH login ok, host key as known_hosts names it; 4 file(s) wait to be fetched' "$WORK/doctor-fetch.txt" ||
  die "ferry doctor (fetch): $(grep -i fetch "$WORK/doctor-fetch.txt")"
[ "$(ls -A "$OUT" | wc -l)" = 6 ] || die "ferry doctor took files: $(ls -A "$OUT")"
start_ferry "$WORK/fetch.yaml" "$WORK/ferry-fetch.log" "$M2"
for ((i = 0; i < 60; i++)); do
  [ "$(find "$WORK/data-fetch/outbox" -name '*.json' 2>/dev/null | wc -l)" -ge 4 ] && [ "$(ls "$OUT/ferry-done" 2>/dev/null | wc -l)" = 4 ] && break
  sleep 0.5
done
[ "$(ls "$OUT/ferry-done" 2>/dev/null | wc -l)" = 4 ] || die "the server's ferry-done holds $(ls "$OUT/ferry-done" 2>/dev/null | wc -l) files, want 4 ($(tail -3 "$WORK/ferry-fetch.log"))"
[ "$(ls -A "$OUT" | sort | tr '\n' ' ')" = ".upload-in-progress export.zip.part ferry-done " ] || die "the server's outbound holds: $(ls -A "$OUT")"
bundles=$(find "$WORK/data-fetch/outbox" -name '*.json' | wc -l)
((bundles >= 4)) || die "the outbox holds $bundles bundles for 4 fetched files"
for n in 1 2 3; do
  grep -lq "CI-FETCH-$n" "$WORK"/data-fetch/outbox/*.json || die "no bundle for the fetched adt-$n.hl7"
done
grep -q 'fetch ehr:.*from sftp://127.0.0.1:'"$PORT"'.*: 4 files fetched since start' <<<"$("$FERRY" status --config "$WORK/fetch.yaml")" ||
  die "ferry status does not count the fetch: $("$FERRY" status --config "$WORK/fetch.yaml")"
[ "$(curl -sS "http://127.0.0.1:$S2/metrics" | awk '$1 == "ferry_fetch_files_total{folder=\"ehr\"}" {print $2}')" = 4 ] || die "ferry_fetch_files_total is not 4"
grep -q '<tr><td>ehr</td><td>sftp://127.0.0.1:'"$PORT"'.*</td><td>4</td>' <<<"$(curl -sS "http://127.0.0.1:$S2/")" || die "the status page does not list the fetch"
stop_pid "$FERRY_PID" TERM
log "fetch: 3 HL7 v2 files and a C-CDA left on the SFTP server came into the ehr folder, were converted ($bundles bundles), and moved to ferry-done there; hidden and .part files stayed"
grep -q "CI-MRN-\|Tester\|Harbour" "$WORK/ferry.log" "$WORK/ferry-v2.log" "$WORK/ferry-fetch.log" && die "ferry log contains PHI"
log "PASS"
