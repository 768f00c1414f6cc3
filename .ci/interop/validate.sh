#!/usr/bin/env bash
# validate.sh: the converters' output, checked by parts ferry does not own.
# 1. every golden expected.json under testdata/convert passes @medplum/core validateResource;
# 2. `ferry convert` of every test input (testdata/convert/*/input.*, testdata/hl7v2/*.hl7) passes too;
# 3. each converted Bundle is accepted by the Medplum stand-in exchange (POST over mTLS with curl:
#    HTTP 200, every entry 2xx), and posting them all a second time changes no resource count.
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
  "$FERRY" convert "$f" --out "$WORK/out/$name" >>"$WORK/convert.log" 2>&1 || die "ferry convert $f failed: $(tail -3 "$WORK/convert.log")"
done
validate "$WORK/out" || die "ferry convert output fails validation"

start_exchange "$WORK/ex"
post_all() { # ROUND
  local f code bad n=0
  while IFS= read -r f; do
    code=$(curl -sS -o "$WORK/resp.json" -w '%{http_code}' --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client.key" \
      -H 'Content-Type: application/fhir+json' --data-binary "@$f" "$EX_URL")
    [ "$code" = 200 ] || die "round $1: exchange answered $code for ${f#"$WORK"/out/}: $(jq -c '.issue // .' "$WORK/resp.json" | head -c 600)"
    bad=$(jq -r '[.entry[]?.response.status | select(test("^2") | not)] | length' "$WORK/resp.json")
    [ "$bad" = 0 ] || die "round $1: $bad entries not 2xx in ${f#"$WORK"/out/}"
    n=$((n + 1))
  done < <(find "$WORK/out" -name '*.json' | sort)
  log "round $1: $n bundles accepted"
}
post_all 1
first=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
post_all 2
second=$(ctl /control/dump GET | jq -c '[.resources[].resourceType] | group_by(.) | map({(.[0]): length}) | add')
[ "$first" = "$second" ] || die "posting the same bundles again changed the exchange: $first -> $second"
log "idempotent: $second"
log "PASS"
