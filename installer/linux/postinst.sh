#!/bin/sh
# ferry package post-install: create the service account, give it its
# folders, and enable the service when systemd is running. Idempotent: it
# runs on every install and upgrade.
set -e

# Debian calls postinst with "configure"; rpm with the install count.
case "${1:-configure}" in
  configure|1|2) ;;
  *) exit 0 ;;
esac

if ! getent passwd ferry >/dev/null 2>&1; then
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  [ -x "$nologin" ] || nologin=/bin/false
  useradd --system --user-group --no-create-home --home-dir /var/lib/ferry \
    --shell "$nologin" --comment "ferry health data gateway" ferry
fi

# Config: readable by the service, changeable only by root. dpkg does not
# put back a conffile the administrator deleted.
install -d -o root -g ferry -m 0750 /etc/ferry
if [ -e /etc/ferry/ferry.yaml ]; then
  chown root:ferry /etc/ferry/ferry.yaml
  chmod 0640 /etc/ferry/ferry.yaml
fi
# Data (queue, quarantine, dead letters: PHI): the service account only.
install -d -o ferry -g ferry -m 0700 /var/lib/ferry
chown -R ferry:ferry /var/lib/ferry

if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl daemon-reload || true
  systemctl enable ferry.service || true
  # Restart on upgrade so the new binary runs; first install starts it too
  # (the default configuration only listens on loopback).
  systemctl restart ferry.service || true
fi
exit 0
