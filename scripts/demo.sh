#!/usr/bin/env bash
# The main job, from a fresh checkout: install what is missing (Debian's libfuse3-dev and fuse3,
# the npm packages, the FUSE binding), build, make an owner key if there is none, start an
# embedded local node and mount the owner's volume read-write, copy a sample in, list it, and
# show the published versions. Then it unmounts (publishing first); KEEP=1 leaves it mounted.
#   bash scripts/demo.sh            # mounts at ~/cfs-demo (or $CFS_MOUNT)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run --silent build
data=${CFS_DATA:-$HOME/.local/share/cfs}
mnt=${CFS_MOUNT:-$HOME/cfs-demo}
key="$data/owner.key"
mkdir -p "$data" "$mnt"
cfs() { ./bin/cfs "$@"; }
if [ ! -f "$key" ]; then
  echo "making an owner key: $key"
  echo "public key (anyone may mount the volume read-only with --pubkey): $(cfs keygen "$key")"
fi
# A mount left by a killed demo is cleared by the next mount; one still served is reused.
if mountpoint -q "$mnt"; then cfs unmount "$mnt" || fusermount -uz "$mnt" || true; fi
cfs mount "$mnt" --key "$key" --data "$data" --daemon
cleanup() { [ "${KEEP:-0}" = 1 ] || cfs unmount "$mnt"; }
trap cleanup EXIT
sample="$mnt/sample-$(date +%H%M%S)"
mkdir -p "$sample"
cp -a README.md docs "$sample/"
sync "$sample/README.md"         # fsync: returns once the data and a root naming it are published
ls -la "$mnt"
ls -la "$sample" "$sample/docs"
df -h "$mnt"
echo "published versions (read-only, in .snapshots):"
ls "$mnt/.snapshots" | tail -5
if [ "${KEEP:-0}" = 1 ]; then echo "left mounted at $mnt; unmount with: ./bin/cfs unmount $mnt"; else echo "unmounting $mnt"; fi
