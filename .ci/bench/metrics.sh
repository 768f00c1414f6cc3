# shellcheck shell=bash
# metrics.sh: what the bench scripts (run.sh, compare.sh) share (sourced): the held gateway they start,
# and what they read from a receiver and a gateway.

# held_config FILE DATA_DIR MLLP_PORT STATUS_PORT writes the configuration of a held gateway: MLLP in,
# an exchange that cannot be reached (so only ingest runs: MLLP -> convert -> fsynced queue), /metrics
# on STATUS_PORT. An exchange is always reached with mutual TLS, so it names $PKI's client certificate.
# With AUDIT_URL set, the gateway also records its ATNA audit trail there (compare.sh's AUDIT=udp).
held_config() {
  cat >"$1" <<YAML
data_dir: $2
log: {level: error}
sources:
  mllp:
    - {name: bench, listen: 127.0.0.1:$3, max_conns_per_ip: 256} # every load connection is from loopback
exchange:
  url: https://127.0.0.1:1/fhir
  tls: {cert_file: $PKI/client.pem, key_file: $PKI/client.key}
  retry: {initial_interval: 1m, max_interval: 1m}
status:
  listen: 127.0.0.1:$4
YAML
  if [ -n "${AUDIT_URL:-}" ]; then
    printf 'audit: {url: "%s", source_id: bench-gateway}\n' "$AUDIT_URL" >>"$1"
  fi
}

# proc_ticks PID prints the user+system CPU time a process has used, in clock ticks.
proc_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }

# server_sums STATUS_ADDR prints the gateway's cumulative conversion and flush times from /metrics:
# "convert_sum convert_count flush_sum flush_count" (seconds, counts), all formats together.
server_sums() {
  curl -fsS "http://$1/metrics" | awk '
    /^ferry_ingest_convert_seconds_sum/ { cs += $2 } /^ferry_ingest_convert_seconds_count/ { cc += $2 }
    /^ferry_queue_flush_seconds_sum/ { fs += $2 } /^ferry_queue_flush_seconds_count/ { fc += $2 }
    END { printf "%.9f %d %.9f %d\n", cs, cc, fs, fc }'
}

# server_times BEFORE AFTER prints where the gateway's time went between two server_sums: the mean
# conversion per message and the mean flush (write + fdatasync) per commit (every ACK waits for one).
server_times() {
  read -r cs0 cc0 fs0 fc0 <<<"$1"
  read -r cs1 cc1 fs1 fc1 <<<"$2"
  awk -v a="$cs0" -v b="$cs1" -v c0="$cc0" -v c1="$cc1" -v f0="$fs0" -v f1="$fs1" -v n0="$fc0" -v n1="$fc1" 'BEGIN {
    if (c1 > c0 && n1 > n0)
      printf "gateway          convert %.1f µs/msg mean; flush %.1f µs/commit mean over %d commits\n",
        (b - a) / (c1 - c0) * 1e6, (f1 - f0) / (n1 - n0) * 1e6, n1 - n0 }'
}
