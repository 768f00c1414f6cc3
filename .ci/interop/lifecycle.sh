#!/usr/bin/env bash
# lifecycle.sh: what `ferry run` must remember across restarts, proven end to end with real parts
# (called by interop.sh; runs alone too with FERRY, CI_DIR and PKI set as .ci/run sets them).
#
# 1. Patient merges (data_dir/merges.log): node-hl7-client sends an A01 for MRN A, an A01 for MRN B
#    and an ADT^A40 merging A into B; ferry is killed with SIGKILL right after the A40's ACK. The
#    restarted gateway gets an ORU^R01 under the retired MRN A (mllp_send), is stopped cleanly and
#    started again, and gets a second ORU under A (node-hl7-client). At the exchange every
#    Observation and report of both ORUs is B's, A's Patient stays active=false with its replaced-by
#    link to B, and B is one Patient.
# 2. Document versions (data_dir/replaced.log): a C-CDA version 2 that replaces version 1
#    (relatedDocument RPLC, same setId) is dropped into the EHR folder and delivered, and so is an
#    MDM^T10 (TXA-12 new version, TXA-13 the one it replaces) over MLLP; after the restart the
#    replaced versions arrive late (version 1 dropped into the folder, an MDM^T02 of the old
#    version, and an HL7 batch file holding a T10 and then the T02 it replaces): the exchange holds
#    each old version `superseded` and exactly one `current` version.
# 3. The merge turned round: an A40 merging B back into A, then an ORU under B, which is A's.
set -euo pipefail
SUITE=${SUITE:-lifecycle}
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-lifecycle.XXXXXX)}
mkdir -p "$WORK"
trap cleanup EXIT
msgs=$here/messages
root=$(cd "$CI_DIR/.." && pwd)

start_exchange "$WORK/ex"
M=$(freeport)
S=$(freeport)
mkdir -p "$WORK/ehr-in"
write_config "$WORK/ferry-base.yaml" "$WORK/data" "$M" "$S"
printf '  folders:\n    - {name: ehr, kind: ehr, path: %s}\n' "$WORK/ehr-in" >"$WORK/ehr-src.yaml"
awk -v f="$WORK/ehr-src.yaml" '{print} /^      idle_timeout: /{while ((getline l < f) > 0) print l}' "$WORK/ferry-base.yaml" >"$WORK/ferry.yaml"
grep -q "path: $WORK/ehr-in" "$WORK/ferry.yaml" || die "the EHR folder did not go into the config"
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$M"

# --- messages: realistic HL7 v2.5.1, made from the suite's own templates -------------------------
A=LC-MRN-A
B=LC-MRN-B
sed "s/CI-MRN-1001/$A/; s/|CI-ADT-0001|/|LC-ADT-A|/; s/CI-VISIT-1001/LC-VISIT-A/" "$msgs/adt_a01.hl7" >"$WORK/a01-a.hl7"
sed "s/CI-MRN-1001^^^HOSP^MR||Tester^Ada^Maria||19800214/$B^^^HOSP^MR||Tester^Ada^Marie||19800214/; s/|CI-ADT-0001|/|LC-ADT-B|/; s/CI-VISIT-1001/LC-VISIT-B/" \
  "$msgs/adt_a01.hl7" >"$WORK/a01-b.hl7"
