#!/usr/bin/env bash
# interop.sh: independent HL7 v2 senders (Debian python3-hl7's mllp_send, npm node-hl7-client) talk to
# `ferry run`; ferry delivers to the Medplum stand-in exchange over mutual TLS; the resources are read
# back from the exchange with curl over mutual TLS.
set -euo pipefail
SUITE=interop
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-interop.XXXXXX)}
trap cleanup EXIT
msgs=$here/messages

start_exchange "$WORK/ex"
log "exchange at $EX_URL"

# The stand-in itself must refuse clients without a certificate from our CA.
if curl -sS -o /dev/null --cacert "$PKI/ca.pem" "$EX_URL/Patient" 2>/dev/null; then die "exchange accepted a client without a certificate"; fi
if curl -sS -o /dev/null --cacert "$PKI/ca.pem" --cert "$PKI/rogue-client.pem" --key "$PKI/rogue-client.key" "$EX_URL/Patient" 2>/dev/null; then
  die "exchange accepted a client certificate from another CA"
fi

MLLP=$(freeport)
STATUS=$(freeport)
write_config "$WORK/ferry.yaml" "$WORK/data" "$MLLP" "$STATUS"
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"
log "ferry listening on 127.0.0.1:$MLLP"

# msa FILE-OF-ACK prints MSA-1 of an ACK printed by mllp_send (CR-separated, maybe MLLP-framed).
msa() { tr '\r\013\034' '\n\n\n' | awk -F'|' '$1=="MSA"{print $2; exit}'; }

# 1. mllp_send with a plain (LF-ended) file needs --loose: without it the file must already be framed.
code=$(mllp_send --loose -p "$MLLP" --file "$msgs/adt_a01.hl7" 127.0.0.1 | msa)
[ "$code" = AA ] || die "mllp_send adt_a01: got '$code', want AA"
log "mllp_send --loose adt_a01.hl7 -> $code"

# 2. mllp_send with an MLLP-framed file (no --loose): the A08 update for the same patient.
framed=$WORK/adt_a08.mllp
{ printf '\013'; tr '\n' '\r' <"$msgs/adt_a08.hl7"; printf '\034\r'; } >"$framed"
code=$(mllp_send -p "$MLLP" --file "$framed" 127.0.0.1 | msa)
[ "$code" = AA ] || die "mllp_send framed adt_a08: got '$code', want AA"
log "mllp_send framed adt_a08 -> $code"

# 3. node-hl7-client: the lab result.
out=$(node "$here/send-hl7.mjs" --port "$MLLP" --expect AA "$msgs/oru_r01.hl7") || die "node-hl7-client oru_r01: $out"
log "node-hl7-client: $out"

# 3b. Enhanced acknowledgement mode (MSH-15 AL, MSH-16 NE): the commit ACK is CA.
sed 's/|CI-ORU-0001|P|2.5.1|||||/|CI-ORU-0002|P|2.5.1|||AL|NE|/' "$msgs/oru_r01.hl7" >"$WORK/oru_enhanced.hl7"
out=$(node "$here/send-hl7.mjs" --port "$MLLP" --expect CA "$WORK/oru_enhanced.hl7") || die "enhanced mode: $out (want CA)"
log "enhanced mode: $out"

# 4. A malformed message is refused with AE, by both senders.
out=$(node "$here/send-hl7.mjs" --port "$MLLP" "$msgs/malformed.hl7" || true)
[[ $out == *" AE" ]] || die "node-hl7-client malformed: got '$out', want AE"
code=$(mllp_send --loose -p "$MLLP" --file "$msgs/malformed.hl7" 127.0.0.1 | msa)
[ "$code" = AE ] || die "mllp_send malformed: got '$code', want AE"
# ... and kept: both counted as quarantined (nothing else was so far), the message in quarantine/
# once (the same bytes again for the same reason are not stored twice) with its reason.
[ "$(metric "$STATUS" ferry_ingest_quarantined_total)" = 2 ] ||
  die "malformed: ferry_ingest_quarantined_total is '$(metric "$STATUS" ferry_ingest_quarantined_total)' after 2 AE, want 2"
"$FERRY" quarantine list --config "$WORK/ferry.yaml" >"$WORK/quarantine.txt" 2>&1 || die "ferry quarantine list failed: $(cat "$WORK/quarantine.txt")"
quar_ids=$(awk 'NR > 1 && NF == 0 {exit} NR > 1 {print $1}' "$WORK/quarantine.txt") # the rows, up to the blank line
[ "$(wc -w <<<"$quar_ids")" = 1 ] || die "malformed: ferry quarantine list shows $(wc -w <<<"$quar_ids") entries, want the AE'd message once: $(cat "$WORK/quarantine.txt")"
grep -q 'PID-3' "$WORK/quarantine.txt" || die "malformed: the quarantine's reason does not name the field: $(cat "$WORK/quarantine.txt")"
"$FERRY" quarantine show "$quar_ids" --raw --config "$WORK/ferry.yaml" >"$WORK/quarantine-show.txt" 2>&1 || die "ferry quarantine show $quar_ids failed: $(cat "$WORK/quarantine-show.txt")"
grep -q 'CI-BAD-0001' "$WORK/quarantine-show.txt" || die "malformed: quarantine entry $quar_ids does not hold the AE'd message: $(head -20 "$WORK/quarantine-show.txt")"
log "malformed -> AE (both senders), quarantined once with its reason (PID-3)"

# 5. Read back from the exchange over mTLS with curl.
wait_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-1001" 1 60 || die "ADT patient not delivered"
wait_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-1002" 1 60 || die "ORU patient not delivered"
pid2=$(fhir_get "Patient?identifier=$HOSP_SYSTEM|CI-MRN-1002" | jq -r '.entry[0].resource.id')
wait_total "Observation?subject=Patient/$pid2" 2 60 || die "ORU observations not delivered (want 2)"
codes=$(fhir_get "Observation?subject=Patient/$pid2" | jq -r '[.entry[].resource.code.coding[]?.code] | sort | join(",")')
[[ $codes == *2160-0* && $codes == *2345-7* ]] || die "observation codes: got $codes"
log "exchange has both patients and the 2 observations ($codes)"

# The A08 came after the A01: the patient must show the A08's address (per-patient order kept).
wait_for_addr() {
  local i line=""
  for ((i = 0; i < 60; i++)); do
    line=$(fhir_get "Patient?identifier=$HOSP_SYSTEM|CI-MRN-1001" | jq -r '.entry[0].resource.address[0].line[0] // ""')
    [ "$line" = "14 Harbour Rd" ] && return 0
    sleep 1
  done
  log "address line is '$line'"
  return 1
}
wait_for_addr || die "A08 update not applied after A01"
log "A08 applied after A01"

# 6. Re-sending is harmless: the same messages again (ferry may drop them as already seen), and the
#    same result under a new control id (a sender's re-send after a reset; reaches the exchange).
before=$(ctl /control/stats GET | jq -r .requests)
mh0=$(fhir_total MessageHeader)
code=$(mllp_send --loose -p "$MLLP" --file "$msgs/adt_a08.hl7" 127.0.0.1 | msa)
[ "$code" = AA ] || die "mllp_send adt_a08 again: got '$code', want AA"
node "$here/send-hl7.mjs" --port "$MLLP" --expect AA "$msgs/oru_r01.hl7" >/dev/null || die "resend oru failed"
sed 's/|CI-ORU-0001|/|CI-ORU-0003|/' "$msgs/oru_r01.hl7" >"$WORK/oru_again.hl7"
node "$here/send-hl7.mjs" --port "$MLLP" --expect AA "$WORK/oru_again.hl7" >/dev/null || die "oru under new control id failed"
# the new-id copy arrives (its MessageHeader: the one thing the three re-sends may add), then the
# queue drains and the exchange stays quiet, so a late duplicate would be counted below
wait_total MessageHeader $((mh0 + 1)) 60 || die "the ORU re-sent under a new control id did not reach the exchange"
assert_drained "$STATUS"
last=-1 quiet=0
for ((i = 0; i < 30 && quiet < 3; i++)); do
  sleep 1
  now=$(ctl /control/stats GET | jq -r .requests)
  if ((now == last)); then quiet=$((quiet + 1)); else quiet=0; fi
  last=$now
done
((quiet >= 3)) || die "the exchange kept getting requests 30 s after the re-sends were delivered"
log "re-sends caused $((last - before)) exchange requests"
[ "$(fhir_total MessageHeader)" = $((mh0 + 1)) ] || die "re-sends added $(($(fhir_total MessageHeader) - mh0)) MessageHeaders, want 1 (the new control id's)"
[ "$(fhir_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-1001")" = 1 ] || die "resent ADT duplicated the patient"
[ "$(fhir_total "Observation?subject=Patient/$pid2")" = 2 ] || die "resent ORU duplicated observations"
log "re-sent messages caused no duplicates"

