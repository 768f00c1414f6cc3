#!/bin/sh
# ferry package post-remove. The data folder and the account are kept even
# on purge: /var/lib/ferry may hold messages not yet delivered to the
# exchange, and deleting PHI is the operator's decision, not the package's.
set -e
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
fi
if [ "${1:-}" = "purge" ] && [ -d /var/lib/ferry ]; then
  echo "ferry: /var/lib/ferry was kept (it may hold undelivered messages); remove it yourself when it is empty." >&2
fi
exit 0