# ADT^A40 (message structure ADT_A39): PID is the survivor B, MRG-1 the retired A.
cat >"$WORK/a40.hl7" <<EOF
MSH|^~\&|CLINIC_EHR|NORTHCLINIC|FERRY|HIE|20261125120000||ADT^A40^ADT_A39|LC-A40-1|P|2.5.1||||||UNICODE UTF-8
EVN|A40|20261125120000|||1234^Welby^Marcus
PID|1||$B^^^HOSP^MR||Tester^Ada^Marie||19800214|F|||12 Harbour Rd^^Portsmouth^^PO1 2AB^GBR
MRG|$A^^^HOSP^MR||||LC-VISIT-A^^^HOSP^VN||Tester^Ada^Maria
EOF
# lab results that still name the retired MRN (a lab that missed the merge): ORDER CONTROL_ID
oru_a() {
  sed "s/CI-MRN-1002^^^HOSP^MR||Sample^Bert||19650703|M/$A^^^HOSP^MR||Tester^Ada^Maria||19800214|F/; s/|CI-ORU-0001|/|$2|/; s/CI-ORD-77/LC-ORD-$1/; s/CI-FIL-77/LC-FIL-$1/" \
    "$msgs/oru_r01.hl7"
}
oru_a 1 LC-ORU-1 >"$WORK/oru-1.hl7"
# the second is the next day's panel (other values and times: another fact, not a resend)
oru_a 2 LC-ORU-2 | sed 's/||95|/||98|/; s/||1.1|/||0.9|/; s/20261125/20261126/g' >"$WORK/oru-2.hl7"
grep -q "$A^^^HOSP" "$WORK/oru-1.hl7" || die "ORU template did not take the retired MRN"
# MDM: T10 (new version LC-NOTE-2 replaces LC-NOTE-1, TXA-12/TXA-13), later the T02 of LC-NOTE-1.
mdm() { # TRIGGER CONTROL_ID TXA-12 TXA-13 TEXT
  cat <<EOF
MSH|^~\&|TRANSCR|NORTHCLINIC|FERRY|HIE|20261125130000||MDM^$1^MDM_T02|$2|P|2.5.1||||||UNICODE UTF-8
EVN|$1|20261125130000
PID|1||LC-MRN-N^^^HOSP^MR||Notes^Nina||19700101|F
PV1|1|O|CLINIC1||||||||||||||||LC-VISIT-N^^^HOSP^VN
TXA|1|CN^Consultation^HL70270|TX|20261125120000|1234^Welby^Marcus|20261125125000||||||$3^NORTHCLINIC|$4||||AU||AV
OBX|1|TX|11488-4^Consult note^LN||$5||||||F
EOF
}
mdm T10 LC-MDM-T10 LC-NOTE-2 LC-NOTE-1^NORTHCLINIC "Consult note, corrected: metformin 500 mg twice daily." >"$WORK/mdm-t10.hl7"
mdm T02 LC-MDM-T02 LC-NOTE-1 "" "Consult note: metformin 500 mg daily." >"$WORK/mdm-t02.hl7"
# One HL7 batch file (FHS/BHS) of another patient holding a T10 (LC-NOTE-B2 replaces LC-NOTE-B1) and,
# after it in the file, the T02 of LC-NOTE-B1: one input, so the T02 is converted before the file's
# T10 is recorded, and must still be superseded.
{
  printf 'FHS|^~\\&|TRANSCR|NORTHCLINIC|FERRY|HIE|20261125130000\nBHS|^~\\&|TRANSCR|NORTHCLINIC|FERRY|HIE|20261125130000\n'
  mdm T10 LC-MDM-BT10 LC-NOTE-B2 LC-NOTE-B1^NORTHCLINIC "Consult note, corrected: lisinopril 10 mg daily."
  mdm T02 LC-MDM-BT02 LC-NOTE-B1 "" "Consult note: lisinopril 5 mg daily."
  printf 'BTS|2\nFTS|1\n'
} | sed 's/LC-MRN-N^/LC-MRN-BF^/; s/LC-VISIT-N^/LC-VISIT-BF^/' | tr '\n' '\r' >"$WORK/mdm-batch.hl7"
grep -c 'LC-MRN-BF^' "$WORK/mdm-batch.hl7" | grep -qx 1 || die "MDM batch file not built"

