#!/usr/bin/env bash
# foldercrash.sh: `ferry run` watching an EHR drop folder and a fax inbox is killed with SIGKILL at
# random moments (KILLS times, default 12) while files keep arriving, and restarted on the same data
# dir each time. A watched folder's acknowledgement is taking the file away (into the work folder's
# done/ or failed/): that must never happen before what it became is fsynced in the queue.
# Halfway through, encryption at rest is switched on: the faxes, spilled to body files while they
# are converted, are then sealed, with a plaintext backlog still queued.
# Afterwards, once the queue has drained:
#   - no file is left in the watched folders or in processing/: every dropped file is in done/
#     (the good ones, and a re-dropped copy as a duplicate) or in failed/ beside its .error.txt
#     (the bad ones), and nowhere twice;
#   - at the exchange, every good HL7 v2 file's patient exists exactly once, every fax is exactly its
#     two DocumentReferences (the TIFF and its PDF rendition) on its patient's record (found by the
#     MRN in the file name), and no identifier is held twice by any resource type.
set -euo pipefail
SUITE=foldercrash
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-foldercrash.XXXXXX)}
KILLS=${KILLS:-12}
FAX_SYSTEM=urn:oid:1.3.6.1.4.1.21367.13.20.1000
trap cleanup EXIT

start_exchange "$WORK/ex"
MLLP=$(freeport)
STATUS=$(freeport)
DROP=$WORK/drop
FAX=$WORK/fax
mkdir -p "$DROP" "$FAX"
write_config "$WORK/ferry.yaml" "$WORK/data" "$MLLP" "$STATUS" "$EX_URL" \
  "  folders:
    - {name: drop, kind: ehr, path: $DROP, settle: 100ms, rescan: 1s}
    - {name: fax, kind: fax, path: $FAX, settle: 100ms, rescan: 1s, patterns: ['^(?P<doctype>[a-z]+)_(?P<mrn>[0-9]+)']}"
cat >>"$WORK/ferry.yaml" <<EOF
fax:
  source_id: 1.3.6.1.4.1.21367.2026.1
  patient_system: $FAX_SYSTEM
  binary_method: put
EOF
"$FERRY" config check "$WORK/ferry.yaml" >/dev/null || die "the suite's configuration is refused"
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
log "exchange $EX_URL; folders $DROP and $FAX; $KILLS kills"

# The dropper: files appear whole (written under a dot-name, then renamed, as a careful exporter
# does), in bursts every 0.4 s, as an EHR's export job or a fax server's batch would bring them, so
# a kill often finds the gateway in the middle of one. A burst holds 20 HL7 v2 ADT^A01 files, each
# its own patient (MRN-F<n>), and 2 fax images for patients 8000<n>; every other burst a file that
# can never be converted; every third a copy of the first HL7 file under a new name (the same
# content: archived as a duplicate, not sent again).
cat >"$WORK/dropper.sh" <<'EOF'
set -euo pipefail
DROP=$1 FAX=$2 TIF=$3 STOP=$4 LOG=$5
n=0 burst=0
mkdir -p "$DROP/../copies"
while [ ! -e "$STOP" ]; do
  burst=$((burst + 1))
  for ((i = 0; i < 20; i++)); do
    n=$((n + 1))
    id=$(printf 'F%05d' "$n")
    printf 'MSH|^~\\&|EHR|CICLINIC|FERRY|HIE|20261127090000||ADT^A01^ADT_A01|%s|P|2.5.1\rEVN|A01|20261127090000\rPID|1||MRN-%s^^^HOSP^MR||Folder^Patient%s||19800101|U\rPV1|1|O\r' \
      "$id" "$id" "$n" >"$DROP/.$id.tmp"
    if ((n == 1)); then cp "$DROP/.$id.tmp" "$DROP/../copies/first.hl7"; fi
    mv "$DROP/.$id.tmp" "$DROP/$id.hl7"
    echo "good hl7 $id.hl7" >>"$LOG"
    if ((i % 10 == 9)); then
      cp "$TIF" "$FAX/.referral_8000$n.tmp"
      mv "$FAX/.referral_8000$n.tmp" "$FAX/referral_8000$n.tif"
      echo "good fax referral_8000$n.tif" >>"$LOG"
    fi
  done
  if ((burst % 2 == 0)); then
    printf 'not an HL7 message %d\n' "$burst" >"$DROP/.bad$burst.tmp"
    mv "$DROP/.bad$burst.tmp" "$DROP/bad$burst.hl7"
    echo "bad drop bad$burst.hl7" >>"$LOG"
  fi
  if ((burst % 3 == 0)); then
    cp "$DROP/../copies/first.hl7" "$DROP/.again$burst.tmp"
    mv "$DROP/.again$burst.tmp" "$DROP/again$burst.hl7"
    echo "dup hl7 again$burst.hl7" >>"$LOG"
  fi
  sleep 0.4
