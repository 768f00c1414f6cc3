#!/usr/bin/env bash
# validate.sh: the converters' output, checked by parts ferry does not own.
# 1. every golden expected.json under testdata/convert passes @medplum/core validateResource;
# 2. `ferry convert` of every test input (testdata/convert/*/input.*, testdata/hl7v2/*.hl7) passes too
#    (a CSV case with its mapping.yaml as an EHR folder's csv mapping);
# 3. each converted Bundle is accepted by the Medplum stand-in exchange (POST over mTLS with curl:
#    HTTP 200, every entry 2xx), what it then holds passes audit-exchange.mjs (no dangling reference,
#    empty identifier, clinical resource without its patient, two Patients for one identifier, ...),
#    and posting them all a second time changes no resource count and no resource's content;
# 4. every HL7 v2 input converted again under a new MSH-10 adds nothing at the exchange but the new
#    messages' MessageHeader, Binary and Provenance.
set -euo pipefail
SUITE=validate
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-validate.XXXXXX)}
trap cleanup EXIT
root=$(cd "$CI_DIR/.." && pwd)
validate() { node "${NODE_FLAGS[@]}" "$CI_DIR/exchange/validate.mjs" "$@"; }

validate "$root/testdata/convert" || die "golden files fail validation"

inputs=()
for f in "$root"/testdata/convert/*/input.*; do # only cases that expect a Bundle (not an error)
  [ -f "$f" ] && [ -f "$(dirname "$f")/expected.json" ] && inputs+=("$f")
done
for f in "$root"/testdata/hl7v2/*.hl7; do # deliberately broken samples are named so
  case $(basename "$f") in bad* | malformed* | invalid* | broken*) continue ;; esac
  [ -f "$f" ] && inputs+=("$f")
done
((${#inputs[@]} > 0)) || die "no test inputs found"
# convert each input on its own so every output file can be traced to its case
mkdir -p "$WORK/out"
for f in "${inputs[@]}"; do
  name=$(basename "$(dirname "$f")")
  [ "$name" = hl7v2 ] && name=hl7v2-$(basename "$f" .hl7)
  mkdir -p "$WORK/out/$name"
  cfg=()
  if [ -f "$(dirname "$f")/mapping.yaml" ]; then
    # a CSV case: its mapping, as an EHR folder's only csv mapping, matching the input's name
    mkdir -p "$WORK/csv-in"
    {
      printf 'data_dir: %s
sources:
  mllp: []
  folders:
    - name: ehr
      kind: ehr
      path: %s
      csv:
' "$WORK/csv-data" "$WORK/csv-in"
      awk -v n="$(basename "$f")" 'NR == 1 {p = "        - "} NR > 1 {p = "          "} /^match:/ {$0 = "match: \"" n "\""} {print p $0}' "$(dirname "$f")/mapping.yaml"
    } >"$WORK/csv-$name.yaml"
    cfg=(--config "$WORK/csv-$name.yaml")
  fi
  "$FERRY" convert "${cfg[@]}" "$f" --out "$WORK/out/$name" >>"$WORK/convert.log" 2>&1 || die "ferry convert $f failed: $(tail -3 "$WORK/convert.log")"
done
# 2b. the fax test images become MHD bundles that validate too
mkdir -p "$WORK/out/fax"
for f in "$root"/testdata/fax/*.tif; do
  "$FERRY" convert "$f" --out "$WORK/out/fax" >>"$WORK/convert.log" 2>&1 || die "ferry convert $f failed: $(tail -3 "$WORK/convert.log")"
done
# 2b'. an e-mailed fax, written by Python's email package (an independent MIME writer): a T.37
# address, a subject, a text part and a TIFF attachment beside a logo; one fax, its call facts read
# from the message.
python3 - "$root/testdata/fax/g4-fine-1p.tif" "$WORK/emailed-fax.eml" <<'PY'
import sys
from email.message import EmailMessage
from email.utils import format_datetime
from datetime import datetime, timezone
m = EmailMessage()
m["From"] = "Fax Service <noreply@fax.example.com>"
m["To"] = "FAX=+15550199@fax.example.org"
m["Subject"] = "New fax from +1 555-010-0999 – 1 page"
m["Date"] = format_datetime(datetime(2026, 11, 24, 14, 15, 2, tzinfo=timezone.utc))
m["Message-ID"] = "<ci-emailed-fax-1@fax.example.com>"
m.set_content("You have received a fax.\nCaller ID: 555-0100\n")
m.add_attachment(b"\x89PNG\r\n\x1a\n", maintype="image", subtype="png", filename="logo.png")
m.add_attachment(open(sys.argv[1], "rb").read(), maintype="image", subtype="tiff", filename="fax.tif")
open(sys.argv[2], "wb").write(bytes(m))
PY
"$FERRY" convert "$WORK/emailed-fax.eml" --out "$WORK/out/fax" >>"$WORK/convert.log" 2>&1 || die "ferry convert of an e-mailed fax failed: $(tail -3 "$WORK/convert.log")"
jq -e '[.entry[].resource | select(.resourceType == "DocumentReference")] | length >= 1 and
  (.[0] | tostring | contains("555-0100") and contains("+15550199") and contains("2026-11-24T14:15:02"))' "$WORK"/out/fax/emailed-fax.1.json >/dev/null ||
  die "the e-mailed fax's DocumentReference does not carry the caller id, the number dialled and the receive time of the message"
log "e-mailed fax (Python email package): converted, with the caller id, number dialled and receive time read from the message"

validate "$WORK/out" || die "ferry convert output fails validation"

# 2c. the shared corpus written by others (CI has it beside the checkout): every C-CDA document
# converts; every HL7 v2 message either converts or is refused with a per-message reason (an
# unsupported type or unusable content, as the issue note reports); whatever converts validates.
corpus=$root/../shared/corpus
if [ -d "$corpus" ]; then
  mkdir -p "$WORK/corpus/ccda" "$WORK/corpus/hl7v2"
  "$FERRY" convert "$corpus"/ccda/*.xml --out "$WORK/corpus/ccda" >"$WORK/corpus-ccda.log" 2>&1 ||
    die "C-CDA corpus: $(grep -v 'bundle(s) written' "$WORK/corpus-ccda.log" | head -5)"
  set +e
  "$FERRY" convert "$corpus"/hl7v2/*.hl7 --out "$WORK/corpus/hl7v2" >"$WORK/corpus-v2.log" 2>&1
  rc=$?
  set -e
  ((rc <= 1)) || die "HL7 v2 corpus: ferry convert crashed (exit $rc): $(tail -5 "$WORK/corpus-v2.log")"
  grep -qi 'panic' "$WORK/corpus-v2.log" && die "HL7 v2 corpus: panic: $(grep -i -m3 panic "$WORK/corpus-v2.log")"
  log "C-CDA corpus: $(find "$WORK/corpus/ccda" -name '*.json' | wc -l) bundles from $(ls "$corpus"/ccda/*.xml | wc -l) documents"
  log "HL7 v2 corpus: $(find "$WORK/corpus/hl7v2" -name '*.json' | wc -l) bundles from $(ls "$corpus"/hl7v2/*.hl7 | wc -l) messages; refused: $(grep -c ': message' "$WORK/corpus-v2.log" || true)"
  validate "$WORK/corpus" || die "corpus conversion output fails validation"
  cp -r "$WORK/corpus/ccda" "$WORK/out/corpus-ccda"
  cp -r "$WORK/corpus/hl7v2" "$WORK/out/corpus-hl7v2"
else
  log "no ../shared/corpus beside the checkout: corpus validation skipped"
fi

start_exchange "$WORK/ex"
post_all() { # ROUND [DIR]: POST every bundle under DIR ($WORK/out)
  local f code bad missing n=0 gone=0 dir=${2:-$WORK/out}
  while IFS= read -r f; do
    code=$(curl -sS -o "$WORK/resp.json" -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client.key" \
      -H 'Content-Type: application/fhir+json' --data-binary "@$f" "$EX_URL")
    [ "$code" = 200 ] || die "round $1: exchange answered $code for ${f#"$WORK"/out/}: $(jq -c '.issue // .' "$WORK/resp.json" | head -c 600)"
    # A replacement C-CDA's supersede batch (identifier ...#supersede) PATCHes the DocumentReference
    # of the version it replaces, as an HL7 v2 MDM replacement's or cancel's batch (...#document-status)
    # PATCHes the parent or the cancelled document; the corpus's replacements name parents it does not
    # hold, so the exchange answers those entries 404, which ferry counts as done (queue.AttrMissingOK:
    # nothing to supersede).
    missing=0
    if jq -e '.type == "batch" and ((.identifier.value // "") | test("#(supersede|document-status)$"))' "$f" >/dev/null; then
      missing=$(jq -r '[.entry[]?.response.status | select(test("^404"))] | length' "$WORK/resp.json")
      gone=$((gone + missing))
    fi
    bad=$(jq -r '[.entry[]?.response.status | select(test("^2") | not)] | length' "$WORK/resp.json")
    [ "$bad" = "$missing" ] || die "round $1: $((bad - missing)) entries not 2xx in ${f#"$WORK"/out/}"
    n=$((n + 1))
  done < <(find "$dir" -name '*.json' | sort)
  log "round $1: $n bundles accepted ($gone supersede/document-status PATCHes of documents the exchange does not hold answered 404)"
}
post_all 1
first=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
# What the exchange holds now, audited as its data-quality engineer would: the classes named here
# are ferry's to keep clean; the others (duplicate facts, ids shared across patients, ...) come from
# the shared corpus's own reuse of ids and are printed as notes (audit-exchange.mjs names them all).
audit() { # NAME ARGS...: audit-exchange.mjs into $WORK/audit-NAME.log; fails the suite on a strict class
  local name=$1
  shift
  node "$here/audit-exchange.mjs" --control "$EX_CTL" "$@" >"$WORK/audit-$name.log" 2>&1 ||
    die "exchange audit ($name): $(grep -A3 '^FAIL' "$WORK/audit-$name.log" | head -12)"
  log "exchange audit ($name): $(tail -1 "$WORK/audit-$name.log" | sed 's/ {.*}//')"
}
audit round1 --save "$WORK/dump1.json" --strict dangling-reference,empty-identifier,no-subject,two-patients,repeated-identifier,document-binary
post_all 2
audit round2 --before "$WORK/dump1.json" --save "$WORK/dump2.json" --strict resend-new,resend-changed
second=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
# The one thing a second post may add: the fax bundles' Binaries. ITI-65
# makes them POST (fax.binary_method's MHD default), so a re-sent fax leaves
# orphan copies nothing refers to; everything else must be unchanged.
faxbins=$(cat "$WORK"/out/fax/*.json | jq -s '[.[].entry[] | select(.resource.resourceType == "Binary" and .request.method == "POST")] | length')
want=$(jq -c --argjson n "$faxbins" '.Binary += $n' <<<"$first")
[ "$second" = "$want" ] || die "posting the same bundles again changed the exchange: $first -> $second (want only $faxbins more fax Binaries)"
log "idempotent: $second (the second post added only the $faxbins fax Binaries ITI-65 POSTs)"

# 4. Every HL7 v2 input once more under a new control id (MSH-10 + "-R2"), as a sender re-sends after
#    a reset: only the new messages' MessageHeader, Binary and Provenance may appear at the exchange,
#    (a key minted from MSH-10 would add a second copy of a fact).
v2in=()
for f in "${inputs[@]}"; do [[ $f == *.hl7 ]] && v2in+=("$f"); done
[ -d "$corpus" ] && v2in+=("$corpus"/hl7v2/*.hl7)
mkdir -p "$WORK/resend-in" "$WORK/resend"
python3 - "$WORK/resend-in" "${v2in[@]}" <<'PY'
import os, re, sys
out = sys.argv[1]
for i, f in enumerate(sys.argv[2:]):
    b = open(f, 'rb').read()
    if b.startswith(b'\xef\xbb\xbf'):
        b = b[3:]
    segs = re.split(rb'\r\n|\r|\n', b)
    for j, s in enumerate(segs):
        if s.startswith(b'MSH') and len(s) > 3:
            fs = s.split(s[3:4])
            if len(fs) > 9:
                fs[9] += b'-R2'
                segs[j] = s[3:4].join(fs)
    open(os.path.join(out, '%03d-%s' % (i, os.path.basename(f))), 'wb').write(b'\r'.join(segs))
PY
set +e
"$FERRY" convert "$WORK"/resend-in/*.hl7 --out "$WORK/resend" >"$WORK/resend.log" 2>&1
rc=$?
set -e
((rc <= 1)) || die "re-sent HL7 v2 inputs: ferry convert crashed (exit $rc): $(tail -5 "$WORK/resend.log")"
post_all 3 "$WORK/resend"
# (Changed content is only noted: this round posts in another order than the first, and messages
# that name one resource, such as an A01 and the A45 that moves its visit, leave the last one's.)
audit round3 --before "$WORK/dump2.json" --save "$WORK/dump3.json" --strict resend-new
log "PASS"
