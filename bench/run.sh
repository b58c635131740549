#!/usr/bin/env bash
# Benchmark: launch overhead of "rampart run" against a plain exec and
# against bubblewrap with comparable isolation, in the same run: 200
# launches of /bin/true each (in 5 interleaved rounds), best round's mean
# per launch. Not a test: run it by hand on a quiet machine.
#
#   bench/run.sh [LAUNCHES]      (default 200)
#
# As root it also runs as nobody (RUN_AS_NOBODY=0 to skip), where both
# tools use a user namespace. rampart is built with CGO_ENABLED=0
# (RAMPART_CGO=1 keeps the default, a dynamically linked binary).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
command -v bwrap >/dev/null || { echo "bwrap not installed (apt-get install bubblewrap)" >&2; exit 2; }
dir=$(mktemp -d /var/tmp/rampart-bench-run.XXXXXX)   # not under /tmp: the sandbox's /tmp is private
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
cgo=0
[ "${RAMPART_CGO:-0}" = 1 ] && cgo=$(go env CGO_ENABLED)
CGO_ENABLED=$cgo go build -o "$dir/rampart" ./cmd/rampart
go build -o "$dir/launch" bench/run_launch.go
mkdir -m 777 "$dir/data"
cat > "$dir/bench.hcl" <<HCL
resource "data" {
  kind  = "directory"
  paths = ["$dir/data/**"]
}
compartment "bench" {
  tier     = "trusted"
  user     = "nobody"
  group    = "nogroup"
  syscalls = ["@system-service"]
  limits {
    nofile = 1024
    core   = 0
  }
  allow {
    verbs = ["read", "write", "create", "delete"]
    on    = ["data"]
  }
}
HCL

# Comparable isolation: new mount, pid, ipc, uts and network namespaces;
# the root read-only, /tmp, /run and /dev/shm private, /proc of the pid
# namespace, one writable directory, no capabilities. rampart adds
# Landlock, seccomp, no_new_privs, MDWE, rlimits, the uid switch (as
# root) and an environment scrub, which bwrap does not do here.
bwrap_args=(--unshare-pid --unshare-ipc --unshare-uts --unshare-net --die-with-parent
  --ro-bind / / --tmpfs /tmp --tmpfs /run --tmpfs /dev/shm --proc /proc
  --bind "$dir/data" "$dir/data" --cap-drop ALL)

bench() { # bench LABEL [launcher flags]
  echo "== $1: $(uname -r), $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)"
  shift
  "$dir/launch" -n "$n" -rounds 5 "$@" \
    plain /bin/true ::: \
    rampart "$dir/rampart" run --quiet --policy "$dir/bench.hcl" --compartment bench -- /bin/true ::: \
    bwrap "$(command -v bwrap)" "${bwrap_args[@]}" /bin/true ::: \
    r-version "$dir/rampart" version ::: \
    r-explain "$dir/rampart" run --quiet --explain --policy "$dir/bench.hcl" --compartment bench -- /bin/true
}
# r-version (start and exit of the rampart binary) and r-explain (that
# plus loading the policy and planning the sandbox) break the overhead
# down: a launch starts the rampart binary twice (the caller's process
# and the sandbox's init stage, which takes over early in package
# initialization).

"$dir/rampart" run --explain --policy "$dir/bench.hcl" --compartment bench -- /bin/true | sed -n '1,3p'
if [ "$(id -u)" = 0 ]; then
  bench "as root"
  if [ "${RUN_AS_NOBODY:-1}" = 1 ]; then
    bwrap_args=(--unshare-user "${bwrap_args[@]}")
    bench "as nobody (user namespaces)" -uid 65534
  fi
else
  bwrap_args=(--unshare-user "${bwrap_args[@]}")
  bench "as $(id -un) (user namespaces)"
fi