done
EOF
bash "$WORK/dropper.sh" "$DROP" "$FAX" "$CI_DIR/../testdata/fax/g4-fine-1p.tif" "$WORK/STOP" "$WORK/dropped.txt" \
  >"$WORK/dropper.log" 2>&1 &
DROPPER_PID=$!
PIDS+=("$DROPPER_PID")

# alive_or_die: the gateway must be there to be killed: one that exited by itself (a panic in
# recovery) would otherwise be restarted by the loop below as if the kill had stopped it
alive_or_die() { kill -0 "$FERRY_PID" 2>/dev/null || { tail -30 "$WORK/ferry.log"; die "ferry exited by itself before kill #$((kills + 1))"; }; }
kills=0 caught=0
while ((kills < KILLS)); do
  # every 4th kill hits the gateway while it starts; of the others, half come at a random moment
  # 0.2 .. 2.2 s after it came up, half the moment a file is half taken
  if ((kills % 4 == 3)); then
    "$FERRY" run --config "$WORK/ferry.yaml" >>"$WORK/ferry.log" 2>&1 &
    FERRY_PID=$!
    PIDS+=("$FERRY_PID")
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
  elif ((kills % 2 == 0)); then
    sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"
    sleep 0.2
  else
    # aimed: SIGKILL the moment a file shows in processing/ (claimed, not yet queued), within 3 s
    sleep 0.2
    alive_or_die
    python3 - "$FERRY_PID" "$DROP/.ferry/processing" "$FAX/.ferry/processing" <<'PY' >>"$WORK/aimed.log" || true
import os, signal, sys, time
pid, dirs = int(sys.argv[1]), sys.argv[2:]
end = time.monotonic() + 3
while time.monotonic() < end:
    names = [n for d in dirs if os.path.isdir(d) for n in os.listdir(d)]
    if names:
        os.kill(pid, signal.SIGKILL)
        print("aimed kill with", len(names), "in processing/:", " ".join(sorted(names)))
        break
else:
    print("aimed kill: nothing seen in processing/ within 3 s")
PY
  fi
  kill -0 "$DROPPER_PID" 2>/dev/null || { cat "$WORK/dropper.log"; die "the dropper stopped early"; }
  ((kills % 4 == 1)) || alive_or_die # (an aimed kill has killed it already)
  # what the kill caught half done: files in processing/, claimed but not yet in the queue (or
  # queued but not yet archived), which the next start must take again
  stop_pid "$FERRY_PID" KILL
  held=$(find "$DROP/.ferry/processing" "$FAX/.ferry/processing" -type f 2>/dev/null | wc -l)
  kills=$((kills + 1))
  caught=$((caught + held))
  printf '%s kill -9 #%d (dropped so far: %d; %d in processing/)\n' "$(date +%T)" "$kills" "$(wc -l <"$WORK/dropped.txt")" "$held" >>"$WORK/kills.log"
  if ((kills == KILLS / 2)); then
    switch_encryption_on "$WORK/ferry.yaml" "$WORK/kills.log"
  fi
  if ((kills % 4 != 3)); then
    start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
  fi
done
touch "$WORK/STOP"
wait "$DROPPER_PID" || { cat "$WORK/dropper.log"; die "the dropper failed"; }
# the aimed kills are the point of the suite: if none found a file in processing/ (the folder moved,
# or the claim step changed), every kill was a random one and the window went untested
aimed=$(grep -c '^aimed kill with' "$WORK/aimed.log" || true)
((aimed >= 1)) || { cat "$WORK/aimed.log"; die "no aimed kill found a file in processing/: the claimed-not-queued window was not tested"; }
if ! kill -0 "$FERRY_PID" 2>/dev/null; then start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"; fi

good_hl7=$(grep -c '^good hl7 ' "$WORK/dropped.txt")
good_fax=$(grep -c '^good fax ' "$WORK/dropped.txt" || true)
bad=$(grep -c '^bad ' "$WORK/dropped.txt" || true)
dups=$(grep -c '^dup ' "$WORK/dropped.txt" || true)
total=$(wc -l <"$WORK/dropped.txt")
((good_hl7 >= 100 && good_fax >= 10 && bad >= 3 && dups >= 2)) ||
  die "too little went through the kills: $good_hl7 HL7 files, $good_fax faxes, $bad bad files, $dups re-drops"
log "$kills kills done; $total files dropped ($good_hl7 HL7, $good_fax faxes, $bad bad, $dups re-drops); waiting for every file to be taken"

