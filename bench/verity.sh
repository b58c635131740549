#!/usr/bin/env bash
# Benchmark: format and verify a dm-verity image with rampart and with
# veritysetup in the same run, on the same data, and print the times, the
# ratio and peak memory. Not a test: run it by hand on a quiet machine.
#
#   bench/verity.sh [SIZE_MIB]   (default 2048; files go to $BENCH_DIR or /dev/shm)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
size_mib=${1:-2048}
dir=${BENCH_DIR:-/dev/shm}/rampart-bench.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
command -v veritysetup >/dev/null || { echo "veritysetup not installed (apt-get install cryptsetup-bin)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not installed (apt-get install time)" >&2; exit 2; }

go build -o "$dir/rampart" ./cmd/rampart
echo "creating ${size_mib} MiB of random data in $dir" >&2
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$dir/data"
salt=e48da609055204e89ae53b655ca2216dd983cf3cb829f34f63a297d106d53e2d
uuid=12345678-1234-1234-1234-123456789abc

# run NAME CMD...: prints elapsed seconds and peak RSS (KiB) into $dir/NAME.
run() {
  local name=$1; shift
  /usr/bin/time -f '%e %M' -o "$dir/$name.time" "$@" > "$dir/$name.out" 2>&1 || { cat "$dir/$name.out" >&2; exit 1; }
}
best() { # best of 3 runs
  local name=$1; shift
  local b="" m=""
  for i in 1 2 3; do
    run "$name" "$@"
    read -r t mem < "$dir/$name.time"
    if [ -z "$b" ] || awk "BEGIN{exit !($t < $b)}"; then b=$t; m=$mem; fi
  done
  echo "$b $m"
}

read -r vf_t vf_m < <(best vs-format veritysetup format "$dir/data" "$dir/hash.vs" --salt=$salt --uuid=$uuid)
read -r rf_t rf_m < <(best r-format "$dir/rampart" verity format "$dir/data" "$dir/hash.r" --salt=$salt --uuid=$uuid)
cmp "$dir/hash.vs" "$dir/hash.r" || { echo "hash devices differ!" >&2; exit 1; }
root=$(grep 'Root hash' "$dir/vs-format.out" | awk '{print $3}')
read -r vv_t vv_m < <(best vs-verify veritysetup verify "$dir/data" "$dir/hash.vs" "$root")
read -r rv_t rv_m < <(best r-verify "$dir/rampart" verity verify "$dir/data" "$dir/hash.r" "$root")

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
printf '%-8s %-12s %10s %12s %8s\n' op tool seconds peak_MiB speedup
printf '%-8s %-12s %10s %12.1f\n' format veritysetup "$vf_t" "$(awk "BEGIN{print $vf_m/1024}")"
printf '%-8s %-12s %10s %12.1f %7sx\n' format rampart "$rf_t" "$(awk "BEGIN{print $rf_m/1024}")" "$(ratio "$vf_t" "$rf_t")"
printf '%-8s %-12s %10s %12.1f\n' verify veritysetup "$vv_t" "$(awk "BEGIN{print $vv_m/1024}")"
printf '%-8s %-12s %10s %12.1f %7sx\n' verify rampart "$rv_t" "$(awk "BEGIN{print $rv_m/1024}")" "$(ratio "$vv_t" "$rv_t")"
# FEC (roots 2) on the first FEC_MIB MiB: veritysetup's encoder is slow, so
# this runs once on a smaller slice.
fec_mib=${FEC_MIB:-256}
if [ "$fec_mib" -gt 0 ]; then
  head -c $((fec_mib * 1024 * 1024)) "$dir/data" > "$dir/fdata"
  run vs-fec veritysetup format "$dir/fdata" "$dir/fhash.vs" --fec-device "$dir/fec.vs" --fec-roots 2 --salt=$salt --uuid=$uuid
  read -r vfec_t vfec_m < "$dir/vs-fec.time"
  run r-fec "$dir/rampart" verity format "$dir/fdata" "$dir/fhash.r" --fec-device "$dir/fec.r" --fec-roots 2 --salt=$salt --uuid=$uuid
  read -r rfec_t rfec_m < "$dir/r-fec.time"
  cmp "$dir/fec.vs" "$dir/fec.r" || { echo "FEC parity differs!" >&2; exit 1; }
  printf '%-8s %-12s %10s %12.1f\n' fec-fmt veritysetup "$vfec_t" "$(awk "BEGIN{print $vfec_m/1024}")"
  printf '%-8s %-12s %10s %12.1f %7sx  (%s MiB, roots 2, tree + parity)\n' fec-fmt rampart "$rfec_t" "$(awk "BEGIN{print $rfec_m/1024}")" "$(ratio "$vfec_t" "$rfec_t")" "$fec_mib"
fi
echo "size ${size_mib} MiB, $(nproc) cores, $(go version | awk '{print $3}'), $(veritysetup --version | awk '{print $1, $2}')"
