#!/bin/sh
# ferry package pre-remove: stop the service before its binary goes.
set -e
case "${1:-remove}" in
  remove|0) ;;
  *) exit 0 ;;   # upgrade: postinst restarts it
esac
if [ -d /run/systemd/system ] && command -v systemctl >/dev/null 2>&1; then
  systemctl stop ferry.service || true
  systemctl disable ferry.service || true
fi
exit 0
