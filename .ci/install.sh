#!/usr/bin/env bash
# .ci/install.sh: install-and-operate checks (issue 6), run as root by .ci/run:
#   bash .ci/install.sh
# 1. builds the .deb, .rpm and MSI with installer/build.sh (nfpm v2.45.2, wixl);
# 2. installs the .deb with dpkg and checks the account and folder permissions;
# 3. verifies the systemd unit (systemd-analyze verify, offline security score);
# 4. starts /usr/bin/ferry as the ferry user from the package layout (no systemd in CI),
#    checks `ferry status` and `ferry doctor` report it, sends HL7 v2 over MLLP;
# 5. runs it again with the exchange down so messages wait, and checks the status page in
#    headless Chromium (--dump-dom and a --screenshot read back with tesseract) shows the
#    queue figures, then `ferry status` offline;
# 6. checks the Windows build (PE header) and the MSI's ServiceInstall/ServiceControl/Registry/CustomAction
#    tables (msiinfo) and payload (msiextract).
# Prints PASS/FAIL lines; exits non-zero when any check failed.
set -uo pipefail
exec </dev/null
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
export PATH=/usr/local/go/bin:$PATH
WORK=${WORK:-$(mktemp -d /tmp/ferry-install.XXXXXX)}
mkdir -p "$WORK"
DIST=$WORK/dist
fails=0
passes=0
pids=()

pass() { echo "PASS $*"; passes=$((passes + 1)); }
fail() { echo "FAIL $*"; fails=$((fails + 1)); }
check() { # NAME COMMAND...: PASS when the command succeeds
  local name=$1
  shift
  if "$@" >"$WORK/check.out" 2>&1; then pass "$name"; else
    fail "$name"
    sed 's/^/    /' "$WORK/check.out" | tail -20
  fi
}
cleanup() {
  local p
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  echo
  echo "install checks: $passes passed, $fails failed (work dir $WORK)"
}
trap cleanup EXIT

