#!/usr/bin/env bash
# Benchmark: privacy filter throughput (package privacy) on typical audit
# events, and Lint throughput, and print events per second. Not a test:
# run it by hand on a quiet machine. Context: the whole agent pipeline
# (parse, attribute, filter, detect, append) must sustain 50,000 events/s.
#
#   bench/privacy.sh [BENCHTIME]   (default 3s; go test -benchtime syntax)
#
# Inputs: every record of ../shared/testdata/audit (real logs, default
# policy, warm caches), synthetic exec events (SYSCALL, EXECVE, CWD, two
# PATHs, PROCTITLE) with recurring users ("warm") or a new uid, user and
# IP address in every event ("cold": every pseudonym and Crypto-PAn
# address computed, the worst case). Figures per wall second and per CPU
# second (user+system of the process, GC included): on a shared machine
# the second is the one to compare.
set -euo pipefail
cd "$(dirname "$0")/.."
benchtime=${1:-3s}
out=$(go test -run '^$' -bench 'BenchmarkFilter|BenchmarkLint' -benchtime "$benchtime" -count 1 -benchmem ./privacy/)
echo "$out" | grep -E '^(goos|goarch|cpu|Benchmark)'
echo
echo "$out" | awk '
/^Benchmark/ {
  name = $1; sub(/-[0-9]+$/, "", name)
  line = sprintf("%-30s", name)
  for (i = 3; i < NF; i++) {
    if ($(i+1) == "events/s" || $(i+1) == "events/cpu-s" || $(i+1) == "records/s" || $(i+1) == "lines/s" || $(i+1) == "MB/s")
      line = line sprintf("  %12.0f %s", $i, $(i+1))
  }
  print line
}'