# 6b. A result sent preliminary, then made final by OBX-11 U without a value (no resend of the value):
#     the exchange's Observation becomes final and keeps its value (a PATCH in a batch after the
#     report). A U for a result the exchange never got is dead-lettered alone with the 404; its report
#     is delivered.
ufile() { # MRN ORDER CONTROL_ID OBR-25 OBX-LINE...: an ORU for MRN, order ORDER
  local mrn=$1 ord=$2 id=$3 st=$4
  shift 4
  sed -n '1,2p' "$msgs/oru_r01.hl7" | sed "s/CI-MRN-1002/$mrn/; s/|CI-ORU-0001|/|$id|/"
  sed -n 3p "$msgs/oru_r01.hl7" | sed "s/CI-ORD-77/CI-ORD-$ord/; s/CI-FIL-77/CI-FIL-$ord/; s/|||F\$/|||$st/"
  printf '%s\n' "$@"
}
ufile CI-MRN-5001 U5 CI-ORU-U3 F 'OBX|1|NM|2160-0^Creatinine [Mass/volume] in Serum or Plasma^LN||||||||U' >"$WORK/u_orphan.hl7"
# u_obs PATIENT_ID: the patient's glucose results as "status value" lines
u_obs() { fhir_get "Observation?subject=Patient/$1" | jq -r '.entry[]?.resource | select(.code.coding[0].code == "2345-7") | "\(.status) \(.valueQuantity.value)"'; }
wait_obs() { # PATIENT_ID WANT
  local i got=""
  for ((i = 0; i < 60; i++)); do
    got=$(u_obs "$1" 2>/dev/null || true)
    [ "$got" = "$2" ] && return 0
    sleep 1
  done
  log "glucose results of Patient/$1: '$got', want '$2'"
  return 1
}
# status_change LABEL PORT MRN ORDER: a glucose of 131 sent preliminary, then made final by a U
# without a value; the exchange must hold one Observation for it, final, value kept.
status_change() {
  local label=$1 port=$2 mrn=$3 ord=$4 pid
  ufile "$mrn" "$ord" "CI-ORU-${ord}P" P 'OBX|1|NM|2345-7^Glucose [Mass/volume] in Serum or Plasma^LN||131|mg/dL^mg/dL^UCUM|70-99|H|||P|||20261125090000' >"$WORK/$ord-prelim.hl7"
  ufile "$mrn" "$ord" "CI-ORU-${ord}F" F 'OBX|1|NM|2345-7^Glucose [Mass/volume] in Serum or Plasma^LN||||||||U' >"$WORK/$ord-final.hl7"
  grep -q '|||P$' "$WORK/$ord-prelim.hl7" || die "$label: status-change template: OBR-25 not set"
  node "$here/send-hl7.mjs" --port "$port" --expect AA "$WORK/$ord-prelim.hl7" >/dev/null || die "$label: preliminary result not accepted"
  wait_total "Patient?identifier=$HOSP_SYSTEM|$mrn" 1 60 || die "$label: patient not delivered"
  pid=$(fhir_get "Patient?identifier=$HOSP_SYSTEM|$mrn" | jq -r '.entry[0].resource.id')
  wait_obs "$pid" "preliminary 131" || die "$label: preliminary result not delivered"
  node "$here/send-hl7.mjs" --port "$port" --expect AA "$WORK/$ord-final.hl7" >/dev/null || die "$label: status change (OBX-11 U) not accepted"
  wait_obs "$pid" "final 131" || die "$label: OBX-11 U did not make the exchange's result final with its value kept (or made a second one)"
}
status_change default "$MLLP" CI-MRN-5001 U5
log "OBX-11 U: the exchange's preliminary result is final now, value kept, no second Observation"
node "$here/send-hl7.mjs" --port "$MLLP" --expect AA "$WORK/u_orphan.hl7" >/dev/null || die "orphan status change not accepted"
for ((i = 0; i < 60; i++)); do [ "$(metric "$STATUS" ferry_dead_letters)" = 1 ] && break; sleep 1; done
[ "$(metric "$STATUS" ferry_dead_letters)" = 1 ] || die "orphan status change: want 1 dead letter, got $(metric "$STATUS" ferry_dead_letters)"
for ((i = 0; i < 60; i++)); do [ "$(metric "$STATUS" ferry_queue_depth)" = 0 ] && break; sleep 1; done
[ "$(metric "$STATUS" ferry_queue_depth)" = 0 ] || die "orphan status change: its report was not delivered"
"$FERRY" queue list --config "$WORK/ferry.yaml" >"$WORK/dead.txt" 2>&1 || die "ferry queue list failed: $(cat "$WORK/dead.txt")"
dead_id=$(awk 'NR > 1 && NF > 3 {print $1; exit}' "$WORK/dead.txt")
"$FERRY" queue show "$dead_id" --config "$WORK/ferry.yaml" >"$WORK/dead.txt" 2>&1 || die "ferry queue show $dead_id failed: $(cat "$WORK/dead.txt")"
grep -q "404" "$WORK/dead.txt" && grep -q "CI-ORU-U3" "$WORK/dead.txt" || die "orphan status change: the dead letter does not give the 404: $(cat "$WORK/dead.txt")"
log "orphan OBX-11 U: its report delivered, the status change dead-lettered alone with the exchange's 404"

# 7. Whatever ferry converts passes @medplum/core validation (independent of ferry's own checks), the
#    status-change batch of 6b included.
mkdir -p "$WORK/convert"
"$FERRY" convert "$msgs/adt_a01.hl7" "$msgs/adt_a08.hl7" "$msgs/oru_r01.hl7" "$WORK/U5-final.hl7" --out "$WORK/convert" >"$WORK/convert.log" 2>&1 ||
  die "ferry convert failed: $(tail -5 "$WORK/convert.log")"
node "${NODE_FLAGS[@]}" "$CI_DIR/exchange/validate.mjs" "$WORK/convert" || die "converted bundles fail validation"

# 8. mTLS mistakes keep the data: a second gateway with a client cert from another CA, then one that
#    trusts another CA for the server, deliver nothing and dead-letter nothing; fixed, it delivers.
M2=$(freeport)
S2=$(freeport)
write_config "$WORK/ferry2.yaml" "$WORK/data2" "$M2" "$S2"
sed -e "s#$PKI/client.pem#$PKI/rogue-client.pem#; s#$PKI/client.key#$PKI/rogue-client.key#" "$WORK/ferry2.yaml" >"$WORK/ferry2-badclient.yaml"
sed -e "s#ca_file: $PKI/ca.pem#ca_file: $PKI/other-ca.pem#" "$WORK/ferry2.yaml" >"$WORK/ferry2-badca.yaml"
sed 's/CI-MRN-1002/CI-MRN-2002/; s/|CI-ORU-0001|/|CI-ORU-2001|/; s/CI-ORD-77/CI-ORD-2077/; s/CI-FIL-77/CI-FIL-2077/' "$msgs/oru_r01.hl7" >"$WORK/oru_tls.hl7"
for bad in badclient badca; do
  start_ferry "$WORK/ferry2-$bad.yaml" "$WORK/ferry2.log" "$M2"
  if [ "$bad" = badclient ]; then
    node "$here/send-hl7.mjs" --port "$M2" --expect AA "$WORK/oru_tls.hl7" >/dev/null || die "ferry with a bad client cert did not accept the message"
  fi
  wait_attempts "$S2" 3 60 # a TLS mistake is retried, not dead-lettered: wait until ferry has tried
  [ "$(fhir_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-2002")" = 0 ] || die "$bad: delivered despite the TLS mistake"
  [ "$(metric "$S2" ferry_dead_letters)" = 0 ] || die "$bad: a TLS mistake dead-lettered data"
  [ "$(metric "$S2" ferry_queue_depth)" = 1 ] || die "$bad: the message is not waiting in the queue"
  stop_pid "$FERRY_PID" TERM
  log "$bad: nothing delivered, nothing dead-lettered, message still queued"
done
start_ferry "$WORK/ferry2.yaml" "$WORK/ferry2.log" "$M2"
wait_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-2002" 1 60 || die "queued message not delivered once the TLS settings were fixed"
log "fixed TLS settings: the queued message was delivered"

