#!/usr/bin/env bash
# Benchmark: launch overhead of "rampart run" against a plain exec and
# against bubblewrap with comparable isolation, in the same run: 200
# launches of /bin/true each (in 5 interleaved rounds), best round's mean
# per launch. Not a test: run it by hand on a quiet machine.
#
#   bench/run.sh [LAUNCHES]      (default 200)
#
# As root it also runs as nobody (RUN_AS_NOBODY=0 to skip), where both
# tools use a user namespace. The launch cache is on (its directory is
# a temporary one): rampart's first launch plans the sandbox in Go and
# remembers it, the others start from the cache without the Go runtime.
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-200}
command -v bwrap >/dev/null || { echo "bwrap not installed (apt-get install bubblewrap)" >&2; exit 2; }
dir=$(mktemp -d /var/tmp/rampart-bench-run.XXXXXX)   # not under /tmp: the sandbox's /tmp is private
trap 'rm -rf "$dir"' EXIT
chmod 755 "$dir"
go build -o "$dir/rampart" ./cmd/rampart
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
    r-no-cache "$dir/rampart" run --no-cache --quiet --policy "$dir/bench.hcl" --compartment bench -- /bin/true ::: \
    r-version "$dir/rampart" version ::: \
    r-explain "$dir/rampart" run --quiet --explain --policy "$dir/bench.hcl" --compartment bench -- /bin/true
}
# r-no-cache plans every launch in Go (the first launch of a request,
# or any after its policy, command or environment changed); r-version
# (start and exit of the rampart binary's Go runtime) and r-explain
# (that plus loading the policy and planning the sandbox) break that
# cost down.

# Files changed less than two seconds ago keep a plan out of the launch
# cache (stage.RacyWindow): let the policy and the data age first.
sleep 2.1
mkdir -m 700 "$dir/cache" "$dir/cache-nobody"
chown 65534:65534 "$dir/cache-nobody" 2>/dev/null || true
export RAMPART_RUN_CACHE="$dir/cache"

"$dir/rampart" run --explain --policy "$dir/bench.hcl" --compartment bench -- /bin/true | sed -n '1,3p'
if [ "$(id -u)" = 0 ]; then
  bench "as root"
  if [ "${RUN_AS_NOBODY:-1}" = 1 ]; then
    bwrap_args=(--unshare-user "${bwrap_args[@]}")
    RAMPART_RUN_CACHE="$dir/cache-nobody" bench "as nobody (user namespaces)" -uid 65534
  fi
else
  bwrap_args=(--unshare-user "${bwrap_args[@]}")
  bench "as $(id -un) (user namespaces)"
fi
