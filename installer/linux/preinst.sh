#!/bin/sh
# ferry package pre-install: create the service account before the files
# are unpacked, so that the package itself can give /var/lib/ferry to it
# and /etc/ferry to its group. rpm applies a package's owners and modes to
# its directories on every upgrade: were they root's in the package, each
# upgrade would take the data folder from the running service until the
# postinst gave it back, and `rpm --setugids`/`--restore` for good.
set -e
case "${1:-install}" in
  abort-upgrade) exit 0 ;;
esac
if ! getent passwd ferry >/dev/null 2>&1; then
  nologin=/usr/sbin/nologin
  [ -x "$nologin" ] || nologin=/sbin/nologin
  [ -x "$nologin" ] || nologin=/bin/false
  group=--user-group
  getent group ferry >/dev/null 2>&1 && group="--gid ferry"
  useradd --system $group --no-create-home --home-dir /var/lib/ferry \
    --shell "$nologin" --comment "ferry health data gateway" ferry
fi
exit 0