# 9. Conditional writes. The exchange already holds the patient under an id it chose; ferry's A01 and
#    ORU must land on that record (hl7v2.writes: patient-conditional writes PUT Patient?identifier=...
#    and refers to the patient by urn:uuid), and re-sends, under new MSH-10s and byte-identical, must
#    create nothing. Case a: the default configuration (ferry2 above, no hl7v2 section), where the
#    ORU's PID also updates the patient. Case b: patient_from_adt_only, where the ORU writes the
#    Patient as a conditional create that finds the record and leaves the A01's address alone.
#    Control: hl7v2.writes: ids gives a second Patient with the same MRN (the gap this mode closes).
precreate() { # MRN: POST a Patient over mTLS; prints the id the exchange gave it
  curl -sS --fail-with-body --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client.key" \
    -H 'Content-Type: application/fhir+json' "$EX_URL/Patient" \
    --data "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"$HOSP_SYSTEM\",\"value\":\"$1\"}],\"name\":[{\"family\":\"Known\",\"given\":[\"Exchange\"]}]}" | jq -r .id
}
quiet_exchange() { # waits until the exchange has seen no request for 3 s
  local last=-1 now quiet=0 i
  for ((i = 0; i < 60 && quiet < 3; i++)); do
    sleep 1
    now=$(ctl /control/stats GET | jq -r .requests)
    if ((now == last)); then quiet=$((quiet + 1)); else quiet=0; fi
    last=$now
  done
}
type_counts() { ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add'; }
# conditional_case LABEL MRN MLLP_PORT: A01 then ORU for MRN (pre-created at the exchange), then
# re-sends; asserts one Patient (the pre-created id, with the A01's name), the results on it, and
# that the re-sends add only the new messages' MessageHeader, Binary and Provenance.
conditional_case() {
  local label=$1 mrn=$2 port=$3 pre n id fam
  local adt=$WORK/cond-$label-adt.hl7 oru=$WORK/cond-$label-oru.hl7
  sed "s/CI-MRN-1001/$mrn/; s/|CI-ADT-0001|/|$mrn-ADT-1|/; s/CI-VISIT-1001/$mrn-V/" "$msgs/adt_a01.hl7" >"$adt"
  sed "s/CI-MRN-1002^^^HOSP^MR||Sample^Bert||19650703|M/$mrn^^^HOSP^MR||Tester^Ada^Maria||19800214|F/; s/|CI-ORU-0001|/|$mrn-ORU-1|/; s/CI-ORD-77/$mrn-ORD/; s/CI-FIL-77/$mrn-FIL/" \
    "$msgs/oru_r01.hl7" >"$oru"
  grep -q "$mrn" "$oru" || die "$label: ORU template did not take the MRN"
  # The result names the A01's visit by its number alone (PV1-19), as labs send it.
  sed -i "/^PID|/a PV1|1||||||||||||||||||$mrn-V^^^HOSP^VN" "$oru"
  pre=$(precreate "$mrn")
  [ -n "$pre" ] && [ "$pre" != null ] || die "$label: could not pre-create the patient"
  node "$here/send-hl7.mjs" --port "$port" --expect AA "$adt" "$oru" >/dev/null || die "$label: A01/ORU not accepted"
  wait_total "Observation?subject=Patient/$pre" 2 60 || die "$label: the ORU's observations do not reference the exchange's patient $pre"
  wait_total "DiagnosticReport?subject=Patient/$pre" 1 60 || die "$label: the ORU's report does not reference the exchange's patient"
  wait_total "Encounter?subject=Patient/$pre" 1 60 || die "$label: the A01's encounter does not reference the exchange's patient"
  quiet_exchange
  n=$(fhir_total "Patient?identifier=$HOSP_SYSTEM|$mrn")
  id=$(fhir_get "Patient?identifier=$HOSP_SYSTEM|$mrn" | jq -r '.entry[0].resource.id')
  fam=$(fhir_get "Patient/$pre" | jq -r '.name[0].family')
  [ "$n" = 1 ] && [ "$id" = "$pre" ] || die "$label: $n patient(s) with the MRN (first $id), want only the pre-created $pre"
  [ "$fam" = Tester ] || die "$label: the exchange's patient was not updated by the A01 (family '$fam')"
  [ "$(fhir_total "Observation?subject=Patient/$pre")" = 2 ] || die "$label: observations"
  local enc
  enc=$(fhir_get "Encounter?subject=Patient/$pre" | jq -c '[.entry[].resource | {id, status, loc: .location[0].location.display, start: .period.start}]')
  [ "$(jq -r 'length' <<<"$enc")" = 1 ] || die "$label: $(jq -r 'length' <<<"$enc") Encounters for one visit: $enc"
  [ "$(fhir_get "DiagnosticReport?subject=Patient/$pre" | jq -r '.entry[0].resource.encounter.reference')" = "Encounter/$(jq -r '.[0].id' <<<"$enc")" ] ||
    die "$label: the ORU's report does not refer to the visit's Encounter"
  local visit="one Encounter for the visit, the report refers to it"
  if [ "$label" = adt-only ]; then
    # With patient_from_adt_only the visit is the ADT feed's: the ORU's PV1 refers to it.
    [ "$(jq -r '.[0].status' <<<"$enc")" = in-progress ] && [ "$(jq -r '.[0].loc // ""' <<<"$enc")" != "" ] &&
      [ "$(jq -r '.[0].start // ""' <<<"$enc")" != "" ] ||
      die "$label: the ORU's PV1 (visit number only) replaced the A01's Encounter: $enc"
    visit="the ORU's PV1 left the A01's Encounter (status, location, period) in place and its report refers to it"
  fi
  log "$label: A01 and ORU landed on the exchange's own patient $pre (1 Patient, 2 Observations, 1 report); $visit"
  local before after
  before=$(type_counts)
  sed "s/|$mrn-ADT-1|/|$mrn-ADT-2|/" "$adt" >"$adt.2"
  sed "s/|$mrn-ORU-1|/|$mrn-ORU-2|/" "$oru" >"$oru.2"
  node "$here/send-hl7.mjs" --port "$port" --expect AA "$adt.2" "$oru.2" "$adt" "$oru" >/dev/null || die "$label: re-sends not accepted"
  local i
  for ((i = 0; i < 60; i++)); do # until both new-control-id messages arrived (3 resources each)
    after=$(type_counts)
    [ "$(jq -n --argjson a "$after" --argjson b "$before" '$a.Provenance - $b.Provenance')" = 2 ] && break
    sleep 1
  done
  quiet_exchange
  after=$(type_counts)
  local diff
  diff=$(jq -nc --argjson a "$after" --argjson b "$before" '[$a | keys[] as $k | select($a[$k] != ($b[$k] // 0)) | {($k): ($a[$k] - ($b[$k] // 0))}] | add // {}')
  [ "$diff" = '{"Binary":2,"MessageHeader":2,"Provenance":2}' ] ||
    die "$label: re-sends changed the exchange by $diff (want only the 2 new messages' MessageHeader, Binary, Provenance)"
  [ "$(fhir_total "Patient?identifier=$HOSP_SYSTEM|$mrn")" = 1 ] || die "$label: re-sends duplicated the patient"
  [ "$(fhir_total "Observation?subject=Patient/$pre")" = 2 ] || die "$label: re-sends duplicated observations"
  COND_PRE=$pre
  log "$label: re-sends (2 new MSH-10s, 2 byte-identical) added only $diff"
}
grep -q '^hl7v2:' "$WORK/ferry2.yaml" && die "ferry2.yaml has an hl7v2 section; case a needs the default"
conditional_case default CI-MRN-3001 "$M2"
stop_pid "$FERRY_PID" TERM
M3=$(freeport)
S3=$(freeport)
write_config "$WORK/ferry3.yaml" "$WORK/data3" "$M3" "$S3"
printf 'hl7v2:\n  writes: patient-conditional\n  patient_from_adt_only: true\n' >>"$WORK/ferry3.yaml"
start_ferry "$WORK/ferry3.yaml" "$WORK/ferry3.log" "$M3"
conditional_case adt-only CI-MRN-3002 "$M3"
line=$(fhir_get "Patient/$COND_PRE" | jq -r '.address[0].line[0] // ""')
[ "$line" = "12 Harbour Rd" ] || die "adt-only: the ORU replaced the A01's address (now '$line')"
log "adt-only: the ORU's conditional create left the A01's address in place"
# C-CDA and HL7 v2 for one patient land on one record: `ferry convert` of a C-CDA document (posted
# with curl, as a folder source would deliver it), then an A01 for the same MRN (an ISO OID authority).
root=$(cd "$CI_DIR/.." && pwd)
mkdir -p "$WORK/ccda"
"$FERRY" convert --config "$WORK/ferry3.yaml" --out "$WORK/ccda" "$root/testdata/convert/ccda-problem/input.xml" 2>>"$WORK/convert.log" ||
  die "ferry convert of the C-CDA document failed"
for f in "$WORK"/ccda/*.json; do
  code=$(curl -sS -o "$WORK/ccda-resp.json" -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client.key" \
    -H 'Content-Type: application/fhir+json' --data-binary "@$f" "$EX_URL")
  [ "$code" = 200 ] || die "C-CDA part $f: exchange answered $code: $(head -c 400 "$WORK/ccda-resp.json")"
done
CCDA_SYS=urn:oid:2.16.840.1.113883.19.5.99999.2
ccda_pt=$(fhir_get "Patient?identifier=$CCDA_SYS|MRN-PRB1" | jq -r '.entry[0].resource.id')
sed "s/CI-MRN-1001^^^HOSP^MR/MRN-PRB1^^^\&2.16.840.1.113883.19.5.99999.2\&ISO^MR/; s/|CI-ADT-0001|/|CI-CCDA-ADT-1|/; s/CI-VISIT-1001/CI-CCDA-V/" \
  "$msgs/adt_a01.hl7" >"$WORK/ccda-adt.hl7"
grep -q '2.16.840.1.113883.19.5.99999.2&ISO' "$WORK/ccda-adt.hl7" || die "A01 template did not take the OID"
node "$here/send-hl7.mjs" --port "$M3" --expect AA "$WORK/ccda-adt.hl7" >/dev/null || die "A01 for the C-CDA patient not accepted"
wait_total "Encounter?subject=Patient/$ccda_pt" 1 60 || die "the A01 did not land on the patient the C-CDA document wrote ($ccda_pt)"
[ "$(fhir_total "Patient?identifier=$CCDA_SYS|MRN-PRB1")" = 1 ] || die "C-CDA then HL7 v2 gave two patients for one MRN"
[ "$(fhir_total "Condition?subject=Patient/$ccda_pt")" -ge 1 ] || die "the C-CDA problem does not reference its patient"
log "C-CDA document and HL7 v2 A01 for one MRN: one Patient ($ccda_pt)"
dups=$(ctl /control/dump GET | jq -c '[.resources[] | .resourceType as $t | .id as $id | (.identifier // [])[] | select(.value != null) | {k: "\($t)|\(.system)|\(.value)", id: $id}] | group_by(.k) | map(select((map(.id) | unique | length) > 1) | .[0].k)')
[ "$dups" = '[]' ] || die "identifiers held by two resources of one type: $dups"
assert_drained "$S3"
stop_pid "$FERRY_PID" TERM
# control: the id mode puts a second Patient beside the exchange's own
M4=$(freeport)
S4=$(freeport)
write_config "$WORK/ferry4.yaml" "$WORK/data4" "$M4" "$S4"
printf 'hl7v2:\n  writes: ids\n' >>"$WORK/ferry4.yaml"
start_ferry "$WORK/ferry4.yaml" "$WORK/ferry4.log" "$M4"
pre=$(precreate CI-MRN-3003)
sed "s/CI-MRN-1001/CI-MRN-3003/; s/|CI-ADT-0001|/|CI-MRN-3003-ADT-1|/; s/CI-VISIT-1001/CI-MRN-3003-V/" "$msgs/adt_a01.hl7" >"$WORK/ids-adt.hl7"
node "$here/send-hl7.mjs" --port "$M4" --expect AA "$WORK/ids-adt.hl7" >/dev/null || die "ids: A01 not accepted"
wait_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-3003" 2 60 || die "ids control: expected ferry's own Patient beside the exchange's"
log "control: hl7v2.writes: ids left the exchange with 2 patients for one MRN"
# ... but with ids, a C-CDA document and the ADT feed name one MRN by one literal id (fhir.PatientID):
# the C-CDA's PUT Patient/<id> and the A01's are the same record, not two with one identifier.
mkdir -p "$WORK/ccda-ids"
sed 's/MRN-PRB1/MRN-IDS1/' "$root/testdata/convert/ccda-problem/input.xml" >"$WORK/ccda-ids.xml"
"$FERRY" convert --config "$WORK/ferry4.yaml" --out "$WORK/ccda-ids" "$WORK/ccda-ids.xml" 2>>"$WORK/convert.log" ||
  die "ids: ferry convert of the C-CDA document failed"
for f in "$WORK"/ccda-ids/*.json; do
  code=$(curl -sS -o "$WORK/ccda-resp.json" -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client.key" \
    -H 'Content-Type: application/fhir+json' --data-binary "@$f" "$EX_URL")
  [ "$code" = 200 ] || die "ids: C-CDA part $f: exchange answered $code: $(head -c 400 "$WORK/ccda-resp.json")"
done
ids_pt=$(fhir_get "Patient?identifier=$CCDA_SYS|MRN-IDS1" | jq -r '.entry[0].resource.id')
sed "s/CI-MRN-1001^^^HOSP^MR/MRN-IDS1^^^\&2.16.840.1.113883.19.5.99999.2\&ISO^MR/; s/|CI-ADT-0001|/|CI-IDS-ADT-1|/; s/CI-VISIT-1001/CI-IDS-V/" \
  "$msgs/adt_a01.hl7" >"$WORK/ids-ccda-adt.hl7"
node "$here/send-hl7.mjs" --port "$M4" --expect AA "$WORK/ids-ccda-adt.hl7" >/dev/null || die "ids: A01 for the C-CDA patient not accepted"
wait_total "Encounter?subject=Patient/$ids_pt" 1 60 || die "ids: the A01 did not land on the Patient the C-CDA document wrote ($ids_pt)"
[ "$(fhir_total "Patient?identifier=$CCDA_SYS|MRN-IDS1")" = 1 ] || die "ids: C-CDA then HL7 v2 gave two patients for one MRN"
[ "$(fhir_total "Condition?subject=Patient/$ids_pt")" -ge 1 ] || die "ids: the C-CDA problem does not reference its patient"
log "hl7v2.writes: ids: C-CDA document and HL7 v2 A01 for one MRN: one Patient ($ids_pt)"

# 10. ATNA's FHIR Feed option: a gateway whose audit.url is the exchange's FHIR base records its audit
#     trail there as AuditEvent resources (POST [base]/AuditEvent over mutual TLS), which the
#     stand-in checks with @medplum/core's validateResource before storing: an Import (DCM 110107)
#     for the message received, an Export (110106) for the bundle delivered, naming the X-Request-Id
#     of its delivery as BALP's XrequestId entity.
stop_pid "$FERRY_PID" TERM
M5=$(freeport)
S5=$(freeport)
write_config "$WORK/ferry5.yaml" "$WORK/data5" "$M5" "$S5"
printf 'audit:\n  url: %s\n  source_id: ferry-ci-fhir-feed\n  tls: {ca_file: %s, cert_file: %s, key_file: %s}\n' \
  "$EX_URL" "$PKI/ca.pem" "$PKI/client.pem" "$PKI/client.key" >>"$WORK/ferry5.yaml"
start_ferry "$WORK/ferry5.yaml" "$WORK/ferry5.log" "$M5"
sed "s/CI-MRN-1001/CI-MRN-5005/; s/|CI-ADT-0001|/|CI-AUD-0001|/; s/CI-VISIT-1001/CI-AUD-V/" "$msgs/adt_a01.hl7" >"$WORK/aud.hl7"
node "$here/send-hl7.mjs" --port "$M5" --expect AA "$WORK/aud.hl7" >/dev/null || die "audit gateway: A01 not accepted"
wait_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-5005" 1 60 || die "audit gateway: A01 not delivered"
aud_count() { fhir_get "AuditEvent?_count=100" | jq --arg c "$1" '[.entry[]?.resource | select(.source.observer.identifier.value == "ferry-ci-fhir-feed" and .type.code == $c)] | length'; }
for ((i = 0; i < 60; i++)); do
  [ "$(aud_count 110107)" -ge 1 ] && [ "$(aud_count 110106)" -ge 1 ] && break
  sleep 1
done
[ "$(aud_count 110107)" -ge 1 ] || die "no Import AuditEvent at the exchange ($(tail -3 "$WORK/ferry5.log"))"
[ "$(aud_count 110106)" -ge 1 ] || die "no Export AuditEvent at the exchange ($(tail -3 "$WORK/ferry5.log"))"
# BALP: the Export names the X-Request-Id its delivery sent as an XrequestId entity (entity.type).
xreq=$(fhir_get "AuditEvent?_count=100" | jq -r '[.entry[]?.resource | select(.source.observer.identifier.value == "ferry-ci-fhir-feed" and .type.code == "110106")
  | .entity[]? | select(.type.code == "XrequestId" and .type.system == "https://profiles.ihe.net/ITI/BALP/CodeSystem/BasicAuditEntityType") | .what.identifier.value][0] // ""')
[ -n "$xreq" ] || die "the Export AuditEvent has no BALP XrequestId entity"
log "audit trail as FHIR AuditEvents at the exchange: $(aud_count 110107) Import, $(aud_count 110106) Export"
stop_pid "$FERRY_PID" TERM

# 10b. ATNA's node-authentication failure on ferry's own connection: a gateway whose exchange.tls.ca_file
#      holds another CA (other-ca.pem) cannot verify the exchange's certificate; it records a Security
#      Alert (DCM 110113, subtype 110126 Node Authentication) naming the exchange as the destination node
#      and the alert subject (its URL, typed RFC-3881 12 URI), through the same FHIR Feed (with the right CA), which the stand-in validates
#      before storing. Nothing is delivered, and one alert stands for the retries. (The stand-in, a node
#      https server, refuses an untrusted client certificate by closing the connection without a TLS
#      alert: ferry sees a reset, a network error it does not audit, so that is not the case used here.)
M5B=$(freeport)
S5B=$(freeport)
write_config "$WORK/ferry5b.yaml" "$WORK/data5b" "$M5B" "$S5B"
sed -i "s|ca_file: $PKI/ca.pem|ca_file: $PKI/other-ca.pem|" "$WORK/ferry5b.yaml"
grep -q other-ca.pem "$WORK/ferry5b.yaml" || die "node auth gateway: exchange.tls.ca_file not switched to the other CA"
printf 'audit:\n  url: %s\n  source_id: ferry-ci-node-auth\n  tls: {ca_file: %s, cert_file: %s, key_file: %s}\n' \
  "$EX_URL" "$PKI/ca.pem" "$PKI/client.pem" "$PKI/client.key" >>"$WORK/ferry5b.yaml"
start_ferry "$WORK/ferry5b.yaml" "$WORK/ferry5b.log" "$M5B"
sed "s/CI-MRN-1001/CI-MRN-5006/; s/|CI-ADT-0001|/|CI-AUD-0002|/; s/CI-VISIT-1001/CI-AUD-V2/" "$msgs/adt_a01.hl7" >"$WORK/aud2.hl7"
node "$here/send-hl7.mjs" --port "$M5B" --expect AA "$WORK/aud2.hl7" >/dev/null || die "node auth gateway: A01 not accepted"
alerts() { fhir_get "AuditEvent?_count=100" | jq '[.entry[]?.resource | select(.source.observer.identifier.value == "ferry-ci-node-auth"
  and .type.code == "110113" and .subtype[0].code == "110126"
  and any(.agent[]; .requestor == false and .type.coding[0].code == "110152" and .network.address == "127.0.0.1")
  and any(.entity[]; .role.code == "13" and .what.identifier.type.coding[0].code == "12" and (.what.identifier.value | startswith("https://"))))] | length'; }
for ((i = 0; i < 60; i++)); do
  [ "$(alerts)" -ge 1 ] && break
  sleep 1
done
[ "$(alerts)" -ge 1 ] || die "no node authentication Security Alert at the exchange ($(tail -3 "$WORK/ferry5b.log"))"
for ((i = 0; i < 60; i++)); do
  [ "$(metric "$S5B" ferry_delivery_retries_total)" -ge 3 ] 2>/dev/null && break
  sleep 1
done
[ "$(metric "$S5B" ferry_delivery_retries_total)" -ge 3 ] 2>/dev/null || die "node auth gateway: fewer than 3 delivery attempts"
[ "$(alerts)" = 1 ] || die "node auth gateway: $(alerts) Security Alerts for one exchange within a minute, want 1"
[ "$(fhir_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-5006")" = 0 ] || die "node auth gateway: delivered to an exchange it could not authenticate"
log "node authentication failure (exchange certificate from an untrusted CA): one Security Alert 110113/110126 for $(metric "$S5B" ferry_delivery_retries_total) attempts"
stop_pid "$FERRY_PID" TERM

# 11. The OBX-11 U status change with hl7v2.writes: conditional, where the exchange chooses the ids:
#     the PATCH finds the Observation by its identifier (Observation?identifier=..., a conditional
#     patch in a batch).
M6=$(freeport)
S6=$(freeport)
write_config "$WORK/ferry6.yaml" "$WORK/data6" "$M6" "$S6"
printf 'hl7v2:\n  writes: conditional\n' >>"$WORK/ferry6.yaml"
start_ferry "$WORK/ferry6.yaml" "$WORK/ferry6.log" "$M6"
status_change conditional "$M6" CI-MRN-6001 C6
assert_drained "$S6"
log "conditional writes: OBX-11 U patched the exchange's Observation found by identifier (final 131, one Observation)"
stop_pid "$FERRY_PID" TERM

# 12. SMART Backend Services: an exchange that also wants an OAuth bearer token. `ferry smart-key`
#     makes ferry's key and prints the JWKS the exchange registers; the stand-in checks each client
#     assertion with node's own crypto (signature, kid, iss/sub, aud, exp, jti). The key is a
#     rotation's new one: `--also` puts the old key's public half in the JWKS too, and the client
#     is registered by its JWKS URL, which every assertion names as jku (exchange.auth.smart.jwks_url).
#     With exchange.auth.smart ferry delivers and `ferry doctor` gets a token; without it the
#     exchange answers 401, and nothing is delivered or dead-lettered.
"$FERRY" smart-key "$WORK/smart-old.key" >/dev/null 2>"$WORK/smart-key.log" || die "ferry smart-key: $(cat "$WORK/smart-key.log")"
"$FERRY" smart-key "$WORK/smart.key" --also "$WORK/smart-old.key" >"$WORK/smart-jwks.json" 2>"$WORK/smart-key.log" || die "ferry smart-key: $(cat "$WORK/smart-key.log")"
jq -e '(.keys | length) == 2 and all(.keys[]; .kty == "EC" and .crv == "P-384" and .alg == "ES384" and .d == null) and .keys[0].kid != .keys[1].kid' "$WORK/smart-jwks.json" >/dev/null ||
  die "smart-key --also JWKS is not the new and the old public ES384 key: $(cat "$WORK/smart-jwks.json")"
JKU=https://clinic.example.org/ferry/jwks.json
SAVED_URL=$EX_URL SAVED_CTL=$EX_CTL
EX_EXTRA=(--smart-client ferry-ci-smart --smart-jwks "$WORK/smart-jwks.json" --smart-jku "$JKU")
start_exchange "$WORK/ex-smart"
EX_EXTRA=()
SX_URL=$EX_URL SX_CTL=$EX_CTL
EX_URL=$SAVED_URL EX_CTL=$SAVED_CTL
sx_count() { curl -sS "$SX_CTL/control/count?type=Patient&identifier=$HOSP_SYSTEM|$1" | jq -r .count; }
M7=$(freeport)
S7=$(freeport)
write_config "$WORK/ferry7.yaml" "$WORK/data7" "$M7" "$S7" "$SX_URL"
printf '  auth:\n    smart: {client_id: ferry-ci-smart, key_file: %s, jwks_url: %s}\n' "$WORK/smart.key" "$JKU" >"$WORK/smart-auth.yaml"
# the auth block belongs under exchange: insert it after the exchange's url line
awk -v f="$WORK/smart-auth.yaml" '{print} /^  url: /{while ((getline l < f) > 0) print l}' "$WORK/ferry7.yaml" >"$WORK/ferry7s.yaml"
"$FERRY" doctor --config "$WORK/ferry7s.yaml" >"$WORK/doctor7.txt" 2>&1 || true
grep -q "exchange.auth.smart.*access token granted" "$WORK/doctor7.txt" || die "ferry doctor got no SMART token: $(grep -i smart "$WORK/doctor7.txt")"
start_ferry "$WORK/ferry7s.yaml" "$WORK/ferry7.log" "$M7"
sed "s/CI-MRN-1001/CI-MRN-7001/; s/|CI-ADT-0001|/|CI-SMART-1|/; s/CI-VISIT-1001/CI-SMART-V/" "$msgs/adt_a01.hl7" >"$WORK/smart.hl7"
node "$here/send-hl7.mjs" --port "$M7" --expect AA "$WORK/smart.hl7" >/dev/null || die "SMART gateway: A01 not accepted"
for ((i = 0; i < 60; i++)); do [ "$(sx_count CI-MRN-7001)" = 1 ] && break; sleep 1; done
[ "$(sx_count CI-MRN-7001)" = 1 ] || die "SMART gateway: the A01 did not reach the exchange ($(tail -3 "$WORK/ferry7.log"))"
assert_drained "$S7"
tokens=$(curl -sS "$SX_CTL/control/stats" | jq -r '.tokens // 0')
[ "$tokens" -ge 1 ] || die "no token was issued"
log "SMART Backend Services: delivered with a bearer token ($tokens token(s) issued, one for doctor), the new key of a two-key JWKS, jku $JKU; doctor: $(grep -o 'access token granted[^)]*)' "$WORK/doctor7.txt")"
stop_pid "$FERRY_PID" TERM
# the same exchange without exchange.auth: 401, kept, not dead-lettered
M8=$(freeport)
S8=$(freeport)
write_config "$WORK/ferry8.yaml" "$WORK/data8" "$M8" "$S8" "$SX_URL"
n401_0=$(curl -sS "$SX_CTL/control/stats" | jq -r '.byStatus["401"] // 0')
start_ferry "$WORK/ferry8.yaml" "$WORK/ferry8.log" "$M8"
sed "s/CI-MRN-1001/CI-MRN-7002/; s/|CI-ADT-0001|/|CI-SMART-2|/; s/CI-VISIT-1001/CI-SMART-W/" "$msgs/adt_a01.hl7" >"$WORK/nosmart.hl7"
node "$here/send-hl7.mjs" --port "$M8" --expect AA "$WORK/nosmart.hl7" >/dev/null || die "no-token gateway: A01 not accepted"
wait_attempts "$S8" 3 60
n401=$(curl -sS "$SX_CTL/control/stats" | jq -r '.byStatus["401"] // 0')
((n401 > n401_0)) || die "no-token gateway: the exchange answered it no 401"
[ "$(sx_count CI-MRN-7002)" = 0 ] || die "the exchange took a bundle without a token"
[ "$(metric "$S8" ferry_dead_letters)" = 0 ] || die "a missing token dead-lettered data"
[ "$(metric "$S8" ferry_queue_depth)" = 1 ] || die "without a token the message is not waiting in the queue"
log "without exchange.auth: the exchange answered 401; nothing delivered, nothing dead-lettered, message still queued"
stop_pid "$FERRY_PID" TERM

# 13. A Direct XDM package (ITI-32) dropped into an EHR export folder: the gateway reads the ZIP in
#     place, converts the C-CDA its METADATA.XML lists and files the PDF beside it from its XDS
#     metadata, and the exchange holds the document's Patient and both DocumentReferences; the
#     archive moves to done/. Dropped again under another name, it
#     changes nothing at the exchange. A later package that replaces the PDF (an RPLC
#     Association) leaves the original superseded at the exchange.
M9=$(freeport)
S9=$(freeport)
mkdir -p "$WORK/xdm-in"
write_config "$WORK/ferry9.yaml" "$WORK/data9" "$M9" "$S9"
printf '  folders:\n    - {name: ehr, kind: ehr, path: %s}\n' "$WORK/xdm-in" >"$WORK/xdm-src.yaml"
awk -v f="$WORK/xdm-src.yaml" '{print} /^      idle_timeout: /{while ((getline l < f) > 0) print l}' "$WORK/ferry9.yaml" >"$WORK/ferry9x.yaml"
python3 - "$root/testdata/convert/ccda-allergy/input.xml" "$WORK/xdm.zip" <<'PYZIP'
import sys, zipfile
doc, out = sys.argv[1], sys.argv[2]
meta = """<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
  <rim:ExtrinsicObject id="Document01" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
   <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0001.XML</rim:Value></rim:ValueList></rim:Slot>
   <rim:ExternalIdentifier id="ei1" registryObject="Document01" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.840.99999.1.1">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:ExtrinsicObject>
  <rim:ExtrinsicObject id="Document02" mimeType="application/pdf" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
   <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0002.PDF</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="creationTime"><rim:ValueList><rim:Value>20240315083000</rim:Value></rim:ValueList></rim:Slot>
   <rim:Name><rim:LocalizedString value="Referral letter"/></rim:Name>
   <rim:Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" classifiedObject="Document02" nodeRepresentation="57133-1">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.6.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString value="Referral note"/></rim:Name>
   </rim:Classification>
   <rim:ExternalIdentifier id="ei2a" registryObject="Document02" identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="MRN-ALG1^^^&amp;2.16.840.1.113883.19.5.99999.2&amp;ISO">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"/></rim:Name>
   </rim:ExternalIdentifier>
   <rim:ExternalIdentifier id="ei2b" registryObject="Document02" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.840.99999.1.2">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:ExtrinsicObject>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"""
pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("INDEX.HTM", "<html><body>Direct message</body></html>")
    z.writestr("README.TXT", "XDM package")
    z.writestr("IHE_XDM/SUBSET01/METADATA.XML", meta)
    z.write(doc, "IHE_XDM/SUBSET01/DOC0001.XML")
    z.writestr("IHE_XDM/SUBSET01/DOC0002.PDF", pdf)
PYZIP
start_ferry "$WORK/ferry9x.yaml" "$WORK/ferry9.log" "$M9"
cp "$WORK/xdm.zip" "$WORK/xdm-in/.direct-1.tmp" && mv "$WORK/xdm-in/.direct-1.tmp" "$WORK/xdm-in/direct-1.zip"
xdm_pt=""
for ((i = 0; i < 60; i++)); do
  xdm_pt=$(fhir_get "Patient?identifier=$CCDA_SYS|MRN-ALG1" | jq -r '.entry[0].resource.id // empty')
  [ -n "$xdm_pt" ] && [ "$(fhir_total "DocumentReference?subject=Patient/$xdm_pt")" -ge 1 ] && break
  sleep 1
done
[ -n "$xdm_pt" ] || die "XDM drop: the C-CDA's patient did not reach the exchange ($(tail -3 "$WORK/ferry9.log"))"
[ "$(fhir_total "DocumentReference?subject=Patient/$xdm_pt")" -ge 1 ] || die "XDM drop: no DocumentReference for the patient"
[ "$(fhir_total "AllergyIntolerance?patient=Patient/$xdm_pt")" -ge 1 ] || die "XDM drop: the document's allergies did not arrive"
# the PDF is filed from its XDS metadata, on the same patient (found by its MRN, not created again)
for ((i = 0; i < 30; i++)); do
  [ "$(fhir_total "DocumentReference?subject=Patient/$xdm_pt&type=http://loinc.org|57133-1")" = 1 ] && break
  sleep 1
done
[ "$(fhir_total "DocumentReference?subject=Patient/$xdm_pt&type=http://loinc.org|57133-1")" = 1 ] ||
  die "XDM drop: the PDF referral is not a DocumentReference of the patient ($(fhir_get "DocumentReference?subject=Patient/$xdm_pt" | jq -c '[.entry[].resource.type]'))"
[ "$(fhir_total "Patient?identifier=$CCDA_SYS|MRN-ALG1")" = 1 ] || die "XDM drop: the PDF's patient link made a second Patient"
assert_drained "$S9"
ls "$WORK"/xdm-in/.ferry/done/*/direct-1.zip >/dev/null 2>&1 || die "XDM drop: the archive is not in done/ ($(ls -R "$WORK/xdm-in/.ferry" | head))"
before=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
cp "$WORK/xdm.zip" "$WORK/xdm-in/.direct-2.tmp" && mv "$WORK/xdm-in/.direct-2.tmp" "$WORK/xdm-in/direct-2.zip"
for ((i = 0; i < 30; i++)); do ls "$WORK"/xdm-in/.ferry/done/*/direct-2.zip >/dev/null 2>&1 && break; sleep 1; done
ls "$WORK"/xdm-in/.ferry/done/*/direct-2.zip >/dev/null 2>&1 || die "XDM drop: the second archive was not settled"
assert_drained "$S9" # whatever the archive queued before it moved to done/ is delivered now
after=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
[ "$before" = "$after" ] || die "XDM drop: the same package again changed the exchange: $before -> $after"
log "XDM package in an EHR folder: C-CDA delivered (Patient $xdm_pt, DocumentReference, allergies) and the PDF referral filed from its XDS metadata on the same patient; archive in done/; dropped again, nothing changed"
# A later package replaces the PDF referral: its METADATA.XML holds the corrected PDF and an
# Association RPLC from it to the original's entryUUID, whose uniqueId a standalone
# ExternalIdentifier gives (MHD ConceptMap AssociationTypeVsRelatesTo). At the exchange the
# original's DocumentReference is superseded (the supersede batch's conditional PATCH), and the
# correction is current and relatesTo replaces the original by its masterIdentifier.
python3 - "$WORK/xdm-rplc.zip" <<'PYZIP'
import sys, zipfile
meta = """<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
  <rim:ExtrinsicObject id="Document01" mimeType="application/pdf" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
   <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0001.PDF</rim:Value></rim:ValueList></rim:Slot>
   <rim:Slot name="creationTime"><rim:ValueList><rim:Value>20240316083000</rim:Value></rim:ValueList></rim:Slot>
   <rim:Name><rim:LocalizedString value="Referral letter (corrected)"/></rim:Name>
   <rim:Classification classificationScheme="urn:uuid:f0306f51-975f-434e-a61c-c59651d33983" classifiedObject="Document01" nodeRepresentation="57133-1">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.6.1</rim:Value></rim:ValueList></rim:Slot>
    <rim:Name><rim:LocalizedString value="Referral note"/></rim:Name>
   </rim:Classification>
   <rim:ExternalIdentifier id="ei1a" registryObject="Document01" identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="MRN-ALG1^^^&amp;2.16.840.1.113883.19.5.99999.2&amp;ISO">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.patientId"/></rim:Name>
   </rim:ExternalIdentifier>
   <rim:ExternalIdentifier id="ei1b" registryObject="Document01" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.840.99999.1.3">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:ExtrinsicObject>
  <rim:Association id="as01" associationType="urn:ihe:iti:2007:AssociationType:RPLC" sourceObject="Document01" targetObject="urn:uuid:5d3f2b8a-1c4e-4f6a-9b7d-2e8c0a1f3b5d"/>
  <rim:ExternalIdentifier id="ei2" registryObject="urn:uuid:5d3f2b8a-1c4e-4f6a-9b7d-2e8c0a1f3b5d" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.840.99999.1.2">
   <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
  </rim:ExternalIdentifier>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"""
pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\n% corrected\ntrailer<</Root 1 0 R>>\n%%EOF\n"
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("IHE_XDM/SUBSET01/METADATA.XML", meta)
    z.writestr("IHE_XDM/SUBSET01/DOC0001.PDF", pdf)
PYZIP
cp "$WORK/xdm-rplc.zip" "$WORK/xdm-in/.direct-3.tmp" && mv "$WORK/xdm-in/.direct-3.tmp" "$WORK/xdm-in/direct-3.zip"
rfc='urn:ietf:rfc:3986|urn:oid:1.2.840.99999.1'
for ((i = 0; i < 30; i++)); do
  [ "$(fhir_get "DocumentReference?identifier=$rfc.2" | jq -r '.entry[0].resource.status')" = superseded ] && break
  sleep 1
done
old_st=$(fhir_get "DocumentReference?identifier=$rfc.2" | jq -r '[.entry[].resource.status] | join(",")')
[ "$old_st" = superseded ] || die "XDM replacement: the replaced PDF is '$old_st' at the exchange, want superseded ($(tail -3 "$WORK/ferry9.log"))"
new_doc=$(fhir_get "DocumentReference?identifier=$rfc.3" | jq -c '[.entry[].resource | {status, relatesTo, subject: .subject.reference}]')
[ "$(jq -r 'length' <<<"$new_doc")" = 1 ] &&
  [ "$(jq -r '.[0].status' <<<"$new_doc")" = current ] &&
  [ "$(jq -r '.[0].relatesTo[0].code' <<<"$new_doc")" = replaces ] &&
  [ "$(jq -r '.[0].relatesTo[0].target.identifier.value' <<<"$new_doc")" = urn:oid:1.2.840.99999.1.2 ] &&
  [ "$(jq -r '.[0].subject' <<<"$new_doc")" = "Patient/$xdm_pt" ] ||
  die "XDM replacement: the corrected PDF at the exchange: $new_doc"
assert_drained "$S9"
ls "$WORK"/xdm-in/.ferry/done/*/direct-3.zip >/dev/null 2>&1 || die "XDM replacement: the archive is not in done/"
log "XDM replacement (Association RPLC): the corrected PDF is current and relatesTo replaces the original, which the exchange now holds superseded; nothing dead-lettered"
stop_pid "$FERRY_PID" TERM

# 13b. Security labels and exchange.hold (the default, [R, V, 42CFRPart2], with an exchange set):
#      a privacy segmented C-CDA (DS4P R1: Privacy Markings section, entry-level annotations) dropped
#      into the folder, and an XDM package whose METADATA.XML labels a normal C-CDA 42CFRPart2 (as a
#      Direct sender does), are both held: acknowledged, not sent. `ferry held release` (gateway
#      stopped) sends them, and the exchange stores each resource with its labels: the annotated
#      Condition its sensitivity and obligation, every resource of the Part 2 package its policy.
sed 's/MRN-PRB1/MRN-XDML1/; s/extension="PRB1"/extension="XDML1"/' "$root/testdata/convert/ccda-problem/input.xml" >"$WORK/xdml.xml"
python3 - "$WORK/xdml.xml" "$WORK/xdm-labels.zip" <<'PYZIP'
import sys, zipfile
doc, out = sys.argv[1], sys.argv[2]
meta = """<?xml version="1.0" encoding="UTF-8"?>
<lcm:SubmitObjectsRequest xmlns:lcm="urn:oasis:names:tc:ebxml-regrep:xsd:lcm:3.0" xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0">
 <rim:RegistryObjectList>
  <rim:ExtrinsicObject id="Document01" mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1">
   <rim:Slot name="URI"><rim:ValueList><rim:Value>DOC0001.XML</rim:Value></rim:ValueList></rim:Slot>
   <rim:Classification classificationScheme="urn:uuid:f4f85eac-e6cb-4883-b524-f2705394840f" classifiedObject="Document01" nodeRepresentation="42CFRPart2">
    <rim:Slot name="codingScheme"><rim:ValueList><rim:Value>2.16.840.1.113883.5.4</rim:Value></rim:ValueList></rim:Slot>
   </rim:Classification>
   <rim:ExternalIdentifier id="ei1" registryObject="Document01" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="1.2.840.99999.1.9">
    <rim:Name><rim:LocalizedString value="XDSDocumentEntry.uniqueId"/></rim:Name>
   </rim:ExternalIdentifier>
  </rim:ExtrinsicObject>
 </rim:RegistryObjectList>
</lcm:SubmitObjectsRequest>
"""
with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
    z.writestr("IHE_XDM/SUBSET01/METADATA.XML", meta)
    z.write(doc, "IHE_XDM/SUBSET01/DOC0001.XML")
PYZIP
start_ferry "$WORK/ferry9x.yaml" "$WORK/ferry9.log" "$M9"
cp "$root/testdata/convert/ccda-ds4p/input.xml" "$WORK/xdm-in/.ds4p.tmp" && mv "$WORK/xdm-in/.ds4p.tmp" "$WORK/xdm-in/ds4p.xml"
cp "$WORK/xdm-labels.zip" "$WORK/xdm-in/.labels.tmp" && mv "$WORK/xdm-in/.labels.tmp" "$WORK/xdm-in/labels.zip"
for ((i = 0; i < 30; i++)); do
  ls "$WORK"/xdm-in/.ferry/done/*/ds4p.xml "$WORK"/xdm-in/.ferry/done/*/labels.zip >/dev/null 2>&1 && break
  sleep 1
done
"$FERRY" held list --config "$WORK/ferry9x.yaml" >"$WORK/held.txt" 2>&1 || die "ferry held list failed: $(cat "$WORK/held.txt")"
[ "$(awk 'NR > 1' "$WORK/held.txt" | wc -l)" = 2 ] || die "labelled documents: want 2 held, ferry held list says: $(cat "$WORK/held.txt")"
grep -q '42CFRPart2' "$WORK/held.txt" || die "the XDM package's Part 2 label did not hold it: $(cat "$WORK/held.txt")"
for id in $(awk 'NR > 1 {print $1}' "$WORK/held.txt"); do
  "$FERRY" held show "$id" --config "$WORK/ferry9x.yaml" >>"$WORK/held-show.txt" 2>&1 || die "ferry held show $id failed: $(cat "$WORK/held-show.txt")"
done
grep -q '^labels: *R, 42CFRPart2, OPIOIDUD ' "$WORK/held-show.txt" && grep -q '^labels: *N, 42CFRPart2 ' "$WORK/held-show.txt" ||
  die "ferry held show does not name the bundles' labels: $(grep labels "$WORK/held-show.txt")"
[ "$(fhir_total "Patient?identifier=$CCDA_SYS|MRN-DS4P1")" = 0 ] && [ "$(fhir_total "Patient?identifier=$CCDA_SYS|MRN-XDML1")" = 0 ] ||
  die "a held document reached the exchange"
stop_pid "$FERRY_PID" TERM
# shellcheck disable=SC2046
"$FERRY" held release $(awk 'NR > 1 {print $1}' "$WORK/held.txt") --config "$WORK/ferry9x.yaml" >"$WORK/release.txt" 2>&1 ||
  die "ferry held release failed: $(cat "$WORK/release.txt")"
start_ferry "$WORK/ferry9x.yaml" "$WORK/ferry9.log" "$M9"
wait_total "Patient?identifier=$CCDA_SYS|MRN-DS4P1" 1 30 || die "released: the DS4P document's patient did not arrive"
wait_total "Patient?identifier=$CCDA_SYS|MRN-XDML1" 1 30 || die "released: the XDM package's patient did not arrive"
assert_drained "$S9"
ds4p_pt=$(fhir_get "Patient?identifier=$CCDA_SYS|MRN-DS4P1" | jq -r '.entry[0].resource.id')
labels=$(fhir_get "Condition?subject=Patient/$ds4p_pt" | jq -c '[.entry[].resource | [.meta.security[]?.code] | join(",")] | sort')
[ "$labels" = '["R,42CFRPart2,NORDSCLCD,TREAT","R,42CFRPart2,NORDSCLCD,TREAT,OPIOIDUD,ENCRYPT"]' ] ||
  die "DS4P document: the exchange holds its Conditions labelled $labels"
xdml_pt=$(fhir_get "Patient?identifier=$CCDA_SYS|MRN-XDML1" | jq -r '.entry[0].resource.id')
xlabels=$(fhir_get "Condition?subject=Patient/$xdml_pt" | jq -c '[.entry[].resource | [.meta.security[]?.code] | join(",")] | unique')
[ "$xlabels" = '["N,42CFRPart2"]' ] || die "XDM package labelled 42CFRPart2: the exchange holds its Conditions labelled $xlabels"
log "security labels: a DS4P C-CDA and an XDM package labelled 42CFRPart2 were held ($(awk 'NR > 1 {print $4}' "$WORK/held.txt" | sort | paste -sd, -)), released by ferry held release, and stored with their labels (Conditions: $labels; $xlabels)"
stop_pid "$FERRY_PID" TERM

# 14. A vendor CSV export in an EHR folder, read through the folder's csv mappings: the patients
#     file's Patient and the labs file's Observation reach the exchange on one Patient; a row with a
#     date no format fits sends nothing of its file and says which line and column, without the
#     value; the next export with the same rows (other bytes) changes nothing at the exchange, but for
#     the encounters file, whose open visit the next export closes: the Encounter the export's visit
#     id names is updated in place, not made twice.
M10=$(freeport)
S10=$(freeport)
mkdir -p "$WORK/csv-in"
write_config "$WORK/ferry10.yaml" "$WORK/data10" "$M10" "$S10"
CSV_SYS="urn:oid:2.16.840.1.113883.3.7777.1"
cat >"$WORK/csv-src.yaml" <<YCSV
  folders:
    - name: ehr
      kind: ehr
      path: $WORK/csv-in
      csv:
        - match: "patients*.csv"
          resource: Patient
          date_formats: ["M/D/YYYY"]
          identifier: {column: MRN, system: "$CSV_SYS"}
          columns: {Last: name.family, First: name.given, DOB: birthDate, Sex: {path: gender, map: {M: male, F: female}}}
        - match: "labs*.csv"
          resource: Observation
          date_formats: ["M/D/YYYY"]
          patient: {column: MRN, system: "$CSV_SYS"}
          columns: {LOINC: code, Test: code.display, Result: value, Units: valueQuantity.ucum, Collected: effectiveDateTime}
          set: {category: laboratory}
        - match: "encounters*.csv"
          resource: Encounter
          date_formats: ["M/D/YYYY H:mm"]
          patient: {column: MRN, system: "$CSV_SYS"}
          identifier: {column: Visit, system: "urn:oid:2.16.840.1.113883.3.7777.5"}
          columns: {Type: type.text, Start: period.start, End: period.end, Provider: participant.display}
          set: {class: AMB}
YCSV
awk -v f="$WORK/csv-src.yaml" '{print} /^      idle_timeout: /{while ((getline l < f) > 0) print l}' "$WORK/ferry10.yaml" >"$WORK/ferry10x.yaml"
start_ferry "$WORK/ferry10x.yaml" "$WORK/ferry10.log" "$M10"
drop_csv() { printf '%b' "$2" >"$WORK/csv-in/.$1.tmp" && mv "$WORK/csv-in/.$1.tmp" "$WORK/csv-in/$1"; }
drop_csv patients-1.csv 'MRN,Last,First,DOB,Sex\r\nCSV-MRN-1,Harbour,Ines,3/4/1980,F\r\n'
drop_csv labs-1.csv 'MRN,LOINC,Test,Result,Units,Collected\r\nCSV-MRN-1,2345-7,Glucose,95,mg/dL,3/4/2024\r\n'
drop_csv patients-bad.csv 'MRN,Last,First,DOB,Sex\r\nCSV-MRN-2,Harbour,Otto,13/40/1970,M\r\n'
drop_csv encounters-1.csv 'Visit,MRN,Type,Start,End,Provider\r\nV-1,CSV-MRN-1,Office visit,3/4/2024 8:00,,Dr. Rivera\r\n'
csv_pt=""
for ((i = 0; i < 60; i++)); do
  csv_pt=$(fhir_get "Patient?identifier=$CSV_SYS|CSV-MRN-1" | jq -r '.entry[0].resource | select(.name[0].family == "Harbour") | .id // empty')
  [ -n "$csv_pt" ] && [ "$(fhir_total "Observation?subject=Patient/$csv_pt&code=http://loinc.org|2345-7")" = 1 ] && break
  sleep 1
done
[ -n "$csv_pt" ] || die "CSV drop: the patients file's Patient did not reach the exchange ($(tail -3 "$WORK/ferry10.log"))"
[ "$(fhir_total "Observation?subject=Patient/$csv_pt&code=http://loinc.org|2345-7")" = 1 ] || die "CSV drop: the labs file's Observation is not on the patient"
[ "$(fhir_total "Patient?identifier=$CSV_SYS|CSV-MRN-1")" = 1 ] || die "CSV drop: the labs file made a second Patient"
for ((i = 0; i < 30; i++)); do ls "$WORK"/csv-in/.ferry/failed/patients-bad.csv.error.txt >/dev/null 2>&1 && break; sleep 1; done
bad_reason=$(cat "$WORK"/csv-in/.ferry/failed/patients-bad.csv.error.txt 2>/dev/null) || die "CSV drop: the file with a bad date is not in failed/"
grep -q 'line 2, column "DOB"' <<<"$bad_reason" || die "CSV drop: the error does not name the line and column: $bad_reason"
grep -q '13/40/1970' <<<"$bad_reason" && die "CSV drop: the error quotes the patient's birth date"
[ "$(fhir_total "Patient?identifier=$CSV_SYS|CSV-MRN-2")" = 0 ] || die "CSV drop: a file with a bad row was partly sent"
for ((i = 0; i < 30; i++)); do [ "$(fhir_total "Encounter?subject=Patient/$csv_pt")" = 1 ] && break; sleep 1; done
[ "$(fhir_get "Encounter?subject=Patient/$csv_pt" | jq -r '.entry[0].resource.status')" = unknown ] || die "CSV drop: the open visit's Encounter is not on the patient"
assert_drained "$S10"
before=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
# the next export: other column order, a column no mapping reads, LF line ends (other bytes, same rows)
drop_csv patients-2.csv 'First,Last,MRN,Sex,DOB,Site\nInes,Harbour,CSV-MRN-1,F,3/4/1980,North\n'
drop_csv labs-2.csv 'Collected,MRN,Test,LOINC,Result,Units,Site\n3/4/2024,CSV-MRN-1,Glucose,2345-7,95,mg/dL,North\n'
drop_csv encounters-2.csv 'Visit,MRN,Type,Start,End,Provider\nV-1,CSV-MRN-1,Office visit,3/4/2024 8:00,3/4/2024 8:40,Dr. Rivera\n'
for ((i = 0; i < 30; i++)); do
  ls "$WORK"/csv-in/.ferry/done/*/labs-2.csv "$WORK"/csv-in/.ferry/done/*/patients-2.csv "$WORK"/csv-in/.ferry/done/*/encounters-2.csv >/dev/null 2>&1 && break
  sleep 1
done
assert_drained "$S10"
sleep 2
after=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
[ "$before" = "$after" ] || die "CSV drop: the same export again changed the exchange: $before -> $after"
[ "$(fhir_get "Encounter?subject=Patient/$csv_pt" | jq -r '[.entry[].resource.status] | join(",")')" = finished ] ||
  die "CSV drop: the closed visit did not update its Encounter in place: $(fhir_get "Encounter?subject=Patient/$csv_pt" | jq -c '[.entry[].resource | {status, period}]')"
log "CSV export in an EHR folder: Patient $csv_pt, its glucose Observation and its open visit's Encounter delivered; a bad date refused the whole file, naming line 2 and column DOB without the value; the next export of the same rows changed nothing but the visit it closed, updated in place"
stop_pid "$FERRY_PID" TERM

# 15. What the gateway must remember across restarts (lifecycle.sh, its own exchange and gateway):
#     after an A40 and a SIGKILL right after its ACK, results under the retired MRN go to the
#     survivor, before and after a clean restart (merges.log); a replaced C-CDA version dropped after
#     its replacement and an MDM T02 after its T10 are written superseded (replaced.log).
mkdir -p "$WORK/lifecycle"
WORK=$WORK/lifecycle bash "$here/lifecycle.sh" || {
  tail -15 "$WORK/lifecycle/ferry.log" 2>/dev/null
  die "lifecycle: merges or document versions were not remembered (see above)"
}

# 16. A sender that waits for an application acknowledgement (MSH-15 NE, MSH-16 AL, as IHE LAW's
#     OUL^R22 result messages ask) gets one from a listener with app_ack: true: mllp_send, which
#     waits for one answer, gets AA (MSA-2 its MSH-10; the ACK's own MSH-15/16 NE), and the result
#     reaches the exchange; one that cannot be converted gets AE. Without app_ack (the listeners
#     above) mllp_send would wait for ever, so it runs under a timeout.
M11=$(freeport)
S11=$(freeport)
write_config "$WORK/ferry11.yaml" "$WORK/data11" "$M11" "$S11"
sed -i 's/^      idle_timeout: 1m$/      idle_timeout: 1m\n      app_ack: true/' "$WORK/ferry11.yaml"
grep -q '^      app_ack: true$' "$WORK/ferry11.yaml" || die "app_ack: the suite's config was not written"
start_ferry "$WORK/ferry11.yaml" "$WORK/ferry11.log" "$M11"
sed -e '1s/|P|2.5.1||||||/|P|2.5.1|||NE|AL||/' -e '1s/CI-ORU-0001/CI-APP-0001/' -e 's/CI-MRN-1002/CI-MRN-1102/' "$msgs/oru_r01.hl7" >"$WORK/app-ack.hl7"
grep -q '|NE|AL|' "$WORK/app-ack.hl7" || die "app_ack: the test message has no MSH-15/16"
timeout 20 mllp_send --loose -p "$M11" --file "$WORK/app-ack.hl7" 127.0.0.1 >"$WORK/app-ack.out" ||
  die "app_ack: mllp_send got no answer to an NE/AL message in 20 s"
[ "$(msa <"$WORK/app-ack.out")" = AA ] || die "app_ack: got '$(tr '\r' '\n' <"$WORK/app-ack.out")', want MSA AA"
tr '\r\013\034' '\n\n\n' <"$WORK/app-ack.out" | awk -F'|' '$1=="MSA" && $3=="CI-APP-0001" {m=1} $1=="MSH" && $15=="NE" && $16=="NE" {h=1} END {exit !(m && h)}' ||
  die "app_ack: the ACK does not answer CI-APP-0001 with MSH-15/16 NE: $(tr '\r' '\n' <"$WORK/app-ack.out")"
wait_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-1102" 1 60 || die "app_ack: the acknowledged result's patient did not reach the exchange"
sed -e '1s/|P|2\.5\.1\r\?$/|P|2.5.1|||NE|AL/' -e '1s/CI-BAD-0001/CI-APP-BAD1/' "$msgs/malformed.hl7" >"$WORK/app-ack-bad.hl7"
grep -q '|NE|AL$' "$WORK/app-ack-bad.hl7" || die "app_ack: the malformed test message has no MSH-15/16"
timeout 20 mllp_send --loose -p "$M11" --file "$WORK/app-ack-bad.hl7" 127.0.0.1 >"$WORK/app-ack-bad.out" ||
  die "app_ack: mllp_send got no answer to a malformed NE/AL message in 20 s"
[ "$(msa <"$WORK/app-ack-bad.out")" = AE ] || die "app_ack: the malformed message got '$(tr '\r' '\n' <"$WORK/app-ack-bad.out")', want MSA AE"
[ "$(metric "$S11" 'ferry_mllp_app_acks_sent_total{source="ci"}')" = 2 ] ||
  die "app_ack: ferry_mllp_app_acks_sent_total is $(metric "$S11" 'ferry_mllp_app_acks_sent_total{source="ci"}'), want 2 (the AA and the AE)"
log "app_ack: mllp_send waiting for an application ACK (MSH-15 NE, MSH-16 AL) got AA once the result was stored, AE for a malformed one"

# 17. The HL7 sequence number protocol (MSH-13, MSA-4; v2.3 §2.23.1), on the same listener, with
#     mllp_send as the sender: a link start (MSH-13 0, MSH only) is answered AA with MSA-4 -1 (no
#     number yet) and stores nothing; message 1 gets MSA-4 2; resent under 1 (a lost ACK) it is a
#     duplicate, still MSA-4 2, one patient at the exchange; after kill -9 and a restart, a link start
#     learns 2 (the number was fsynced before the ACK); a gap (5) is stored and counted.
msa4() { tr '\r\013\034' '\n\n\n' | awk -F'|' '$1=="MSA"{print $2 " " $5; exit}'; }
printf 'MSH|^~\\&|SEQLAB|NORTHCLINIC|FERRY|HIE|20261127120000||^|CI-SEQ-0|P|2.3|0\n' >"$WORK/seq-start.hl7"
seqmsg() { sed -e "1s/|CI-ORU-0001|P|2.5.1|/|$1|P|2.5.1|$2/" -e '1s/|CLINIC_LAB|/|SEQLAB|/' -e 's/CI-MRN-1002/CI-MRN-1702/' "$msgs/oru_r01.hl7"; }
seqmsg CI-SEQ-1 1 >"$WORK/seq-1.hl7"
seqmsg CI-SEQ-5 5 >"$WORK/seq-5.hl7"
grep -q '|CI-SEQ-1|P|2.5.1|1|' "$WORK/seq-1.hl7" || die "sequence: the test message has no MSH-13: $(head -1 "$WORK/seq-1.hl7")"
seqsend() { timeout 20 mllp_send --loose -p "$M11" --file "$1" 127.0.0.1 | msa4; }
[ "$(seqsend "$WORK/seq-start.hl7")" = "AA -1" ] || die "sequence: link start got '$(seqsend "$WORK/seq-start.hl7")', want AA with MSA-4 -1"
[ "$(seqsend "$WORK/seq-1.hl7")" = "AA 2" ] || die "sequence: message 1 not answered AA with MSA-4 2"
[ "$(seqsend "$WORK/seq-1.hl7")" = "AA 2" ] || die "sequence: message 1 resent not answered AA with MSA-4 2"
wait_total "Patient?identifier=$HOSP_SYSTEM|CI-MRN-1702" 1 60 || die "sequence: the numbered result's patient did not reach the exchange once"
stop_pid "$FERRY_PID" KILL
start_ferry "$WORK/ferry11.yaml" "$WORK/ferry11.log" "$M11"
got=$(seqsend "$WORK/seq-start.hl7")
[ "$got" = "AA 2" ] || die "sequence: link start after kill -9 got '$got', want AA with MSA-4 2"
[ "$(seqsend "$WORK/seq-5.hl7")" = "AA 6" ] || die "sequence: a gap (5 after 1) not stored with MSA-4 6"
[ "$(metric "$S11" 'ferry_mllp_sequence_anomalies_total{source="ci",kind="gap"}')" = 1 ] || die "sequence: the gap was not counted"
grep -q 'SEQLAB|NORTHCLINIC|FERRY|HIE expects 6' <<<"$("$FERRY" status --config "$WORK/ferry11.yaml")" || die "sequence: ferry status does not show the stream: $("$FERRY" status --config "$WORK/ferry11.yaml")"
log "sequence numbers: mllp_send's link start got MSA-4 -1, then 2 after message 1 (resent: a duplicate) and after kill -9; a gap was stored and counted"
stop_pid "$FERRY_PID" TERM

# 18. A fax mailbox on a real IMAP server (mailbox.sh, its own Dovecot, exchange and gateway, ~5 s):
#     an e-mailed fax delivered by curl reaches the exchange and its message moves to ferry-done; a
#     notice without a fax moves to ferry-failed with ferry's note.
mkdir -p "$WORK/mailbox"
WORK=$WORK/mailbox bash "$here/mailbox.sh" || {
  tail -15 "$WORK/mailbox/ferry.log" 2>/dev/null
  die "fax mailbox: see above"
}

# 19. IHE MHD Simplified Publish (ITI-105; fax.profile mhd-simplified): a TIFF fax whose file name
#     names its patient reaches the exchange as one DocumentReference POSTed to [base]/DocumentReference,
#     its PDF rendition inline (attachment.data, with the right SHA-1 and size), If-None-Exist on its
#     masterIdentifier: no SubmissionSet List, no Binary, no Patient. A second gateway with a fresh data
#     folder (a reinstall, a backup restored from before the delivery) sends the same fax again: the
#     conditional create finds the document and the exchange still holds one. A fax that names no
#     patient goes as an ITI-65 Minimal bundle (Simplified Publish needs a subject). What the exchange
#     holds passes @medplum/core validation.
M19=$(freeport)
S19=$(freeport)
SP_SYS=urn:oid:1.3.6.1.4.1.21367.13.20.1000
sp_config() { # DATA: writes $WORK/ferry19.yaml for a gateway on the fax folder $WORK/sp-in
  write_config "$WORK/ferry19.yaml" "$1" "$M19" "$S19" "$EX_URL" "  folders:
    - {name: fax, kind: fax, path: $WORK/sp-in, settle: 200ms, patterns: ['^(?P<doctype>[a-z]+)_(?P<mrn>[0-9]+)']}"
  printf 'fax:\n  profile: mhd-simplified\n  source_id: 1.3.6.1.4.1.21367.2026.1\n  patient_system: %s\n' "$SP_SYS" >>"$WORK/ferry19.yaml"
}
# sp_docs: the exchange's DocumentReferences of the fax's patient (the stand-in's memory repository
# has no subject:identifier search), as a JSON array
sp_docs() { fhir_get "DocumentReference?_count=1000" | jq -c --arg s "$SP_SYS" '[.entry[]?.resource | select(.subject.identifier.system == $s and .subject.identifier.value == "71905")]'; }
mkdir -p "$WORK/sp-in"
lists0=$(fhir_total List)
bins0=$(fhir_total Binary)
sp_config "$WORK/data19"
start_ferry "$WORK/ferry19.yaml" "$WORK/ferry19.log" "$M19"
cp "$root/testdata/fax/g4-fine-1p.tif" "$WORK/sp-in/.r.tmp" && mv "$WORK/sp-in/.r.tmp" "$WORK/sp-in/referral_71905.tif"
for ((i = 0; i < 60; i++)); do [ "$(sp_docs | jq length)" = 1 ] && break; sleep 1; done
[ "$(sp_docs | jq length)" = 1 ] || die "simplified publish: no DocumentReference for the fax's patient ($(tail -3 "$WORK/ferry19.log"))"
assert_drained "$S19"
sp_docs | jq '.[0]' >"$WORK/sp-doc.json"
python3 - "$WORK/sp-doc.json" <<'PYDOC' || die "simplified publish: the DocumentReference at the exchange: $(head -c 400 "$WORK/sp-doc.json")"
import base64, hashlib, json, sys
d = json.load(open(sys.argv[1]))
assert d["meta"]["profile"] == ["https://profiles.ihe.net/ITI/MHD/StructureDefinition/IHE.MHD.SimplifiedPublish.DocumentReference"], d["meta"]
assert d["status"] == "current" and d["masterIdentifier"]["value"].startswith("urn:oid:2.25."), d
assert "identifier" not in d and "reference" not in d["subject"], d
assert len(d["content"]) == 1, d["content"]
a = d["content"][0]["attachment"]
pdf = base64.b64decode(a["data"])
assert pdf.startswith(b"%PDF-") and "url" not in a and a["contentType"] == "application/pdf", a.keys()
assert a["size"] == len(pdf) and a["hash"] == base64.b64encode(hashlib.sha1(pdf).digest()).decode(), (a["size"], len(pdf))
PYDOC
node "${NODE_FLAGS[@]}" "$CI_DIR/exchange/validate.mjs" "$WORK/sp-doc.json" >"$WORK/sp-validate.log" 2>&1 || die "simplified publish: the DocumentReference fails validation: $(head -5 "$WORK/sp-validate.log")"
[ "$(fhir_total List)" = "$lists0" ] && [ "$(fhir_total Binary)" = "$bins0" ] || die "simplified publish: a SubmissionSet or Binary was sent"
grep -q 'POST /fhir/R4/DocumentReference 201' "$WORK/ex/exchange.log" || die "simplified publish: the exchange logged no create at [base]/DocumentReference"
stop_pid "$FERRY_PID" TERM
master=$(jq -r .masterIdentifier.value "$WORK/sp-doc.json")
sp_config "$WORK/data19b"
start_ferry "$WORK/ferry19.yaml" "$WORK/ferry19.log" "$M19"
cp "$root/testdata/fax/g4-fine-1p.tif" "$WORK/sp-in/.r.tmp" && mv "$WORK/sp-in/.r.tmp" "$WORK/sp-in/referral_71905-again.tif"
cp "$root/testdata/fax/g4-fine-3p.tif" "$WORK/sp-in/.r.tmp" && mv "$WORK/sp-in/.r.tmp" "$WORK/sp-in/unknown-sender.tif"
for ((i = 0; i < 60; i++)); do
  [ "$(grep -c 'POST /fhir/R4/DocumentReference 200' "$WORK/ex/exchange.log")" -ge 1 ] && [ "$(fhir_total List)" != "$lists0" ] && break
  sleep 1
done
assert_drained "$S19"
[ "$(fhir_total "DocumentReference?identifier=urn:ietf:rfc:3986|$master")" = 1 ] && [ "$(sp_docs | jq length)" = 1 ] || die "simplified publish: the same fax from a fresh gateway made a second DocumentReference"
grep -q 'POST /fhir/R4/DocumentReference 200' "$WORK/ex/exchange.log" || die "simplified publish: the second create was not answered as found (200)"
[ "$(fhir_total List)" = $((lists0 + 1)) ] || die "simplified publish: the fax without a patient did not go as an ITI-65 bundle"
log "MHD Simplified Publish (ITI-105): a fax became one DocumentReference created at [base]/DocumentReference, its PDF inline (hash and size right, valid); the same fax from a fresh gateway was found by If-None-Exist (one at the exchange); a fax without a patient went as ITI-65"
stop_pid "$FERRY_PID" TERM

# 20. An exchange that takes bundles as files over SFTP (sftp.sh, its own OpenSSH sshd and gateway,
#     ~15 s): mllp_send's messages become whole Bundle files in the drop directory, in order; ferry
#     doctor logs in; an outage and a changed host key keep the bundles queued, none dead-lettered;
#     after three kill -9s every acknowledged message is in the drop directory; with sftp.format
#     hl7v2 the messages are .hl7 files as sent; a folder with fetch: empties the server's outbound
#     directory into itself and converts what it fetched.
mkdir -p "$WORK/sftp"
chmod 755 "$WORK/sftp"
WORK=$WORK/sftp bash "$here/sftp.sh" || {
  tail -15 "$WORK/sftp/ferry.log" 2>/dev/null
  die "sftp exchange: see above"
}

grep -q "CI-MRN-\|Tester\|Harbour" "$WORK/ferry.log" "$WORK/ferry2.log" "$WORK/ferry3.log" "$WORK/ferry4.log" "$WORK/ferry5.log" "$WORK/ferry6.log" "$WORK/ferry7.log" "$WORK/ferry8.log" "$WORK/ferry9.log" "$WORK/ferry10.log" "$WORK/ferry11.log" "$WORK/ferry19.log" && die "ferry log contains PHI (MRN/name/address)"
log "ferry log has no PHI"
log "PASS"
