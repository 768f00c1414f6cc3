#!/usr/bin/env bash
# mailbox.sh: a fax mailbox on a real IMAP server. Debian's Dovecot (its own configuration, run from
# this folder, IMAPS with the suite's test CA, a passwd-file user) holds the mailbox; curl (an
# independent IMAP client) delivers into it an e-mailed fax written by Python's email package and a
# "fax failed" notice; `ferry run` with sources.mailboxes reads it over TLS and delivers the fax to the
# stand-in exchange. Then: the fax's DocumentReference is at the exchange, INBOX is empty, ferry-done
# holds the fax's message and ferry-failed the notice with ferry's note beside it (doveadm counts
# them); `ferry status` shows the mailbox and `ferry doctor` logs in to it; the password never reaches
# ferry's log. Then 24 more fax e-mails are read while the gateway is killed with SIGKILL 6 times: every
# message ends in ferry-done and each fax is at the exchange exactly once.
set -euo pipefail
SUITE=mailbox
here=$(cd "$(dirname "$0")" && pwd)
source "$here/lib.sh"
WORK=${WORK:-$(mktemp -d /tmp/ferry-mailbox.XXXXXX)}
D=""
stop_dovecot() {
  [ -n "$D" ] || return 0
  [ -f "$D/dovecot.conf" ] && dovecot -c "$D/dovecot.conf" stop >/dev/null 2>&1
  [ -f "$D/dovecot.log" ] && cp "$D/dovecot.log" "$WORK/dovecot.log" 2>/dev/null
  rm -rf "$D"
}
trap 'stop_dovecot; cleanup' EXIT
root=$(cd "$here/../.." && pwd)

command -v dovecot >/dev/null || PATH=$PATH:/usr/sbin
command -v dovecot >/dev/null || die "dovecot not installed (Debian dovecot-imapd)"

start_exchange "$WORK/ex"

# The OAuth 2.0 stand-in (Entra ID's part for Microsoft 365): client credentials over HTTPS, and
# introspection for Dovecot's oauth2 passdb.
printf 'ci-client-secret-%s\n' "$RANDOM$RANDOM" >"$WORK/client.secret"
chmod 600 "$WORK/client.secret"
# A Google-style service account: an RSA key made by OpenSSL, in the JSON key file Google hands out.
openssl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$WORK/sa.key" 2>/dev/null
openssl pkey -in "$WORK/sa.key" -pubout -out "$WORK/sa.pub"
SA_EMAIL=ferry-fax@ci-project.iam.gserviceaccount.com
python3 "$here/oauth-standin.py" "$PKI/server.pem" "$PKI/server.key" ferry-ci "$WORK/client.secret" \
  https://outlook.office365.com/.default fax "$WORK/oauth.ports" "$WORK/sa.pub" "$SA_EMAIL" https://mail.google.com/ &
PIDS+=($!)
for ((i = 0; i < 50; i++)); do [ -s "$WORK/oauth.ports" ] && break; sleep 0.1; done
read -r TOKEN_PORT INTRO_PORT <"$WORK/oauth.ports" || die "the OAuth stand-in did not start"

# Dovecot, run by root as its package expects, delivering as the unprivileged "nobody".
# Its processes run as the dovecot and nobody accounts, which cannot enter the suite's own folder
# (mktemp, mode 0700): its files lie in a folder of their own, removed at the end.
D=$(mktemp -d /tmp/ferry-dovecot.XXXXXX)
chmod 755 "$D"
IMAPS=$(freeport)
PASSWORD="ci-fax-$RANDOM$RANDOM"
mkdir -p "$D/run" "$D/state" "$D/home"
chown nobody: "$D/home"
printf 'fax:{PLAIN}%s\n' "$PASSWORD" >"$D/users"
cat >"$D/dovecot.conf" <<EOF
base_dir = $D/run
state_dir = $D/state
log_path = $D/dovecot.log
protocols = imap
listen = 127.0.0.1
ssl = required
ssl_cert = <$PKI/server.pem
ssl_key = <$PKI/server.key
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
first_valid_uid = 1
mail_location = maildir:~/Maildir
auth_mechanisms = plain xoauth2
passdb {
  driver = oauth2
  mechanisms = xoauth2
  args = $D/oauth2.conf.ext
}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u $D/users
}
userdb {
  driver = static
  args = uid=nobody gid=nogroup home=$D/home/%u
}
service imap-login {
  inet_listener imap {
    port = 0
  }
  inet_listener imaps {
    port = $IMAPS
    ssl = yes
  }
}
service anvil {
  chroot =
}
service imap-login {
  chroot =
}
EOF
cat >"$D/oauth2.conf.ext" <<EOF
introspection_mode = post
introspection_url = http://127.0.0.1:$INTRO_PORT/introspect
username_attribute = username
active_attribute = active
active_value = true
EOF
dovecot -c "$D/dovecot.conf" || { cat "$D/dovecot.log" 2>/dev/null; die "dovecot did not start"; }
wait_port 127.0.0.1 "$IMAPS" 20 || { cat "$D/dovecot.log"; die "dovecot not listening on $IMAPS"; }
log "dovecot $(dovecot --version | cut -d' ' -f1) on 127.0.0.1:$IMAPS (IMAPS, the suite's test CA)"

