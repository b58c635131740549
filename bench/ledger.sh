#!/usr/bin/env bash
# Benchmark: the ledger's durable append throughput against the physical
# floor (the same 512-byte entries written to a plain file, one fsync per
# batch of 1000) in the same run, then inclusion proofs and a full verify at
# 1,000,000 entries. Prints the figures, the ratio and the targets. Not a
# test: run it by hand on a quiet machine.
#
#   bench/ledger.sh [ENTRIES]   (default 300000 appended per run; files go
#                                to $BENCH_DIR, default the temp dir: it must
#                                be a real disk, not tmpfs, for fsync to count)
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-300000}
out=$(mktemp)
trap 'rm -f "$out"' EXIT

echo "appending $n entries of 512 bytes, ledger and plain file alternately, 3 runs each..." >&2
go test -run '^$' -bench '^BenchmarkAppend(PlainFile)?$' -benchtime "${n}x" -count 3 ./bench/ | tee "$out" >&2
echo "building a 1,000,000-entry ledger, then proofs and verify..." >&2
go test -run '^$' -bench '^BenchmarkLedger1M$' -benchtime 2s -timeout 30m ./bench/ | tee -a "$out" >&2

# best NAME: the highest entries/s of the runs of benchmark NAME.
best() { awk -v b="^$1-[0-9]+\$" '$1 ~ b { for (i = 1; i < NF; i++) if ($(i+1) == "entries/s" && $i > m) m = $i } END { printf "%.0f", m }' "$out"; }
# nsop NAME: ns/op of benchmark NAME.
nsop() { awk -v b="^$1-[0-9]+\$" '$1 ~ b { print $3 }' "$out" | head -1; }

ledger=$(best BenchmarkAppend)
plain=$(best BenchmarkAppendPlainFile)
prove=$(nsop BenchmarkLedger1M/prove)
tproof=$(nsop BenchmarkLedger1M/tlog-proof)
verify=$(nsop BenchmarkLedger1M/verify)
check() { awk "BEGIN { print ($1) ? \"ok\" : \"MISSED\" }"; }

echo
printf '%-44s %14s %10s %s\n' measure value target met
printf '%-44s %14s %10s %s\n' "ledger append, fsync per 1000 (entries/s)" "$ledger" ">=100000" "$(check "$ledger >= 100000")"
printf '%-44s %14s\n' "plain file, fsync per 1000 (entries/s)" "$plain"
printf '%-44s %14s\n' "ledger / plain file" "$(awk "BEGIN { printf \"%.2f\", $ledger / $plain }")"
printf '%-44s %14s %10s %s\n' "inclusion proof at 1M entries (us)" "$(awk "BEGIN { printf \"%.1f\", $prove / 1000 }")" "<50" "$(check "$prove < 50000")"
printf '%-44s %14s\n' "tlog-proof file at 1M, entry read (us)" "$(awk "BEGIN { printf \"%.1f\", $tproof / 1000 }")"
printf '%-44s %14s %10s %s\n' "full verify of 1M entries (s)" "$(awk "BEGIN { printf \"%.2f\", $verify / 1e9 }")" "<5" "$(check "$verify < 5e9")"
where=${BENCH_DIR:-${TMPDIR:-/tmp}}
echo "$(nproc) cores, $(go version | awk '{print $3}'), load $(cut -d' ' -f1-3 /proc/loadavg), files in $where ($(df -T "$where" | awk 'NR == 2 { print $2 }'))"
