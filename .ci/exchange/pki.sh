#!/usr/bin/env bash
# pki.sh DIR makes a throw-away test PKI with openssl: ca.pem/ca.key, server.pem/server.key
# (localhost, 127.0.0.1, ::1) and client.pem/client.key (+ other-ca.pem and a client cert from it,
# rogue-client.pem/key, for negative tests). Idempotent: does nothing when DIR/ca.pem exists.
set -euo pipefail
dir=${1:?usage: pki.sh DIR}
mkdir -p "$dir"
cd "$dir"
# ferry refuses TLS keys other accounts can read: keys are created 0600 (umask 077 in a subshell),
# and a PKI left by an older run of this script is tightened too.
if [ -f ca.pem ] && [ -f client.key ]; then chmod 600 ./*.key; exit 0; fi
days=3650
key() { (umask 077; openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1" 2>/dev/null); }
key ca.key
openssl req -x509 -new -key ca.key -sha256 -days $days -subj "/CN=ferry CI test CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.pem
leaf() { # name cn ext
  key "$1.key"
  openssl req -new -key "$1.key" -subj "/CN=$2" -out "$1.csr"
  printf '%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA "${4:-ca}.pem" -CAkey "${4:-ca}.key" -CAcreateserial -sha256 -days $days \
    -extfile "$1.ext" -out "$1.pem" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}
leaf server localhost "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1"
leaf client "ferry-ci-clinic" "basicConstraints=CA:FALSE
keyUsage=critical,digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
# a second, unrelated CA and a client cert it signed: the exchange must refuse it
key other-ca.key
openssl req -x509 -new -key other-ca.key -sha256 -days $days -subj "/CN=rogue CA" \
  -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" -out other-ca.pem
leaf rogue-client "rogue" "basicConstraints=CA:FALSE
extendedKeyUsage=clientAuth" other-ca
chmod 600 ./*.key