# C-CDA versions 1 and 2 of one document (setId LC-SET-1) from the problem-list fixture: v2 replaces
# v1 (relatedDocument RPLC naming v1's id, setId and version).
python3 - "$root/testdata/convert/ccda-problem/input.xml" "$WORK/ccda-v1.xml" "$WORK/ccda-v2.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
src, v1, v2 = sys.argv[1:4]
doc = open(src, encoding="utf-8").read()
root = "2.16.840.1.113883.19.5.99999.1"
def version(n, replaces=None):
    d = doc.replace(f'<id root="{root}" extension="PRB1"/>', f'<id root="{root}" extension="LC-DOC-{n}"/>', 1)
    d = d.replace('extension="MRN-PRB1"', 'extension="LC-MRN-DOC"')
    d = d.replace('<languageCode code="en-US"/>', f'<languageCode code="en-US"/>\n  <setId root="{root}" extension="LC-SET-1"/>\n  <versionNumber value="{n}"/>', 1)
    if replaces:
        d = d.replace('<component>', f'<relatedDocument typeCode="RPLC">\n    <parentDocument>\n      <id root="{root}" extension="LC-DOC-{replaces}"/>\n'
                      f'      <setId root="{root}" extension="LC-SET-1"/>\n      <versionNumber value="{replaces}"/>\n    </parentDocument>\n  </relatedDocument>\n  <component>', 1)
    ET.fromstring(d.encode())  # well-formed
    assert f'extension="LC-DOC-{n}"' in d and "LC-SET-1" in d and "LC-MRN-DOC" in d
    return d
open(v1, "w", encoding="utf-8").write(version(1))
open(v2, "w", encoding="utf-8").write(version(2, replaces=1))
PY
grep -q 'typeCode="RPLC"' "$WORK/ccda-v2.xml" || die "C-CDA v2 has no RPLC"
drop() { cp "$1" "$WORK/ehr-in/.$2.tmp" && mv "$WORK/ehr-in/.$2.tmp" "$WORK/ehr-in/$2"; } # FILE NAME: atomic, as an EHR export writes
pt_id() { fhir_get "Patient?identifier=$1" | jq -r '.entry[0].resource.id // empty'; } # SYSTEM|VALUE
CCDA_SYS=urn:oid:2.16.840.1.113883.19.5.99999.2

# --- 1. A01 A, A01 B, A40 A into B; SIGKILL right after the A40's ACK ----------------------------
out=$(node "$here/send-hl7.mjs" --port "$M" --expect AA "$WORK/a01-a.hl7" "$WORK/a01-b.hl7") || die "A01s not accepted: $out"
wait_total "Patient?identifier=$HOSP_SYSTEM|$A" 1 60 || die "A's A01 not delivered"
wait_total "Patient?identifier=$HOSP_SYSTEM|$B" 1 60 || die "B's A01 not delivered"
PA=$(pt_id "$HOSP_SYSTEM|$A")
PB=$(pt_id "$HOSP_SYSTEM|$B")
out=$(node "$here/send-hl7.mjs" --port "$M" --expect AA "$WORK/a40.hl7") || die "A40 not accepted: $out"
stop_pid "$FERRY_PID" KILL
log "A01 for A (Patient/$PA) and B (Patient/$PB) delivered, A40 acknowledged, ferry killed (SIGKILL) right after the ACK"

# --- 2. restarted: ORU under A (mllp_send), the T10, C-CDA v2 --------------------------------------
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$M"
msa() { tr '\r\013\034' '\n\n\n' | awk -F'|' '$1=="MSA"{print $2; exit}'; }
code=$(mllp_send --loose -p "$M" --file "$WORK/oru-1.hl7" 127.0.0.1 | msa)
[ "$code" = AA ] || die "mllp_send ORU under the retired MRN: got '$code', want AA"
out=$(node "$here/send-hl7.mjs" --port "$M" --expect AA "$WORK/mdm-t10.hl7") || die "MDM T10 not accepted: $out"
drop "$WORK/ccda-v2.xml" ccda-v2.xml
# docs PATIENT_ID: "masterIdentifier status" of the patient's DocumentReferences, sorted
docs() { fhir_get "DocumentReference?subject=Patient/$1&_count=50" | jq -r '[.entry[]?.resource | "\(.masterIdentifier.value) \(.status)"] | sort | join(",")'; }
wait_docs() { # SYSTEM|MRN WANT [SECONDS]: until the patient of MRN has exactly the DocumentReferences WANT
  local i got="" p=""
  for ((i = 0; i < ${3:-60}; i++)); do
    p=$(pt_id "$1" 2>/dev/null || true)
    [ -n "$p" ] && got=$(docs "$p" 2>/dev/null || true)
    [ "$got" = "$2" ] && return 0
    sleep 1
  done
  log "DocumentReferences of $1 (Patient/${p:-none}): '$got', want '$2'"
  return 1
}
wait_docs "$CCDA_SYS|LC-MRN-DOC" "LC-DOC-2 current" || die "C-CDA v2 not delivered"
wait_docs "$HOSP_SYSTEM|LC-MRN-N" "LC-NOTE-2 current" || die "MDM T10 not delivered"
assert_drained "$S"

