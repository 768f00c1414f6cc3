#!/usr/bin/env bash
# build.sh OUTDIR [VERSION]: build ferry's packages into OUTDIR:
#   ferry_<v>_amd64.deb, ferry-<v>-1.x86_64.rpm  (nfpm v2.45.2)
#   ferry-<v>-x64.msi                            (wixl, Debian package wixl)
#   ferry (linux/amd64) and ferry.exe (windows/amd64)
# Set SKIP_MSI=1 or SKIP_RPM=1 to leave one out; ARCH (default amd64)
# picks the Linux architecture. Run from anywhere inside the repository.
set -euo pipefail

out=${1:?usage: installer/build.sh OUTDIR [VERSION]}
root=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=${2:-$(cd "$root" && git describe --tags --always --dirty 2>/dev/null | sed 's/^v//' || true)}
version=${version:-0.0.0}
# Debian and MSI versions must start with a digit; MSI wants a.b.c.
case "$version" in [0-9]*) ;; *) version="0.0.0~$version" ;; esac
msiversion=$(printf '%s' "$version" | sed -E 's/^([0-9]+(\.[0-9]+){0,2}).*/\1/')
arch=${ARCH:-amd64}
nfpm_mod=github.com/goreleaser/nfpm/v2/cmd/nfpm@v2.45.2

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
ldflags="-s -w -X main.version=$version"

cd "$root"
echo "build: ferry $version linux/$arch"
CGO_ENABLED=0 GOOS=linux GOARCH=$arch go build -trimpath -ldflags "$ldflags" -o "$out/ferry" ./cmd/ferry

# An nfpm on PATH is used only when it is the pinned version; otherwise the
# pinned module is run from the Go module proxy.
run_nfpm() {
  local bin
  bin=$(type -P nfpm || true)
  if [ -n "$bin" ] && "$bin" --version 2>/dev/null | grep -q '2\.45\.2'; then
    "$bin" "$@"
  else
    go run "$nfpm_mod" "$@"
  fi
}
sed "s|@FERRY_BINARY@|$out/ferry|" installer/nfpm.yaml > "$stage/nfpm.yaml"
for fmt in deb rpm; do
  if [ "$fmt" = rpm ] && [ -n "${SKIP_RPM:-}" ]; then continue; fi
  VERSION=$version ARCH=$arch run_nfpm package -f "$stage/nfpm.yaml" -p "$fmt" -t "$out/"
done

if [ -z "${SKIP_MSI:-}" ]; then
  echo "build: ferry $version windows/amd64"
  CGO_ENABLED=0 GOOS=windows GOARCH=amd64 go build -trimpath -ldflags "$ldflags" -o "$out/ferry.exe" ./cmd/ferry
  command -v wixl >/dev/null || { echo "build: wixl not found (apt-get install wixl)" >&2; exit 1; }
  mkdir -p "$stage/msi"
  cp "$out/ferry.exe" "$stage/msi/ferry.exe"
  cp installer/windows/ferry.yaml "$stage/msi/ferry.yaml"
  cp installer/windows/ferry.wxs "$stage/msi/ferry.wxs"
  # wixl resolves Source paths relative to the working directory; its GLib
  # warnings about attributes it ignores are noise.
  (cd "$stage/msi" && wixl -a x64 -D Version="$msiversion" -D Binary=ferry.exe -D Config=ferry.yaml \
     -o "$out/ferry-$msiversion-x64.msi" ferry.wxs 2> >(grep -v -e 'GLib-GObject-WARNING' -e '^$' >&2 || true))
fi
ls -l "$out"