# every file taken: nothing left in the watched folders or in processing/
for ((i = 0; i < 120; i++)); do
  left=$(find "$DROP" "$FAX" -maxdepth 1 -type f ! -name '.*' | wc -l)
  inproc=$(find "$DROP/.ferry/processing" "$FAX/.ferry/processing" -type f 2>/dev/null | wc -l)
  ((left == 0 && inproc == 0)) && break
  sleep 1
done
((left == 0 && inproc == 0)) || die "files not taken after 120 s: $left in the watched folders, $inproc in processing/"
assert_drained "$STATUS" 300

# every dropped file once in done/ or failed/, as its kind says
while read -r kind what name; do
  dir=$DROP
  [ "$what" = fax ] && dir=$FAX
  in_done=$(find "$dir/.ferry/done" -type f -name "$name" | wc -l)
  in_failed=$(find "$dir/.ferry/failed" -type f -name "$name" | wc -l)
  case $kind in
  good | dup) [ "$in_done" = 1 ] && [ "$in_failed" = 0 ] || die "$name: $in_done in done/, $in_failed in failed/ (want 1, 0)" ;;
  bad)
    [ "$in_done" = 0 ] && [ "$in_failed" = 1 ] || die "$name: $in_done in done/, $in_failed in failed/ (want 0, 1)"
    [ -s "$(find "$dir/.ferry/failed" -type f -name "$name.error.txt" | head -1)" ] || die "$name: no .error.txt beside it in failed/"
    ;;
  esac
done <"$WORK/dropped.txt"
archived=$(find "$DROP/.ferry/done" "$FAX/.ferry/done" -type f | wc -l)
((archived == good_hl7 + good_fax + dups)) || die "$archived files in done/, want $((good_hl7 + good_fax + dups))"
log "every file taken once: $((good_hl7 + good_fax + dups)) in done/, $bad in failed/ with their reasons"

# at the exchange: exactly once in effect, and nothing duplicated
for ((i = 0; i < 120; i++)); do
  ctl /control/dump GET | jq .resources >"$WORK/dump.json"
  pats=$(jq '[.[] | select(.resourceType == "Patient") | .identifier[]? | select(.value | startswith("MRN-F"))] | length' "$WORK/dump.json")
  docs=$(jq '[.[] | select(.resourceType == "DocumentReference")] | length' "$WORK/dump.json")
  ((pats >= good_hl7 && docs >= 2 * good_fax)) && break
  sleep 1
done
jq -e --argjson want "$good_hl7" '
  [.[] | select(.resourceType == "Patient") | .identifier[]? | select(.value | startswith("MRN-F")) | .value]
  | (length == $want) and (unique | length == $want)' "$WORK/dump.json" >/dev/null ||
  die "HL7 patients at the exchange: $pats identifiers MRN-F*, want $good_hl7, each once"
# each fax: its two DocumentReferences (the original TIFF, and the PDF rendition that "transforms"
# it) once each, their subject the Patient holding the MRN of the fax's file name
grep '^good fax ' "$WORK/dropped.txt" | sed -E 's/.*referral_([0-9]+)\.tif/\1/' |
  while read -r m; do printf '%s application/pdf\n%s image/tiff\n' "$m" "$m"; done | sort >"$WORK/fax-mrns.txt"
jq -r --arg sys "$FAX_SYSTEM" '
  (map(select(.resourceType == "Patient")) | map({key: ("Patient/" + .id), value: ([.identifier[]? | select(.system == $sys) | .value][0])}) | from_entries) as $mrn
  | .[] | select(.resourceType == "DocumentReference")
  | "\($mrn[.subject.reference] // "unresolved") \(.content[0].attachment.contentType)"' "$WORK/dump.json" |
  sort >"$WORK/doc-mrns.txt"
diff -u "$WORK/fax-mrns.txt" "$WORK/doc-mrns.txt" >"$WORK/fax-diff.txt" ||
  { head -20 "$WORK/fax-diff.txt"; die "faxes at the exchange differ from those dropped (want each fax's two documents once)"; }
jq -e '[.[] | .resourceType as $t | .identifier[]? | select(.system and .value) | "\($t) \(.system)|\(.value)"] | (length == (unique | length))' \
  "$WORK/dump.json" >/dev/null || die "some identifier is held twice by one resource type at the exchange"
grep -q "data at rest encrypted" "$WORK/ferry.log" || die "the second half did not run with encryption at rest"
if grep -E -m3 '^(panic:|fatal error:)' "$WORK/ferry.log"; then die "ferry panicked (ferry.log)"; fi
log "PASS ($total files through $kills kill -9 ($aimed aimed at a file in processing/), encryption at rest from kill $((KILLS / 2)) on; the kills caught $caught files in processing/: $good_hl7 patients and $good_fax faxes at the exchange once each, $dups re-drops archived as duplicates, $bad bad files in failed/)"
