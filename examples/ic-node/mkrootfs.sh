#!/bin/sh
# Rebuilds rootfs.img, the example ext4 root filesystem, reproducibly
# (fixed UUID, hash seed and time) from rootfs-src/.
set -eu
cd "$(dirname "$0")"
rm -f rootfs.img
E2FSPROGS_FAKE_TIME=1700000000 mke2fs -q -t ext4 -b 4096 -U 2f6f3c3e-6a7b-4c1e-9a55-1c0de0000001 \
  -E hash_seed=2f6f3c3e-6a7b-4c1e-9a55-1c0de0000002,root_owner=0:0 -O ^has_journal,^metadata_csum \
  -d rootfs-src rootfs.img 4M