imap_put() { # imap_put FILE: deliver FILE into INBOX with curl's IMAP APPEND
  curl -sS --ssl-reqd --cacert "$PKI/ca.pem" -u "fax:$PASSWORD" -T "$1" "imaps://127.0.0.1:$IMAPS/INBOX" ||
    die "curl could not deliver $1 into the mailbox"
}
count() { doveadm -c "$D/dovecot.conf" -f flow mailbox status -u fax messages "$1" 2>/dev/null | grep -o 'messages=[0-9]*' | cut -d= -f2; }

# The e-mailed fax and a notice without one.
python3 - "$root/testdata/fax/g4-fine-1p.tif" "$WORK/fax.eml" "$WORK/notice.eml" <<'PY'
import sys
from email.message import EmailMessage
m = EmailMessage()
m["From"] = "Fax Service <noreply@fax.example.com>"
m["To"] = "FAX=+15550100199@fax.example.org"
m["Subject"] = "New fax from +1 555-010-0777 - 1 page"
m["Date"] = "Wed, 25 Nov 2026 16:00:00 +0000"
m["Message-ID"] = "<ci-mailbox-1@fax.example.com>"
m.set_content("You have received a fax.\nCaller ID: 555-0177\n")
m.add_attachment(open(sys.argv[1], "rb").read(), maintype="image", subtype="tiff", filename="fax.tif")
open(sys.argv[2], "wb").write(bytes(m))
n = EmailMessage()
n["From"] = "Fax Service <noreply@fax.example.com>"
n["Subject"] = "Fax delivery failed"
n.set_content("A fax from 555-0177 could not be received.\n")
open(sys.argv[3], "wb").write(bytes(n))
PY
imap_put "$WORK/fax.eml"
imap_put "$WORK/notice.eml"
[ "$(count INBOX)" = 2 ] || die "the mailbox does not hold the two messages delivered (INBOX: $(count INBOX))"

MLLP=$(freeport)
STATUS=$(freeport)
printf '%s\n' "$PASSWORD" >"$WORK/imap.pass"
chmod 600 "$WORK/imap.pass"
write_config "$WORK/ferry.yaml" "$WORK/data" "$MLLP" "$STATUS" "$EX_URL" "  mailboxes:
    - name: efax
      address: 127.0.0.1:$IMAPS
      username: fax
      password_file: $WORK/imap.pass
      poll: 10s
      lines: [{called: '+1 555 010 0199', doctype: lab}]
      tls: {ca_file: $PKI/ca.pem}"
printf 'fax:\n  source_id: 1.3.6.1.4.1.21367.2026.7\n' >>"$WORK/ferry.yaml" # the MHD sourceId of the clinic's faxes
"$FERRY" config check "$WORK/ferry.yaml" >/dev/null || die "config with a mailbox refused: $("$FERRY" config check "$WORK/ferry.yaml" 2>&1)"
start_ferry "$WORK/ferry.yaml" "$WORK/ferry.log" "$MLLP"

for ((i = 0; i < 60; i++)); do
  [ "$(count ferry-done)" = 1 ] && [ "$(count INBOX)" = 0 ] && break
  sleep 1
done
[ "$(count INBOX)" = 0 ] || die "ferry left $(count INBOX) message(s) in INBOX: $(tail -5 "$WORK/ferry.log")"
[ "$(count ferry-done)" = 1 ] || die "ferry-done holds $(count ferry-done), want the fax's message"
[ "$(count ferry-failed)" = 2 ] || die "ferry-failed holds $(count ferry-failed), want the notice and ferry's note"
wait_total "DocumentReference?type=http://loinc.org|11502-2" 2 60 || die "the mailbox's fax (its PDF rendition and its TIFF) did not reach the exchange as a lab report"
grep -q '555-0177' <<<"$(fhir_get "DocumentReference?type=http://loinc.org|11502-2")" || die "the DocumentReference does not carry the caller id the message gave"
# (grep reads the whole output: `status | grep -q` would end status early, a failure under pipefail)
grep -q 'mailbox efax: *INBOX on 127.0.0.1:[0-9]*: 1 taken, 1 failed' <<<"$("$FERRY" status --config "$WORK/ferry.yaml")" ||
  die "ferry status does not show the mailbox: $("$FERRY" status --config "$WORK/ferry.yaml")"
