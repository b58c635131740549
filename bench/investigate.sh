#!/usr/bin/env bash
# Benchmark: "rampart investigate" on synthetic provenance (the generator
# in bench/investigate_test.go: services accepting remote clients, reading
# configuration and data, appending logs, calling each other over unix
# sockets and remote APIs; workers forked per request; operator sessions).
# Prints ingest rates, the load and the queries on a 10-million-event
# graph, the peak memory, and the targets. Not a test: run it by hand on a
# quiet machine.
#
#   bench/investigate.sh [EVENTS] [QUERY_EVENTS]
#       EVENTS        events for the ingest figures (default 2000000)
#       QUERY_EVENTS  events of the graph queried (default 10000000)
#   The generated audit.log goes to $BENCH_DIR (default /dev/shm).
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-2000000}
q=${2:-10000000}
[ -x /usr/bin/time ] || { echo "/usr/bin/time not installed (apt-get install time)" >&2; exit 2; }
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
go test -c -o "$dir/bench.test" ./bench/
export BENCH_DIR=${BENCH_DIR:-/dev/shm}

echo "ingest: $n events, generated into memory, then mapped and built (3 runs)..." >&2
INVESTIGATE_EVENTS=$n "$dir/bench.test" -test.run '^$' -test.bench 'BenchmarkInvestigate(Generate|Ingest)$' \
  -test.benchtime 3x -test.count 3 | tee "$dir/ingest.out" >&2
echo "the same events as an audit.log, read whole (parse, reassemble, track, map, build)..." >&2
INVESTIGATE_EVENTS=$n "$dir/bench.test" -test.run '^$' -test.bench 'BenchmarkInvestigateAuditLog$' \
  -test.benchtime 2x -test.count 2 | tee -a "$dir/ingest.out" >&2
echo "a $q-event graph, then the queries (5 runs each)..." >&2
INVESTIGATE_EVENTS=$q /usr/bin/time -f '%M' -o "$dir/query.rss" "$dir/bench.test" -test.run '^$' \
  -test.bench 'BenchmarkInvestigateQuery$' -test.benchtime 5x -test.v | tee "$dir/query.out" >&2

# best NAME UNIT: the highest value with that unit of the runs of benchmark NAME.
best() { awk -v b="$1" -v u="$2" '{ n = $1; sub(/-[0-9]+$/, "", n) } n == b { for (i = 2; i < NF; i++) if ($(i+1) == u && $i > m) m = $i } END { printf "%.0f", m }' "$3"; }
# fastest NAME: the lowest ns/op of benchmark NAME.
fastest() { awk -v b="$1" '{ n = $1; sub(/-[0-9]+$/, "", n) } n == b && (m == "" || $3 < m) { m = $3 } END { print m }' "$2"; }
check() { awk "BEGIN { print ($1) ? \"ok\" : \"MISSED\" }"; }

ingest=$(best BenchmarkInvestigateIngest events/s "$dir/ingest.out")
gen=$(best BenchmarkInvestigateGenerate events/s "$dir/ingest.out")
auditlog=$(best BenchmarkInvestigateAuditLog events/s "$dir/ingest.out")
bf=$(fastest BenchmarkInvestigateQuery/backward+forward "$dir/query.out")
fs=$(fastest BenchmarkInvestigateQuery/forward-service "$dir/query.out")
tr=$(fastest BenchmarkInvestigateQuery/traversal-only "$dir/query.out")
rss=$(cat "$dir/query.rss")

echo
grep -h 'events: ' "$dir/query.out" | sed 's/^ *investigate_test.go:[0-9]*: /graph: /'
printf '%-58s %14s %10s %s\n' measure value target met
printf '%-58s %14s %10s %s\n' "ingest, generated events into the graph (events/s)" "$ingest" ">=200000" "$(check "$ingest >= 200000")"
printf '%-58s %14s\n' "  the generator alone (events/s)" "$gen"
printf '%-58s %14s %10s %s\n' "ingest from audit.log text (events/s)" "$auditlog" ">=200000" "$(check "$auditlog >= 200000")"
printf '%-58s %14s %10s %s\n' "backward + forward with the report, $q events (ms)" "$(awk "BEGIN { printf \"%.0f\", $bf / 1e6 }")" "<1000" "$(check "$bf < 1e9")"
printf '%-58s %14s\n' "forward from a service, with the report (ms)" "$(awk "BEGIN { printf \"%.0f\", $fs / 1e6 }")"
printf '%-58s %14s\n' "the two traversals alone (ms)" "$(awk "BEGIN { printf \"%.0f\", $tr / 1e6 }")"
printf '%-58s %14s %10s %s\n' "peak memory: generate, load and query (MiB)" "$((rss / 1024))" "<2048" "$(check "$rss < 2097152")"
echo "$(nproc) cores, $(go version | awk '{print $3}'), load average $(cut -d' ' -f1-3 /proc/loadavg)"