# --- 3. a clean stop and start; the late versions and a second ORU under A ------------------------
stop_pid "$FERRY_PID" TERM
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$M"
out=$(node "$here/send-hl7.mjs" --port "$M" --expect AA "$WORK/oru-2.hl7" "$WORK/mdm-t02.hl7") || die "ORU 2 / MDM T02 not accepted: $out"
drop "$WORK/ccda-v1.xml" ccda-v1.xml
drop "$WORK/mdm-batch.hl7" mdm-batch.hl7
for ((i = 0; i < 60; i++)); do ls "$WORK"/ehr-in/.ferry/done/*/ccda-v1.xml >/dev/null 2>&1 && break; sleep 1; done
ls "$WORK"/ehr-in/.ferry/done/*/ccda-v1.xml >/dev/null 2>&1 || die "C-CDA v1 not settled ($(ls -R "$WORK/ehr-in/.ferry" 2>&1 | head))"
assert_drained "$S"

# --- assertions: all of them, so that one broken registry does not hide the other ----------------
failures=0
fail() { log "FAIL: $*"; failures=$((failures + 1)); }
# merges: both ORUs are B's; A is retired, linked to B; one Patient each (all delivered by now)
f0=$failures
wait_total "Observation?subject=Patient/$PB" 4 10 ||
  fail "the results sent under the retired MRN are not all B's: $(fhir_get "Observation?subject=Patient/$PA" | jq -c '[.entry[]?.resource.identifier[0].value]') on A"
[ "$(fhir_total "Observation?subject=Patient/$PA")" = 0 ] || fail "results under the retired MRN were filed to the retired Patient $PA"
[ "$(fhir_total "DiagnosticReport?subject=Patient/$PB")" = 2 ] || fail "the 2 reports under the retired MRN are not B's"
[ "$(fhir_total "Patient?identifier=$HOSP_SYSTEM|$B")" = 1 ] || fail "B is not exactly one Patient"
[ "$(fhir_total "Patient?identifier=$HOSP_SYSTEM|$A")" = 1 ] || fail "A is not exactly one Patient"
pa=$(fhir_get "Patient/$PA")
jq -e '.active == false' <<<"$pa" >/dev/null || fail "the retired Patient was written again (active is not false): $(jq -c '{active, link}' <<<"$pa")"
jq -e --arg b "Patient/$PB" '[.link[]? | select(.type == "replaced-by" and .other.reference == $b)] | length == 1' <<<"$pa" >/dev/null ||
  fail "the retired Patient lost its replaced-by link to Patient/$PB: $(jq -c '{active, link}' <<<"$pa")"
jq -e --arg a "Patient/$PA" '[.link[]? | select(.type == "replaces" and .other.reference == $a)] | length == 1' <<<"$(fhir_get "Patient/$PB")" >/dev/null ||
  fail "the survivor has no replaces link to Patient/$PA"
((failures == f0)) && log "merge: 2 ORUs under the retired MRN (before and after a clean restart, the first after a SIGKILL) filed to Patient/$PB (4 Observations, 2 reports); Patient/$PA active=false, replaced-by Patient/$PB"

# document versions: the late old versions are superseded, one current version each
f0=$failures
wait_docs "$CCDA_SYS|LC-MRN-DOC" "LC-DOC-1 superseded,LC-DOC-2 current" 10 || fail "C-CDA version 1 arriving after its replacement: want superseded, v2 the one current version"
wait_docs "$HOSP_SYSTEM|LC-MRN-N" "LC-NOTE-1 superseded,LC-NOTE-2 current" 10 || fail "MDM T02 of the replaced version: want superseded, the T10's version the one current version"
[ "$(fhir_total "Patient?identifier=$CCDA_SYS|LC-MRN-DOC")" = 1 ] || fail "the two C-CDA versions made two Patients"
wait_docs "$HOSP_SYSTEM|LC-MRN-BF" "LC-NOTE-B1 superseded,LC-NOTE-B2 current" 30 || fail "HL7 batch file with a T10 and, after it, the T02 it replaces: want the T02's version superseded, the T10's the one current version"
((failures == f0)) && log "document versions: C-CDA v1 dropped after v2, the MDM T02 after its T10, and the T02 after its T10 in one batch file are superseded; one current version each"