doctor=$("$FERRY" doctor --config "$WORK/ferry.yaml" 2>&1 || true) # other checks may warn here
grep -q 'logged in as fax over TLS; INBOX holds 0 message(s)' <<<"$doctor" ||
  die "ferry doctor does not check the mailbox: $(grep -i mailbox <<<"$doctor")"
grep -q "$PASSWORD" "$WORK/ferry.log" && die "the IMAP password is in ferry's log"
stop_pid "$FERRY_PID" TERM

# kill -9 while the mailbox is read: 24 more fax e-mails (distinct 400 KB PDFs), the gateway killed
# 6 times, each time just after a message has moved, and started again; then every message is in
# ferry-done and each fax is at the exchange exactly once.
before=$(fhir_total "DocumentReference")
python3 - "$WORK/many" <<'PY'
import os, sys
from email.message import EmailMessage
os.makedirs(sys.argv[1], exist_ok=True)
for i in range(24):
    m = EmailMessage()
    m["Subject"] = "Fax from 555-010-%04d" % (2000 + i)
    m["Date"] = "Thu, 26 Nov 2026 09:%02d:00 +0000" % i
    m["Message-ID"] = "<ci-crash-%d@fax.example.com>" % i
    m.set_content("Caller ID: 555-02%02d\n" % i)
    pdf = b"%PDF-1.4\n" + os.urandom(400 * 1024) + b"\n%%EOF\n"
    m.add_attachment(pdf, maintype="application", subtype="pdf", filename="fax%d.pdf" % i)
    open(os.path.join(sys.argv[1], "%02d.eml" % i), "wb").write(bytes(m))
