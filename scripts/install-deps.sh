#!/usr/bin/env bash
# Installs what a fresh machine lacks: Debian's libfuse2 and fuse (for the FUSE mount), rsync (its tests) and the
# npm packages. Safe to run again; does nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
need=()
[ -e /usr/lib/x86_64-linux-gnu/libfuse.so.2 ] || ldconfig -p 2>/dev/null | grep -q 'libfuse.so.2 ' || need+=(libfuse2)
command -v fusermount >/dev/null 2>&1 || need+=(fuse)
command -v rsync >/dev/null 2>&1 || need+=(rsync)   # test/fuse: rsync -a twice through a mount
if [ ${#need[@]} -gt 0 ]; then
  SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "installing ${need[*]} (apt)" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# `npm install`, not `npm ci`: @napi-rs/blake-hash 1.3.6 names a build for every platform as an
# optional dependency, but only its linux-x64 builds were published at 1.3.6, so the lock file
# cannot list the others and `npm ci` rejects it as out of sync (blake3.ts falls back to
# @noble/hashes where no build exists). package-lock.json is committed exactly as npm 11 writes
# it here (every other optional native build that exists included), so `npm install` follows
# it and leaves it unchanged. Skipped when node_modules is newer than package.json and the lock:
# `npm test` runs this script first (pretest), so a second run must cost nothing.
if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ package.json -nt node_modules/.package-lock.json ]; then
  npm install --no-audit --no-fund --loglevel=error
fi