# --- tools ----------------------------------------------------------------------------------------
need=()
command -v wixl >/dev/null || need+=(wixl)
command -v msiinfo >/dev/null || need+=(msitools)
command -v systemd-analyze >/dev/null || need+=(systemd)
command -v chromium >/dev/null || need+=(chromium)
command -v tesseract >/dev/null || need+=(tesseract-ocr tesseract-ocr-eng)
command -v runuser >/dev/null || need+=(util-linux)
command -v useradd >/dev/null || need+=(passwd)
command -v openssl >/dev/null || need+=(openssl)
if ((${#need[@]})); then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null || { fail "install ${need[*]}"; exit 1; }
fi

# --- 1. packages ----------------------------------------------------------------------------------
if installer/build.sh "$DIST" 0.0.0+ci >"$WORK/build.log" 2>&1; then pass "build .deb/.rpm/.msi (installer/build.sh)"; else
  fail "build .deb/.rpm/.msi (installer/build.sh)"
  tail -30 "$WORK/build.log"
  exit 1
fi
DEB=$(ls "$DIST"/ferry_*.deb)
MSI=$(ls "$DIST"/ferry-*-x64.msi)

# --- 2. dpkg install ------------------------------------------------------------------------------
if dpkg -s ferry >/dev/null 2>&1; then dpkg --purge ferry >/dev/null 2>&1; fi
# The package's account outlives `dpkg --purge` (as Debian's system accounts do); one this suite
# made is removed at the end, or a second run of .ci/run on the machine would find a service
# account ferry, and `ferry doctor` in the interop suites would rightly check that it can read
# their files under a root-only temporary folder.
had_account=0
getent passwd ferry >/dev/null && had_account=1
check "dpkg -i $(basename "$DEB")" dpkg -i "$DEB"
check "package puts the binary at /usr/bin/ferry" test -x /usr/bin/ferry
check "postinst created system account ferry (nologin)" bash -c 'getent passwd ferry | grep -Eq ":(/usr/sbin/nologin|/sbin/nologin|/bin/false)$"'
perm() { [ "$(stat -c '%a %U:%G' "$1")" = "$2" ] || { echo "$1: $(stat -c '%a %U:%G' "$1"), want $2"; return 1; }; }
check "/etc/ferry is 0750 root:ferry" perm /etc/ferry "750 root:ferry"
check "/etc/ferry/ferry.yaml is a 0640 root:ferry conffile" bash -c "$(declare -f perm); perm /etc/ferry/ferry.yaml '640 root:ferry' && grep -qx /etc/ferry/ferry.yaml /var/lib/dpkg/info/ferry.conffiles"
check "/var/lib/ferry is 0700 ferry:ferry" perm /var/lib/ferry "700 ferry:ferry"
check "packaged config passes ferry config check" /usr/bin/ferry config check /etc/ferry/ferry.yaml
check "ferry init --force rewrites /etc/ferry/ferry.yaml keeping 0640 root:ferry" \
  bash -c "$(declare -f perm); /usr/bin/ferry init --non-interactive --out /etc/ferry/ferry.yaml --force && perm /etc/ferry/ferry.yaml '640 root:ferry'"
check "ferry init with the package defaults writes exactly the shipped conffile" \
  bash -c "/usr/bin/ferry init --non-interactive --out - | cmp - /etc/ferry/ferry.yaml"

# --- 3. systemd unit ------------------------------------------------------------------------------
UNIT=/lib/systemd/system/ferry.service
# systemd-analyze verify exits 0 on unknown keys and bad values (it only warns), so any output
# counts as a failure. It works offline: no running systemd is needed.
verify_unit() {
  local out
  out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify "$UNIT" 2>&1) || { echo "$out"; return 1; }
  [ -z "$out" ] || { echo "$out"; return 1; }
}
check "systemd-analyze verify $UNIT (no warnings)" verify_unit
for key in Type=simple User=ferry NoNewPrivileges=yes ProtectSystem=strict ReadWritePaths=/var/lib/ferry PrivateTmp=yes; do
  check "unit has $key" grep -qx "$key" "$UNIT"
done
check "systemd-analyze security: exposure at most 3.0 (offline)" systemd-analyze security --offline=true --threshold=30 "$UNIT"
grep 'Overall exposure' "$WORK/check.out" | sed 's/^/    /'

# `ferry install` for a binary outside the package: the unit it would write must verify too, and
# --folders-only must give the folders to the service account with tight modes.
IT=$WORK/it
mkdir -p "$IT/ferry"
/usr/bin/ferry init --non-interactive --data-dir "$IT/data" --out "$IT/ferry/ferry.yaml" >/dev/null
mkdir -p "$WORK/unit"
if /usr/bin/ferry install --dry-run --config "$IT/ferry/ferry.yaml" >"$WORK/plan.txt" 2>&1; then
  sed -n '/^systemd unit:$/,$p' "$WORK/plan.txt" | tail -n +2 >"$WORK/unit/ferry.service"
  UNIT=$WORK/unit/ferry.service check "ferry install --dry-run: its unit passes systemd-analyze verify" verify_unit
  check "ferry install --dry-run: ReadWritePaths is the configured data_dir" grep -qx "ReadWritePaths=$IT/data" "$WORK/unit/ferry.service"
else
  fail "ferry install --dry-run"
  sed 's/^/    /' "$WORK/plan.txt"
fi
chmod 755 "$WORK"
check "ferry install --folders-only" /usr/bin/ferry install --folders-only --config "$IT/ferry/ferry.yaml"
check "  config folder 0750 root:ferry" perm "$IT/ferry" "750 root:ferry"
check "  config file 0640 root:ferry" perm "$IT/ferry/ferry.yaml" "640 root:ferry"
check "  data folder 0700 ferry:ferry" perm "$IT/data" "700 ferry:ferry"

# --- 4. run from the package layout as the ferry user ------------------------------------------
portfree() { ! (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in 2575 8089; do
  portfree "$p" || fail "port $p is already taken on this machine; the package's default config cannot start"
done
runuser -u ferry -- /usr/bin/ferry run --config /etc/ferry/ferry.yaml >"$WORK/run1.log" 2>&1 &
pids+=($!)
RUN1=$!
wait_status() { # CONFIG: wait until `ferry status` reports the gateway running
  local i
  for i in $(seq 1 100); do
    /usr/bin/ferry status --config "$1" >"$WORK/status.out" 2>&1 && return 0
    kill -0 "$2" 2>/dev/null || return 1
    sleep 0.2
  done
  return 1
}
if wait_status /etc/ferry/ferry.yaml $RUN1 && grep -q "is running" "$WORK/status.out"; then
  pass "ferry run as user ferry from the package layout; ferry status reports it running"
else
  fail "ferry run as user ferry from the package layout; ferry status reports it running"
  sed 's/^/    /' "$WORK/status.out" "$WORK/run1.log" | tail -20
fi
check "the gateway process runs as ferry" bash -c "[ \"\$(ps -o user= -p \$(pgrep -P $RUN1 || echo $RUN1) | tr -d ' ')\" = ferry ]"
check "ferry doctor (as ferry) finds no problem" runuser -u ferry -- /usr/bin/ferry doctor --config /etc/ferry/ferry.yaml
grep -E '^(ok|warn|FAIL) ' "$WORK/check.out" | sed 's/^/    /'

# wait_listen PORT: until something accepts on 127.0.0.1:PORT (10 s). `ferry status` reports the
# gateway running once it holds its queue, which is before its MLLP listeners are open.
wait_listen() {
  local i
  for i in $(seq 1 50); do
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0
    sleep 0.2
  done
  return 1
}
# send_adt PORT N: send message N over MLLP with bash's /dev/tcp; prints MSA-1. Control IDs
# carry this run's id: the data folder survives `dpkg --purge`, and with it the dedup set.
RUNID=$(date +%s)
send_adt() {
  local ack
  exec 3<>"/dev/tcp/127.0.0.1/$1" || return 1
  printf '\x0bMSH|^~\\&|LAB|CLINIC|FERRY|HIE|20240101120000||ADT^A01|CI%s-%05d|P|2.5\rEVN|A01|20240101120000\rPID|1||%05d^^^HOSP^MR||Doe^Jane||19800101|F\rPV1|1|O\r\x1c\x0d' "$RUNID" "$2" "$2" >&3
  IFS= read -r -d $'\x1c' -t 10 ack <&3
  exec 3>&-
  printf '%s' "$ack" | tr '\r' '\n' | awk -F'|' '$1=="MSA"{print $2}'
}
acks=""
wait_listen 2575 || fail "the gateway listens on 127.0.0.1:2575"
for i in 1 2 3; do acks+="$(send_adt 2575 "$i") "; done
if [ "$acks" = "AA AA AA " ]; then pass "3 HL7 v2 messages over MLLP get AA"; else fail "3 HL7 v2 messages over MLLP get AA (got: $acks)"; fi
check "ferry status: 3 delivered to the outbox" bash -c "for i in \$(seq 50); do /usr/bin/ferry status --config /etc/ferry/ferry.yaml | grep -q 'delivered:         3 since start' && exit 0; sleep 0.2; done; /usr/bin/ferry status --config /etc/ferry/ferry.yaml; exit 1"
check "everything under /var/lib/ferry belongs to ferry" bash -c 'n=$(find /var/lib/ferry ! -user ferry | tee /dev/stderr | wc -l); [ "$n" -eq 0 ]'
# The outbox's reader: another account in ferry's group reads the bundles, and nothing else there.
check "a reader in ferry's group reads the outbox's bundles, and cannot list the data folder" bash -c '
  getent passwd ferry-outbox-reader >/dev/null || useradd --system --no-create-home --shell /usr/sbin/nologin -G ferry ferry-outbox-reader
  f=$(ls /var/lib/ferry/outbox/*.json | head -1)
  runuser -u ferry-outbox-reader -- cat "$f" | grep -q "\"resourceType\":\"Bundle\"" &&
    ! runuser -u ferry-outbox-reader -- ls /var/lib/ferry >/dev/null 2>&1 &&
    ! runuser -u ferry-outbox-reader -- ls /var/lib/ferry/queue >/dev/null 2>&1'
userdel ferry-outbox-reader 2>/dev/null || true
kill "$RUN1" 2>/dev/null
wait "$RUN1" 2>/dev/null

# --- 4b. backup and restore as root: the restored data folder belongs to the service account -----
check "ferry backup of the stopped gateway" /usr/bin/ferry backup "$WORK/ferry-backup.tar.gz" --config /etc/ferry/ferry.yaml
check "the backup is 0600" bash -c "[ \"\$(stat -c %a '$WORK/ferry-backup.tar.gz')\" = 600 ]"
rm -rf /var/lib/ferry.before-restore
mv /var/lib/ferry /var/lib/ferry.before-restore
check "ferry restore into the package's data folder" /usr/bin/ferry restore "$WORK/ferry-backup.tar.gz" --config /etc/ferry/ferry.yaml
# 0710 when the gateway delivers into the outbox (the package's default): its readers in ferry's
# group may pass through to it, not list the data folder.
check "the restored data folder is 0700 (0710 with the outbox) ferry:ferry, everything in it ferry's" bash -c \
  'case "$(stat -c "%a %U:%G" /var/lib/ferry)" in "700 ferry:ferry" | "710 ferry:ferry") ;; *) stat -c "%a %U:%G" /var/lib/ferry; exit 1 ;; esac && n=$(find /var/lib/ferry ! -user ferry | tee /dev/stderr | wc -l) && [ "$n" -eq 0 ]'
check "the restored site id is the old one" cmp /var/lib/ferry/site-id /var/lib/ferry.before-restore/site-id
rm -rf /var/lib/ferry.before-restore

# --- 5. exchange down: queue figures on the status page, in headless Chromium -------------------
closed=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()' 2>/dev/null || echo 1)
CFG2=/etc/ferry/ci-outage.yaml
rm -rf /var/lib/ferry/ci-outage
# The exchange is reached with mutual TLS, so even this unreachable one needs a client certificate:
# a throwaway one, readable by the ferry account.
bash "$ROOT/.ci/exchange/pki.sh" "$WORK/pki" >/dev/null
install -m 0640 -o root -g ferry "$WORK/pki/client.pem" /etc/ferry/ci-outage-client.pem
install -m 0640 -o root -g ferry "$WORK/pki/client.key" /etc/ferry/ci-outage-client.key
cat >"$CFG2" <<YAML
data_dir: /var/lib/ferry/ci-outage
sources:
  mllp:
    - name: main
      listen: 127.0.0.1:12575
exchange:
  url: https://127.0.0.1:$closed/fhir
  tls: {cert_file: /etc/ferry/ci-outage-client.pem, key_file: /etc/ferry/ci-outage-client.key}
  retry: {initial_interval: 1h, max_interval: 2h}
status:
  listen: 127.0.0.1:18089
YAML
chown root:ferry "$CFG2"
chmod 0640 "$CFG2"
runuser -u ferry -- /usr/bin/ferry run --config "$CFG2" >"$WORK/run2.log" 2>&1 &
pids+=($!)
RUN2=$!
wait_status "$CFG2" $RUN2 || { fail "second gateway (exchange down) starts"; sed 's/^/    /' "$WORK/run2.log"; }
acks=""
wait_listen 12575 || fail "the second gateway listens on 127.0.0.1:12575"
for i in 11 12 13; do acks+="$(send_adt 12575 "$i") "; done
[ "$acks" = "AA AA AA " ] && pass "exchange down: 3 messages still get AA (stored first)" || fail "exchange down: 3 messages get AA (got: $acks)"
check "ferry status: queue depth 3 while the exchange is down" bash -c "/usr/bin/ferry status --config $CFG2 | grep -q 'queue depth:       3 waiting'"

chrome() { # ARGS...: headless Chromium with the flags that keep it off the network
  local profile
  profile=$(mktemp -d "$WORK/chrome.XXXXXX")
  timeout 60 chromium --headless --no-sandbox --disable-gpu --disable-background-networking \
    --disable-component-update --disable-sync --no-first-run --disable-quic --disable-dev-shm-usage \
    --user-data-dir="$profile" "$@" 2>>"$WORK/chromium.log"
}
chrome --dump-dom http://127.0.0.1:18089/ >"$WORK/status.html"
dom_has() { grep -q "$1" "$WORK/status.html" || { echo "page lacks $1"; return 1; }; }
check "status page DOM (Chromium): 3 waiting for delivery" dom_has '<td id="queue-depth">3</td>'
check "status page DOM (Chromium): 3 queued, 0 dead letters, 0 delivered" bash -c "$(declare -f dom_has); WORK=$WORK; dom_has '<td id=\"ingest-queued\">3</td>' && dom_has '<td id=\"dead-letters\">0</td>' && dom_has '<td id=\"delivered\">0</td>'"
chrome --window-size=1000,1400 --hide-scrollbars --screenshot="$WORK/status.png" http://127.0.0.1:18089/ >/dev/null
# --psm 4 reads the page as rows of one column of text, so each table row stays on one line
if [ -s "$WORK/status.png" ] && tesseract "$WORK/status.png" "$WORK/status-ocr" --psm 4 >/dev/null 2>&1; then
  ocr=$(tr -s ' ' <"$WORK/status-ocr.txt")
  ok=1
  for want in "Waiting for delivery 3" "Queued 3" "Dead letters 0" "Delivered 0"; do
    grep -qF "$want" <<<"$ocr" || { ok=0; echo "    screenshot text lacks: $want"; }
  done
  if ((ok)); then pass "status page screenshot (Chromium, read back by tesseract) shows the queue figures"; else
    fail "status page screenshot shows the queue figures ($WORK/status.png)"
    sed 's/^/    | /' "$WORK/status-ocr.txt" | head -30
  fi
else
  fail "status page screenshot taken and readable ($WORK/status.png)"
  tail -5 "$WORK/chromium.log"
fi
check "/metrics: ferry_queue_depth 3" bash -c "exec 3<>/dev/tcp/127.0.0.1/18089; printf 'GET /metrics HTTP/1.0\r\nHost: 127.0.0.1:18089\r\n\r\n' >&3; grep -qx 'ferry_queue_depth 3' <(tr -d '\r' <&3)"
kill "$RUN2" 2>/dev/null
wait "$RUN2" 2>/dev/null
/usr/bin/ferry status --config "$CFG2" >"$WORK/offline.out" 2>&1
check "ferry status offline (gateway stopped): not running, queue depth 3 read from disk" \
  bash -c "grep -q 'ferry is not running' $WORK/offline.out && grep -q 'queue depth:       3 waiting' $WORK/offline.out"
rm -f "$CFG2" /etc/ferry/ci-outage-client.pem /etc/ferry/ci-outage-client.key

# --- 6. Windows build and MSI -------------------------------------------------------------------
check "GOOS=windows build is a PE executable" bash -c "[ \"\$(head -c2 '$DIST/ferry.exe')\" = MZ ]"
msiinfo export "$MSI" ServiceInstall >"$WORK/svc.idt" 2>&1
check "MSI ServiceInstall registers service ferry as NT SERVICE\\ferry, auto start, run --config" \
  awk -F'\t' 'NR>3 && $2=="ferry" && $5==2 && $9=="NT SERVICE\\ferry" && $11 ~ /^run --config / {found=1} END{exit !found}' "$WORK/svc.idt"
sed 's/^/    /' "$WORK/svc.idt"
msiinfo export "$MSI" ServiceControl >"$WORK/ctl.idt" 2>&1
check "MSI ServiceControl starts, stops and removes ferry" awk -F'\t' 'NR>3 && $2=="ferry" && $5==1 {found=1} END{exit !found}' "$WORK/ctl.idt"
msiinfo export "$MSI" Registry >"$WORK/reg.idt" 2>&1
check "MSI registers the event log source (EventCreate.exe message file) in a component it removes on uninstall" \
  awk -F'\t' '{sub(/\r$/, "")} $2==2 && $3 ~ /EventLog.Application.ferry/ && $4=="EventMessageFile" && $5 ~ /EventCreate[.]exe$/ && $6=="FerryEventSource" {found=1} END{exit !found}' "$WORK/reg.idt"
check "MSI custom action sets the folder ACLs (install --folders-only)" bash -c "msiinfo export '$MSI' CustomAction | grep -q 'install --folders-only'"
check "MSI replaces an installed ferry (Upgrade table), removing the old product after InstallFinalize so ferry.yaml stays" bash -c \
  "msiinfo export '$MSI' Upgrade | tr -d '\r' | grep -q WIX_UPGRADE_DETECTED && msiinfo export '$MSI' InstallExecuteSequence | tr -d '\r' | awk -F'\t' '\$1==\"RemoveExistingProducts\" && \$3>6600 {found=1} END{exit !found}'"
check "MSI carries ferry.exe and ferry.yaml" bash -c "msiextract -l '$MSI' | grep -q 'ferry.exe' && msiextract -l '$MSI' | grep -q 'ferry.yaml'"

# --- cleanup ------------------------------------------------------------------------------------
dpkg --purge ferry >/dev/null 2>&1 && pass "dpkg --purge ferry (data folder kept by design)" || fail "dpkg --purge ferry"
rm -rf /var/lib/ferry/ci-outage
if ((had_account == 0)); then
  userdel ferry 2>/dev/null || true
  groupdel ferry 2>/dev/null || true
fi

((fails == 0))