PY
for f in "$WORK"/many/*.eml; do imap_put "$f"; done
[ "$(count INBOX)" = 24 ] || die "crash: INBOX holds $(count INBOX), want the 24 messages delivered"
for k in 1 2 3 4 5 6; do
  last=$(count ferry-done)
  "$FERRY" run --config "$WORK/ferry.yaml" >>"$WORK/ferry-crash.log" 2>&1 &
  FERRY_PID=$!
  PIDS+=("$FERRY_PID")
  # aimed: SIGKILL as soon as a message has moved (the next one is then being read or stored),
  # after a random extra 0-90 ms, within 5 s
  for ((j = 0; j < 250; j++)); do
    [ "$(count ferry-done)" != "$last" ] && break
    sleep 0.02
  done
  sleep "0.0$((RANDOM % 10))"
  kill -9 "$FERRY_PID" 2>/dev/null || true
  wait "$FERRY_PID" 2>/dev/null || true
  printf '%s kill -9 #%d: INBOX %s, ferry-done %s\n' "$(date +%T.%N)" "$k" "$(count INBOX)" "$(count ferry-done)" >>"$WORK/kills.log"
done
start_ferry "$WORK/ferry.yaml" "$WORK/ferry-crash.log" "$MLLP"
for ((i = 0; i < 60; i++)); do
  [ "$(count INBOX)" = 0 ] && break
  sleep 1
done
[ "$(count INBOX)" = 0 ] || die "crash: $(count INBOX) message(s) left in INBOX after the kills"
[ "$(count ferry-done)" = 25 ] || die "crash: ferry-done holds $(count ferry-done), want 25"
[ "$(count ferry-failed)" = 2 ] || die "crash: ferry-failed holds $(count ferry-failed), want the 2 from before"
wait_total "DocumentReference" $((before + 24)) 90 || die "crash: the exchange does not hold each of the 24 faxes exactly once ($(fhir_total DocumentReference), want $((before + 24)))"
# the count reached is a floor until the queue is empty: a duplicate delivered after it would pass
assert_drained "$STATUS"
[ "$(fhir_total DocumentReference)" = $((before + 24)) ] || die "crash: the exchange holds $(($(fhir_total DocumentReference) - before)) documents for the 24 faxes once the queue drained"
stop_pid "$FERRY_PID" TERM
log "kill -9 while reading the mailbox: $(tr '\n' ';' <"$WORK/kills.log"); then all 24 in ferry-done and each fax once at the exchange"
# The same mailbox with OAuth 2.0, as Microsoft 365 asks: ferry takes a token from the stand-in's
# token endpoint (client credentials, HTTPS with the test CA) and logs in with SASL XOAUTH2; Dovecot
# checks the token by introspection. One more fax is read and moved; doctor logs in the same way.
imap_put "$WORK/many/00.eml"
sed -e '/^      password_file:/d' \
  -e "s|^      username: fax\$|      username: fax\n      oauth2: {token_url: 'https://127.0.0.1:$TOKEN_PORT/tenant/oauth2/v2.0/token', client_id: ferry-ci, client_secret_file: $WORK/client.secret, scopes: ['https://outlook.office365.com/.default'], ca_file: $PKI/ca.pem}|" \
  "$WORK/ferry.yaml" >"$WORK/ferry-oauth.yaml"
grep -q 'oauth2: {token_url' "$WORK/ferry-oauth.yaml" && ! grep -q password_file "$WORK/ferry-oauth.yaml" ||
  die "oauth: the config was not written: $(cat "$WORK/ferry-oauth.yaml")"
"$FERRY" config check "$WORK/ferry-oauth.yaml" >/dev/null || die "oauth: config refused: $("$FERRY" config check "$WORK/ferry-oauth.yaml" 2>&1)"
start_ferry "$WORK/ferry-oauth.yaml" "$WORK/ferry-oauth.log" "$MLLP"
for ((i = 0; i < 60; i++)); do
  [ "$(count INBOX)" = 0 ] && break
  sleep 1
done
[ "$(count INBOX)" = 0 ] || die "oauth: the message was not read: $(grep -i 'mailbox' "$WORK/ferry-oauth.log" | tail -3)"
[ "$(count ferry-done)" = 26 ] || die "oauth: ferry-done holds $(count ferry-done), want 26"
grep -q 'Login: user=<fax>, method=XOAUTH2' "$D/dovecot.log" || die "oauth: dovecot's log shows no XOAUTH2 login"
doctor=$("$FERRY" doctor --config "$WORK/ferry-oauth.yaml" 2>&1 || true)
grep -q 'logged in as fax over TLS with an OAuth 2.0 token' <<<"$doctor" || die "oauth: ferry doctor: $(grep -i mailbox <<<"$doctor")"
grep -q "$(head -1 "$WORK/client.secret")" "$WORK/ferry-oauth.log" && die "oauth: the client secret is in ferry's log"
stop_pid "$FERRY_PID" TERM
log "oauth2: ferry took a token from the token endpoint (client credentials) and logged in with XOAUTH2 (Dovecot introspecting it); the fax was read and moved; doctor logged in the same way"

# And as a Google Workspace service account: ferry signs a JWT (RS256) for user fax with the key file's
# key; the stand-in verifies it with OpenSSL and the account's public key before it gives a token.
python3 - "$WORK/sa.key" "$SA_EMAIL" "https://127.0.0.1:$TOKEN_PORT/token" "$WORK/sa.json" <<'PY'
import json, sys
key, email, uri, out = sys.argv[1:5]
json.dump({"type": "service_account", "client_email": email, "private_key_id": "ci1",
           "private_key": open(key).read(), "token_uri": uri}, open(out, "w"))
PY
chmod 600 "$WORK/sa.json"
imap_put "$WORK/many/01.eml"
sed -e "s|^      oauth2: {token_url: .*|      oauth2: {grant: jwt_bearer, service_account_file: $WORK/sa.json, scopes: ['https://mail.google.com/'], ca_file: $PKI/ca.pem}|" \
  "$WORK/ferry-oauth.yaml" >"$WORK/ferry-sa.yaml"
grep -q 'grant: jwt_bearer' "$WORK/ferry-sa.yaml" || die "service account: the config was not written"
start_ferry "$WORK/ferry-sa.yaml" "$WORK/ferry-sa.log" "$MLLP"
for ((i = 0; i < 60; i++)); do
  [ "$(count INBOX)" = 0 ] && break
  sleep 1
done
[ "$(count INBOX)" = 0 ] || die "service account: the message was not read: $(grep -i 'mailbox' "$WORK/ferry-sa.log" | tail -3)"
[ "$(count ferry-done)" = 27 ] || die "service account: ferry-done holds $(count ferry-done), want 27"
grep -q 'PRIVATE KEY' "$WORK/ferry-sa.log" && die "service account: the key is in ferry's log"
stop_pid "$FERRY_PID" TERM
log "oauth2 jwt_bearer: ferry signed a JWT as the service account, the stand-in verified it with OpenSSL, and the XOAUTH2 login read one more fax"
log "fax mailbox on Dovecot: the e-mailed fax (curl APPEND) reached the exchange as a lab report and moved to ferry-done; the notice moved to ferry-failed with a note; status shows it, doctor logs in; no password in the log"
log "PASS"
