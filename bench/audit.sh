#!/usr/bin/env bash
# Benchmark: parse and reassemble audit records with rampart (package
# audit) on ONE core, next to ausearch/aureport (Debian package auditd)
# reading the same log in the same run; print records per second and the
# ratios. Not a test: run it by hand on a quiet machine.
#
#   bench/audit.sh [RECORDS]   (default 1000000; the log goes to $BENCH_DIR or /dev/shm)
#
# The log is built by looping every record of ../shared/testdata/audit
# (laurel, go-libaudit and SPADE logs), shifting serials and times per copy
# so that every copy is a new set of events. Each tool runs pinned to one
# CPU (taskset) with GOMAXPROCS=1; times are the best of 3 runs, both wall
# clock and CPU (user+sys) — on a shared machine compare the CPU columns.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
records=${1:-1000000}
shared=${SHARED:-../shared/testdata/audit}
[ -d "$shared" ] || { echo "shared logs not found at $shared (set SHARED=)" >&2; exit 2; }
command -v ausearch >/dev/null || { echo "ausearch not installed (apt-get install auditd)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not installed (apt-get install time)" >&2; exit 2; }
dir=${BENCH_DIR:-/dev/shm}/rampart-audit-bench.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
pin=""
command -v taskset >/dev/null && pin="taskset -c 0"

go build -o "$dir/auditbench" ./audit/internal/auditbench
"$dir/auditbench" -build "$dir/audit.log" -shared "$shared" -records "$records"
echo "log: $records records, $(du -m "$dir/audit.log" | cut -f1) MiB" >&2

# best NAME CMD...: best of 3 by CPU time; prints "wall cpu peak_KiB"
best() {
  local name=$1; shift
  local bw="" bc="" bm=""
  for _ in 1 2 3; do
    /usr/bin/time -f '%e %U %S %M' -o "$dir/$name.time" "$@" > "$dir/$name.out" 2> "$dir/$name.err" ||
      { cat "$dir/$name.err" >&2; exit 1; }
    read -r w u s m < "$dir/$name.time"
    c=$(awk "BEGIN{print $u + $s}")
    if [ -z "$bc" ] || awk "BEGIN{exit !($c < $bc)}"; then bw=$w; bc=$c; bm=$m; fi
  done
  echo "$bw $bc $bm"
}

export GOMAXPROCS=1
# rampart, whole process (read + parse + reassemble), and its own in-process figure
read -r rw rc rm < <(best rampart $pin "$dir/auditbench" -in "$dir/audit.log" -runs 1)
inproc=$(GOMAXPROCS=1 $pin "$dir/auditbench" -in "$dir/audit.log" -runs 3)
inproc_decode=$(GOMAXPROCS=1 $pin "$dir/auditbench" -in "$dir/audit.log" -runs 3 -decode)
# baselines: ausearch groups records into events and prints them raw;
# --format csv normalises every event; aureport --summary parses fields
read -r aw ac am < <(best ausearch-raw $pin ausearch -if "$dir/audit.log" --raw)
read -r cw cc cm < <(best ausearch-csv $pin ausearch -if "$dir/audit.log" --format csv)
read -r pw pc pm < <(best aureport $pin aureport -if "$dir/audit.log" --summary)

rate() { awk "BEGIN{printf \"%.0f\", $records / $1}"; }
ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
echo
echo "rampart in-process (parse + reassemble, GOMAXPROCS=1): $inproc"
echo "rampart in-process (+ decode usual facts):             $inproc_decode"
echo
printf '%-34s %8s %8s %14s %10s %9s\n' tool wall_s cpu_s records/s_cpu peak_MiB cpu_ratio
printf '%-34s %8s %8s %14s %10.1f %9s\n' "rampart auditbench" "$rw" "$rc" "$(rate "$rc")" "$(awk "BEGIN{print $rm/1024}")" "1.00"
printf '%-34s %8s %8s %14s %10.1f %8sx\n' "ausearch --raw" "$aw" "$ac" "$(rate "$ac")" "$(awk "BEGIN{print $am/1024}")" "$(ratio "$ac" "$rc")"
printf '%-34s %8s %8s %14s %10.1f %8sx\n' "ausearch --format csv" "$cw" "$cc" "$(rate "$cc")" "$(awk "BEGIN{print $cm/1024}")" "$(ratio "$cc" "$rc")"
printf '%-34s %8s %8s %14s %10.1f %8sx\n' "aureport --summary" "$pw" "$pc" "$(rate "$pc")" "$(awk "BEGIN{print $pm/1024}")" "$(ratio "$pc" "$rc")"
echo "(cpu_ratio: the tool's CPU time over rampart's; target: rampart >= 300000 records/s on one core)"
