#!/usr/bin/env bash
# Benchmark: the policy analyses on a generated policy of 5,000
# compartments and 50,000 resources (policy/gen, seed 1). Prints
#   1. in-process phase times (bench/policy): load, analysis graphs, check,
#      blast radius of every compartment and role (summary and full), wall
#      and CPU time, best of 3, and the process's peak RSS;
#   2. the command line end to end (load included), best of 3 with peak
#      RSS: rampart policy check, and rampart policy blast-radius --all.
# Not a test: run it by hand on a quiet machine.
#
#   bench/policy.sh [N M]   (default 5000 50000; files go to $BENCH_DIR or /dev/shm)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-5000}
m=${2:-50000}
dir=${BENCH_DIR:-/dev/shm}/rampart-policy-bench.$$
mkdir -p "$dir/policy"
trap 'rm -rf "$dir"' EXIT
[ -x /usr/bin/time ] || { echo "/usr/bin/time not installed (apt-get install time)" >&2; exit 2; }

go build -o "$dir/rampart" ./cmd/rampart
go build -o "$dir/bench" ./bench/policy
"$dir/bench" -n "$n" -m "$m" -generate-only -dir "$dir/policy"

echo
echo "== in process (bench/policy)"
/usr/bin/time -f 'peak RSS %M KiB, %e s elapsed' "$dir/bench" -n "$n" -m "$m" -runs 3 2>&1 | grep -v '^policy:'

# best NAME CMD...: best elapsed seconds of 3 and the peak RSS (KiB) of
# that run; the command must exit 0.
best() {
  local name=$1; shift
  local b="" mem=""
  for i in 1 2 3; do
    /usr/bin/time -f '%e %M' -o "$dir/$name.time" "$@" > "$dir/$name.out" 2>&1 || { cat "$dir/$name.out" >&2; exit 1; }
    read -r t k < "$dir/$name.time"
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; mem=$k; fi
  done
  echo "$b $mem"
}

echo
echo "== command line, load included (best of 3)"
read -r ct cm < <(best check "$dir/rampart" policy check "$dir/policy")
read -r bt bm < <(best blast "$dir/rampart" policy blast-radius --all --policy "$dir/policy")
printf '%-52s %8s %10s\n' command seconds peak_MiB
printf '%-52s %8s %10.1f\n' "rampart policy check" "$ct" "$(awk "BEGIN{print $cm/1024}")"
printf '%-52s %8s %10.1f\n' "rampart policy blast-radius --all" "$bt" "$(awk "BEGIN{print $bm/1024}")"
grep -m1 '^policy ' "$dir/check.out" || true
echo "$(nproc) cores, load average $(cut -d' ' -f1-3 /proc/loadavg), $(go version | awk '{print $3}')"
