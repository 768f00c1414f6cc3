# shellcheck shell=bash
# lib.sh: shared helpers for the interop, crash and outage suites (sourced, not run).
# Needs: FERRY (path to the ferry binary), CI_DIR (the repo's .ci directory), PKI (test PKI dir made
# by .ci/exchange/pki.sh). Each suite makes its own WORK dir and calls cleanup from its EXIT trap.

: "${FERRY:?FERRY must point at the ferry binary}"
: "${CI_DIR:?CI_DIR must point at .ci}"
: "${PKI:?PKI must point at the test PKI directory}"
# @medplum/core needs a global WebSocket at import time: built in from Node 22, behind a flag in Node 20.
NODE_FLAGS=()
[ "$(node -e 'process.stdout.write(typeof WebSocket)')" = function ] || NODE_FLAGS=(--experimental-websocket)
HOSP_SYSTEM=urn:oid:2.16.840.1.113883.3.999.1
PIDS=()
EX_EXTRA=()

log() { printf '[%s %s] %s\n' "$(date +%H:%M:%S)" "${SUITE:-suite}" "$*"; }
die() { log "FAIL: $*"; exit 1; }

# freeport prints a TCP port on 127.0.0.1 that was free a moment ago.
freeport() { python3 -c 'import socket;s=socket.socket();s.bind(("127.0.0.1",0));print(s.getsockname()[1]);s.close()'; }

# wait_port HOST PORT SECONDS waits until something accepts connections there.
wait_port() {
  local host=$1 port=$2 secs=${3:-30} i
  for ((i = 0; i < secs * 10; i++)); do
    if (exec 3<>"/dev/tcp/$host/$port") 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  return 1
}

# start_exchange DIR [PORT] [STATE] starts the stand-in exchange; sets EX_PID, EX_URL, EX_CTL, EX_PORT.
start_exchange() {
  local dir=$1 port=${2:-0} state=${3:-}
  mkdir -p "$dir"
  rm -f "$dir/exchange.json"
  local args=(--pki "$PKI" --port "$port" --ready-file "$dir/exchange.json")
  [ -n "$state" ] && args+=(--state "$state")
  args+=("${EX_EXTRA[@]}") # e.g. EX_EXTRA=(--smart-client ID --smart-jwks FILE)
  node "${NODE_FLAGS[@]}" "$CI_DIR/exchange/server.mjs" "${args[@]}" >>"$dir/exchange.log" 2>&1 &
  EX_PID=$!
  PIDS+=("$EX_PID")
  local i
  for ((i = 0; i < 300; i++)); do
    [ -s "$dir/exchange.json" ] && break
    kill -0 "$EX_PID" 2>/dev/null || { tail -20 "$dir/exchange.log"; die "exchange exited at start"; }
    sleep 0.1
  done
  [ -s "$dir/exchange.json" ] || die "exchange did not start"
  EX_URL=$(jq -r .url "$dir/exchange.json")
  EX_CTL=$(jq -r .control "$dir/exchange.json")
  EX_PORT=$(jq -r .port "$dir/exchange.json")
}

