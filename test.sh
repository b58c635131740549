#!/usr/bin/env bash
# Runs Rampart's whole test suite: installs what the tests need when it is
# missing (Debian packages, Go modules), then gofmt, go vet, staticcheck
# and go test. Usage: ./test.sh [go test flags, e.g. -short or -run X]
set -euo pipefail
cd "$(dirname "$0")"
export PATH="$PATH:/usr/sbin:/sbin"

# Debian packages the tests use as real oracles.
need=()
have() { command -v "$1" >/dev/null 2>&1; }
have veritysetup || need+=(cryptsetup-bin)
have openssl || need+=(openssl)
have mke2fs || need+=(e2fsprogs)
have git || need+=(git)
have systemd-analyze || need+=(systemd)
have secilc || need+=(secilc)
have sesearch || need+=(setools)
have dot || need+=(graphviz)
have chromium || need+=(chromium)
have qemu-system-x86_64 || need+=(qemu-system-x86)
have mkfs.erofs || need+=(erofs-utils)
have cpio || need+=(cpio)
# The sandbox launcher is C, linked in with cgo.
have gcc || need+=(gcc)
[ -e /usr/include/stdio.h ] || need+=(libc6-dev)
ls /boot/vmlinuz-*-cloud-amd64 >/dev/null 2>&1 || need+=(linux-image-cloud-amd64)
if ((${#need[@]})); then
  echo "test.sh: installing ${need[*]}" >&2
  sudo=""
  [ "$(id -u)" = 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

go mod download
go mod verify >/dev/null

echo "== gofmt" >&2
bad=$(gofmt -l $(find . -name '*.go' -not -path './.git/*'))
if [ -n "$bad" ]; then
  echo "gofmt would change:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "== go vet" >&2
go vet ./...
echo "== staticcheck" >&2
go tool staticcheck ./...
echo "== go test" >&2
go test -count=1 -timeout 15m "$@" ./...
