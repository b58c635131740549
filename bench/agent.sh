#!/usr/bin/env bash
# Benchmark: the node agent (rampart agent). Not a test: run it by hand, as
# root, on a quiet machine. Two parts:
#
#  1. Pipeline throughput: a log of EVENTS events (default 1,000,000) is
#     built by looping the shared audit logs (../shared/testdata/audit,
#     every event renumbered so that the stream has no gaps), then the
#     whole pipeline runs on it in process — parse, reassemble, track,
#     attribute, judge against a policy, the shipped detection rules, the
#     privacy filter, canonical JSON, appends to a ledger on disk with an
#     fsync per 1000 entries and a signed checkpoint per 10,000. Best of 3
#     by wall time; target >= 50,000 events/s.
#
#  2. Exec load: Debian's auditd (installed if missing) and the agent
#     (multicast, with the rules it generates loaded) run at the same
#     time while a loop starts /bin/true RATE times a second (default
#     1000) for SECONDS (default 30); the CPU each used (utime+stime from
#     /proc/PID/stat) is compared. Target: the agent's CPU no higher than
#     auditd's (Debian's default configuration: log_format = ENRICHED,
#     flush = INCREMENTAL_ASYNC). The agent removes its rules when it
#     stops; the audit enabled flag is restored.
#
#   bench/agent.sh [EVENTS] [RATE] [SECONDS]
#   SKIP_EXEC=1 bench/agent.sh      (part 1 only; no root needed)
#   SKIP_PIPELINE=1 bench/agent.sh  (part 2 only)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
events=${1:-1000000}
rate=${2:-1000}
seconds=${3:-30}
shared=${SHARED:-../shared/testdata/audit}
dir=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/rampart-agent-bench.XXXXXX")
cleanup() {
  [ -n "${agent_pid:-}" ] && kill "$agent_pid" 2>/dev/null && wait "$agent_pid" 2>/dev/null || true
  [ -n "${auditd_pid:-}" ] && kill "$auditd_pid" 2>/dev/null && wait "$auditd_pid" 2>/dev/null || true
  [ -n "${saved_enabled:-}" ] && auditctl -e "$saved_enabled" >/dev/null 2>&1 || true
  rm -rf "$dir"
}
trap cleanup EXIT

go build -o "$dir/agentbench" ./bench/agentbench
go build -o "$dir/rampart" ./cmd/rampart
echo "machine: $(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg), $(uname -r)" >&2

if [ -z "${SKIP_PIPELINE:-}" ]; then
  [ -d "$shared" ] || { echo "shared logs not found at $shared (set SHARED=)" >&2; exit 2; }
  "$dir/agentbench" -build "$dir/audit.log" -shared "$shared" -events "$events"
  echo "log: about $events events, $(du -m "$dir/audit.log" | cut -f1) MiB" >&2
  best=""
  for i in 1 2 3; do
    rm -rf "$dir/ledger"
    out=$("$dir/agentbench" -pipeline "$dir/audit.log" -ledger "$dir/ledger")
    echo "$out" >&2
    r=$(echo "$out" | awk '/^events\/s wall/ {print $3}' | tr -d ,)
    if [ -z "$best" ] || [ "$r" -gt "$best" ]; then best=$r; bestout=$out; fi
  done
  echo
  echo "== pipeline (best of 3, load average $(cut -d' ' -f1 /proc/loadavg))"
  echo "$bestout"
  echo "target: >= 50000 events/s"
fi

if [ -z "${SKIP_EXEC:-}" ]; then
  [ "$(id -u)" = 0 ] || { echo "the exec benchmark needs root (SKIP_EXEC=1 to skip)" >&2; exit 2; }
  if ! command -v auditd >/dev/null; then
    echo "installing auditd..." >&2
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends auditd >/dev/null
  fi
  if pidof auditd >/dev/null; then
    echo "auditd is already running: stop it first (the benchmark starts its own)" >&2
    exit 2
  fi
  saved_enabled=$(auditctl -s | awk '$1 == "enabled" {print $2}')
  # The policy: one compartment, so that the generated rules are the
  # agent's usual set (execve, connect, privileged syscalls, a file rule
  # and a watch).
  mkdir -p "$dir/bin" "$dir/keys"
  cp /bin/true "$dir/bin/svc"
  cat > "$dir/policy.hcl" <<EOF
compartment "svc" {
  tier        = "trusted"
  executables = ["$dir/bin/svc"]
}
resource "keys" {
  kind   = "file"
  paths  = ["$dir/keys/*"]
  labels = ["secret"]
  owner  = "svc"
}
EOF
  mkdir -p /var/log/audit
  auditctl -e 1 >/dev/null
  auditd -n -s nochange &
  auditd_pid=$!
  sleep 1
  kill -0 "$auditd_pid" || { echo "auditd did not start" >&2; exit 1; }
  "$dir/rampart" agent --policy "$dir/policy.hcl" --ledger "$dir/agent-ledger" --mode multicast --load-rules \
    > "$dir/alerts.jsonl" 2> "$dir/agent.err" &
  agent_pid=$!
  sleep 2
  kill -0 "$agent_pid" || { cat "$dir/agent.err" >&2; exit 1; }
  lost0=$(auditctl -s | awk '$1 == "lost" {print $2}')
  a0=$("$dir/agentbench" -cpu "$agent_pid"); d0=$("$dir/agentbench" -cpu "$auditd_pid")
  spawn=$("$dir/agentbench" -spawn "$rate" -duration "${seconds}s")
  sleep 1
  a1=$("$dir/agentbench" -cpu "$agent_pid"); d1=$("$dir/agentbench" -cpu "$auditd_pid")
  lost1=$(auditctl -s | awk '$1 == "lost" {print $2}')
  kill -TERM "$agent_pid"; wait "$agent_pid" || true; agent_pid=""
  kill -TERM "$auditd_pid"; wait "$auditd_pid" || true; auditd_pid=""
  el=$((seconds + 1))
  echo
  echo "== exec load: $spawn"
  awk -v a0="$a0" -v a1="$a1" -v d0="$d0" -v d1="$d1" -v s="$el" 'BEGIN {
    a = a1 - a0; d = d1 - d0
    printf "agent  CPU %.2f s = %.1f%% of one CPU\n", a, 100 * a / s
    printf "auditd CPU %.2f s = %.1f%% of one CPU\n", d, 100 * d / s
    printf "agent / auditd = %.2f (target <= 1)\n", (d > 0 ? a / d : 0)
  }'
  echo "kernel lost counter: $lost0 -> $lost1"
  tail -1 "$dir/agent.err"
  n=$(tail -1 "$dir/agent.err" | awk '{print $3}')
  execs=$(echo "$spawn" | awk '{print $1}')
  if [ "${n:-0}" -lt $((execs / 2)) ]; then
    echo "WARNING: the agent saw $n events for $execs execs: was audit disabled during the run (by another process)? Run again." >&2
  fi
fi