# stop_pid PID [SIGNAL] stops one process we started and waits for it.
stop_pid() {
  local pid=$1 sig=${2:-TERM}
  kill -"$sig" "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# write_config FILE DATA_DIR MLLP_PORT STATUS_PORT [EXCHANGE_URL] [MORE_SOURCES] writes a ferry config
# for the suites; MORE_SOURCES is YAML for more keys under sources: (indented two spaces).
write_config() {
  local file=$1 data=$2 mllp=$3 status=$4 url=${5:-$EX_URL} more=${6:-}
  cat >"$file" <<EOF
data_dir: $data
log:
  level: info
sources:
  mllp:
    - name: ci
      listen: 127.0.0.1:$mllp
      read_timeout: 10s
      idle_timeout: 1m
$more
exchange:
  url: $url
  timeout: 10s
  tls:
    ca_file: $PKI/ca.pem
    cert_file: $PKI/client.pem
    key_file: $PKI/client.key
  retry:
    initial_interval: 200ms
    max_interval: 2s
identifiers:
  systems:
    HOSP: $HOSP_SYSTEM
status:
  listen: 127.0.0.1:$status
EOF
}

# switch_encryption_on CONFIG LOG: `ferry keygen` a key beside CONFIG, name it in CONFIG
# (encryption.key_file), check the file, and note the moment in LOG. The gateway seals new data from
# its next start on; the crash suites do this halfway through, with a plaintext backlog queued.
switch_encryption_on() {
  local cfg=$1 logf=$2 key
  key=$(dirname "$cfg")/ferry.key
  "$FERRY" keygen "$key" >>"$logf" || die "ferry keygen failed"
  printf 'encryption:\n  key_file: %s\n' "$key" >>"$cfg"
  "$FERRY" config check "$cfg" >/dev/null || die "config with encryption.key_file refused"
  printf '%s encryption at rest switched on\n' "$(date +%T)" >>"$logf"
}

# start_ferry CONFIG LOG MLLP_PORT starts `ferry run` and waits for its MLLP port and for its own
# "ferry VERSION running: ..." line in LOG, which `ferry run` prints once the gateway has started,
# whatever log.level says (a port answering alone may be another process's, one that took the
# port freeport gave, while this gateway failed to bind it and exited); sets FERRY_PID.
start_ferry() {
  local cfg=$1 logf=$2 port=$3 n0 i
  n0=$(grep -c -E '^ferry [^ ]+ running: ' "$logf" 2>/dev/null || true)
  "$FERRY" run --config "$cfg" >>"$logf" 2>&1 &
  FERRY_PID=$!
  PIDS+=("$FERRY_PID")
  if ! wait_port 127.0.0.1 "$port" 30; then
    tail -30 "$logf"
    die "ferry did not listen on 127.0.0.1:$port"
  fi
  for ((i = 0; i < 300; i++)); do
    (($(grep -c -E '^ferry [^ ]+ running: ' "$logf" || true) > ${n0:-0})) && break
    kill -0 "$FERRY_PID" 2>/dev/null || { tail -30 "$logf"; die "ferry exited at start (is 127.0.0.1:$port another process's?)"; }
    sleep 0.1
  done
  (($(grep -c -E '^ferry [^ ]+ running: ' "$logf" || true) > ${n0:-0})) || { tail -30 "$logf"; die "ferry did not say it started within 30 s"; }
  kill -0 "$FERRY_PID" 2>/dev/null || { tail -30 "$logf"; die "ferry exited at start (is 127.0.0.1:$port another process's?)"; }
}

# fhir_get PATH: GET over mutual TLS from the exchange (curl, independent of ferry's client).
fhir_get() {
  curl -sS --fail-with-body --cacert "$PKI/ca.pem" --cert "$PKI/client.pem" --key "$PKI/client.key" "$EX_URL/$1"
}

# fhir_total QUERY prints the search total for a query (adds _summary=count).
fhir_total() {
  local q=$1 sep='?'
  [[ $q == *\?* ]] && sep='&'
  fhir_get "$q${sep}_summary=count" | jq -r '.total'
}

# wait_total QUERY WANT SECONDS polls until the search total equals WANT.
wait_total() {
  local q=$1 want=$2 secs=${3:-60} got="" i
  for ((i = 0; i < secs; i++)); do
    got=$(fhir_total "$q" 2>/dev/null || true)
    [ "$got" = "$want" ] && return 0
    sleep 1
  done
  log "wanted $want for $q, got ${got:-nothing}"
  return 1
}

ctl() { curl -sS -X "${2:-POST}" "$EX_CTL$1"; }

cleanup() {
  local p
  for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null || true; done
  PIDS=()
}

# metric STATUS_PORT NAME prints one unlabelled metric from ferry's /metrics. awk reads to the end
# (no early exit), so curl never writes into a closed pipe ("curl: (23)" in the log).
metric() { curl -sS "http://127.0.0.1:$1/metrics" | awk -v n="$2" '$1==n && !done {print $2; done=1}'; }

# attempts STATUS_PORT prints how often ferry has failed to deliver since its start: failed sends
# and failed connects (a dead exchange or SFTP server, a refused handshake), from /api/status.
attempts() { curl -sS "http://127.0.0.1:$1/api/status" | jq -r '.delivery | .Retried + .ConnectFailures'; }

# wait_attempts STATUS_PORT N [SECONDS]: waits until ferry's failed delivery attempts (attempts)
# reach N or it has dead-lettered something, and dies if neither happens in time. A check that
# nothing was delivered or dead-lettered means something only after ferry tried: a fixed sleep
# before it passes as well when ferry has not tried yet.
wait_attempts() {
  local port=$1 want=$2 secs=${3:-60} i tries="" dead=""
  for ((i = 0; i < secs * 5; i++)); do
    tries=$(attempts "$port" 2>/dev/null || true)
    dead=$(metric "$port" ferry_dead_letters 2>/dev/null || true)
    [[ $tries =~ ^[0-9]+$ ]] && ((tries >= want)) && return 0
    [[ $dead =~ ^[0-9]+$ ]] && ((dead > 0)) && return 0
    sleep 0.2
  done
  die "ferry made ${tries:-no} failed delivery attempts in ${secs}s, want $want"
}

# assert_drained STATUS_PORT [SECONDS]: ferry's queue is empty and nothing was dead-lettered.
assert_drained() {
  local port=$1 secs=${2:-60} depth="" dead="" i
  for ((i = 0; i < secs; i++)); do
    depth=$(metric "$port" ferry_queue_depth || true)
    [ "$depth" = 0 ] && break
    sleep 1
  done
  [ "$depth" = 0 ] || die "ferry queue not drained (ferry_queue_depth=${depth:-unreadable})"
  dead=$(metric "$port" ferry_dead_letters || true)
  [ "$dead" = 0 ] || die "ferry dead-lettered bundles (ferry_dead_letters=${dead:-unreadable})"
  log "ferry queue drained, no dead letters"
}
