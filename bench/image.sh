#!/usr/bin/env bash
# Benchmark: seal and install an image with rampart, against the same work
# done with standard tools in the same run, on the same data:
#
#   rampart image seal     vs  veritysetup format              (hash tree)
#   rampart bundle install vs  dd conv=fsync + sha256sum       (copy to the
#                              slot, then read it back and check it; also
#                              with openssl dgst, whose SHA-256 uses SHA-NI)
#   rampart bundle create  vs  dd conv=fsync                   (pack)
#
# rampart's install also checks the signatures and the whole tree, and keeps
# the boot state; the peers check a plain digest. Prints times (best of 3),
# ratios and peak memory. Not a test: run it by hand on a quiet machine.
#
#   bench/image.sh [SIZE_MIB]   (default 2048; files go to $BENCH_DIR or /dev/shm)
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PATH:/usr/sbin:/sbin"
size_mib=${1:-2048}
dir=${BENCH_DIR:-/dev/shm}/rampart-bench-image.$$
mkdir -p "$dir"
trap 'rm -rf "$dir"' EXIT
command -v veritysetup >/dev/null || { echo "veritysetup not installed (apt-get install cryptsetup-bin)" >&2; exit 2; }
[ -x /usr/bin/time ] || { echo "/usr/bin/time not installed (apt-get install time)" >&2; exit 2; }

go build -o "$dir/rampart" ./cmd/rampart
r="$dir/rampart"
echo "creating ${size_mib} MiB of random data in $dir" >&2
head -c $((size_mib * 1024 * 1024)) /dev/urandom > "$dir/guestos.img"
"$r" image keygen --out "$dir/release" >/dev/null
salt=e48da609055204e89ae53b655ca2216dd983cf3cb829f34f63a297d106d53e2d

# run NAME CMD: elapsed seconds and peak RSS (KiB) of the shell snippet
# CMD, kept in $dir/NAME.best when better than before.
run() {
  local name=$1 cmd=$2
  /usr/bin/time -f '%e %M' -o "$dir/$name.time" bash -c "$cmd" > "$dir/$name.out" 2>&1 || { cat "$dir/$name.out" >&2; exit 1; }
  if [ ! -f "$dir/$name.best" ] || awk "BEGIN{exit !($(cut -d' ' -f1 "$dir/$name.time") < $(cut -d' ' -f1 "$dir/$name.best"))}"; then
    cp "$dir/$name.time" "$dir/$name.best"
  fi
}
# Three rounds; each runs every command once, peers and rampart in turn,
# so that both see the same machine; the best time of each is kept.
for round in 1 2 3; do
  echo "round $round" >&2
  run vs-format "veritysetup format '$dir/guestos.img' '$dir/vs.hash' --salt=$salt"
  run r-seal "'$r' image seal '$dir/guestos.img' --key '$dir/release.key' --version 1.0.0 --seed bench"
  run dd "dd if='$dir/guestos.img' of='$dir/slot.img' bs=1M conv=fsync status=none"
  run r-create "rm -f '$dir/guestos.bundle'; '$r' bundle create '$dir/guestos.manifest.json' --out '$dir/guestos.bundle'"
  run sha256sum "sha256sum '$dir/slot.img'"
  run openssl "openssl dgst -sha256 '$dir/slot.img'"
  rm -f "$dir/slot.img"
  # The slots are emptied before each install, so that every run writes a
  # slot file from nothing, as dd does.
  run r-install "rm -rf '$dir/node'; '$r' bundle install '$dir/guestos.bundle' --slots '$dir/node' --trust '$dir/release.pub'"
  grep -q "verified it there" "$dir/r-install.out" || { cat "$dir/r-install.out" >&2; exit 1; }
done
for n in vs-format r-seal dd r-create sha256sum openssl r-install; do
  read -r t m < "$dir/$n.best"
  v=${n//-/_}
  printf -v "${v}_t" '%s' "$t"
  printf -v "${v}_m" '%s' "$m"
done

ratio() { awk "BEGIN{printf \"%.2f\", $1 / $2}"; }
mib() { awk "BEGIN{printf \"%.1f\", $1 / 1024}"; }
sum() { awk "BEGIN{printf \"%.2f\", $1 + $2 + ${3:-0}}"; }
printf '%-26s %10s   %-34s %10s %8s %10s\n' "rampart" "seconds" "peer" "seconds" "speedup" "peak_MiB"
printf '%-26s %10s   %-34s %10s %7sx %10s\n' "image seal" "$r_seal_t" "veritysetup format" "$vs_format_t" "$(ratio "$vs_format_t" "$r_seal_t")" "$(mib "$r_seal_m")"
printf '%-26s %10s   %-34s %10s %7sx %10s\n' "bundle install" "$r_install_t" "dd conv=fsync + sha256sum" "$(sum "$dd_t" "$sha256sum_t")" "$(ratio "$(sum "$dd_t" "$sha256sum_t")" "$r_install_t")" "$(mib "$r_install_m")"
printf '%-26s %10s   %-34s %10s %7sx\n' "" "" "dd conv=fsync + openssl dgst -sha256" "$(sum "$dd_t" "$openssl_t")" "$(ratio "$(sum "$dd_t" "$openssl_t")" "$r_install_t")"
printf '%-26s %10s   %-34s %10s %7sx\n' "seal + install" "$(sum "$r_seal_t" "$r_install_t")" "format + dd + sha256sum" "$(sum "$vs_format_t" "$dd_t" "$sha256sum_t")" \
  "$(ratio "$(sum "$vs_format_t" "$dd_t" "$sha256sum_t")" "$(sum "$r_seal_t" "$r_install_t")")"
printf '%-26s %10s   %-34s %10s %7sx %10s\n' "bundle create" "$r_create_t" "dd conv=fsync" "$dd_t" "$(ratio "$dd_t" "$r_create_t")" "$(mib "$r_create_m")"
printf '%-26s %10s   %-34s %10s %7sx\n' "seal + create + install" "$(sum "$r_seal_t" "$r_create_t" "$r_install_t")" "format + 2 dd + sha256sum" "$(sum "$vs_format_t" "$dd_t" "$(sum "$dd_t" "$sha256sum_t")")" \
  "$(ratio "$(sum "$vs_format_t" "$dd_t" "$(sum "$dd_t" "$sha256sum_t")")" "$(sum "$r_seal_t" "$r_create_t" "$r_install_t")")"
/usr/bin/time -f '%M' -o "$dir/base.time" "$r" --help >/dev/null
echo "peak memory includes the binary's baseline: $(mib "$(cat "$dir/base.time")") MiB for 'rampart --help'"
echo "size ${size_mib} MiB, $(nproc) cores, $(go version | awk '{print $3}'), $(veritysetup --version | awk '{print $1, $2}'), files in $(dirname "$dir"), load average $(cut -d' ' -f1-3 /proc/loadavg)"