# --- 4. the merge turned round: an A40 merging B back into A (the registrar had the direction
# wrong), then an ORU under B: A is current again, B is retired into A, and the result is A's. The
# results filed to B in between stay B's at the exchange (README "Merges").
f0=$failures
cat >"$WORK/a40-back.hl7" <<EOF
MSH|^~\&|CLINIC_EHR|NORTHCLINIC|FERRY|HIE|20261126120000||ADT^A40^ADT_A39|LC-A40-2|P|2.5.1||||||UNICODE UTF-8
EVN|A40|20261126120000|||1234^Welby^Marcus
PID|1||$A^^^HOSP^MR||Tester^Ada^Maria||19800214|F|||12 Harbour Rd^^Portsmouth^^PO1 2AB^GBR
MRG|$B^^^HOSP^MR||||LC-VISIT-B^^^HOSP^VN||Tester^Ada^Marie
EOF
oru_a 3 LC-ORU-3 | sed "s/$A^^^HOSP/$B^^^HOSP/; s/||95|/||101|/; s/20261125/20261127/g" >"$WORK/oru-3.hl7"
grep -q "$B^^^HOSP" "$WORK/oru-3.hl7" || die "ORU template did not take MRN B"
out=$(node "$here/send-hl7.mjs" --port "$M" --expect AA "$WORK/a40-back.hl7" "$WORK/oru-3.hl7") || fail "A40 turning the merge round / ORU under B not accepted: $out"
assert_drained "$S"
n3=$(grep -c '^OBX' "$WORK/oru-3.hl7")
wait_total "Observation?subject=Patient/$PA" "$n3" 30 || fail "the ORU under B after the merge was turned round is not A's ($(fhir_total "Observation?subject=Patient/$PA") Observations on A, want $n3)"
pa=$(fhir_get "Patient/$PA")
jq -e --arg b "Patient/$PB" '.active != false and ([.link[]? | select(.type == "replaces" and .other.reference == $b)] | length == 1)' <<<"$pa" >/dev/null ||
  fail "A is not current again with a replaces link to Patient/$PB: $(jq -c '{active, link}' <<<"$pa")"
pb=$(fhir_get "Patient/$PB")
jq -e --arg a "Patient/$PA" '.active == false and ([.link[]? | select(.type == "replaced-by" and .other.reference == $a)] | length == 1)' <<<"$pb" >/dev/null ||
  fail "B is not retired into Patient/$PA: $(jq -c '{active, link}' <<<"$pb")"
((failures == f0)) && log "merge turned round: A40 B into A accepted; Patient/$PA current (replaces $PB), Patient/$PB active=false replaced-by $PA; the ORU under B ($n3 Observations) filed to A"

# what the exchange holds, audited as its data-quality engineer would (see audit-exchange.mjs)
# (patient-mismatch: a result under a retired number is on a Patient with none of its PID's numbers
# unless the audit follows the merge, as the exchange's engineer would; replaced-patient-active: A is
# written again)
node "$here/audit-exchange.mjs" --control "$EX_CTL" --show 5 \
  --strict dangling-reference,empty-identifier,no-subject,two-patients,replaced-patient-active,patient-mismatch,duplicate-fact,repeated-identifier,document-binary \
  >"$WORK/audit.log" 2>&1 || fail "exchange audit: $(grep -A3 '^FAIL' "$WORK/audit.log" | head -12)"
log "exchange audit: $(tail -1 "$WORK/audit.log" | sed 's/ {.*}//')"
((failures == 0)) || die "$failures assertion(s) failed"
grep -q "LC-MRN-\|Tester\|Notes\|metformin" "$WORK/ferry.log" && die "ferry log contains PHI (MRN/name/text)"
log "PASS"
