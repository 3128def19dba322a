#!/usr/bin/env bash
# Installs what a fresh machine lacks: Debian's libfuse3-dev, fuse3 (fusermount3), pkg-config
# and a C toolchain (to build fuse-napi, the FUSE binding), rsync, attr and libcap2-bin (its
# tests), chromium (the dashboard's browser test), tcpdump (the multi-host tier's capture) and
# the npm packages, then builds fuse-napi with our source patch. Safe to run again; does
# nothing that is already done.
set -euo pipefail
cd "$(dirname "$0")/.."
SUDO=""; [ "$(id -u)" -eq 0 ] || SUDO="sudo"
need=()
[ -e /usr/include/fuse3/fuse.h ] || need+=(libfuse3-dev)
command -v fusermount3 >/dev/null 2>&1 || need+=(fuse3)
command -v pkg-config >/dev/null 2>&1 || need+=(pkg-config)
{ command -v cc && command -v make; } >/dev/null 2>&1 || need+=(build-essential)
command -v python3 >/dev/null 2>&1 || need+=(python3)   # node-gyp
command -v rsync >/dev/null 2>&1 || need+=(rsync)   # test/fuse: rsync -aHAX twice through a mount
command -v setfattr >/dev/null 2>&1 || need+=(attr)   # test/fuse: setfattr/getfattr on a mount
[ -x /sbin/setcap ] || need+=(libcap2-bin)   # test/fuse: setcap/getcap (file capabilities) on a mount
[ -x /usr/bin/chromium ] || need+=(chromium)   # test/browser: the dashboard in headless Chromium (playwright-core)
command -v tcpdump >/dev/null 2>&1 || need+=(tcpdump)   # test/multihost: a capture of the traffic between hosts
if [ ${#need[@]} -gt 0 ]; then
  echo "installing ${need[*]} (apt)" >&2
  $SUDO apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${need[@]}" >/dev/null
fi
# fuse-napi refuses allow_other mounts (even as root) unless /etc/fuse.conf allows them.
if ! grep -qs '^[[:space:]]*user_allow_other' /etc/fuse.conf; then
  echo user_allow_other | $SUDO tee -a /etc/fuse.conf >/dev/null
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
# fuse-napi is built from source, with patches/ applied to its C source (libfuse 3 takes st_ino
# from getattr only with use_ino, which fuse-napi does not set) and to its JavaScript (the
# request's caller without AsyncLocalStorage): it has no prebuild for Node 20,
# and npm may or may not have run its install script (which builds it unpatched). Node's headers
# come with Node (--nodedir: nothing is downloaded). A stamp marks our build: skipped while the
# stamp is newer than the binary, the patch and package.json (a reinstall removes it).
fuse=node_modules/fuse-napi
bin=$fuse/build/Release/fuse.node
stamp=$fuse/build/cfs-patched-build
if [ ! -e "$bin" ] || [ ! "$stamp" -nt "$bin" ] || [ ! "$stamp" -nt patches/fuse-napi+2.3.1.patch ] || [ package.json -nt "$stamp" ]; then
  node_modules/.bin/patch-package --error-on-fail
  nodedir="$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")"
  gyp="$(dirname "$(readlink -f "$(command -v npm)")")/../node_modules/node-gyp/bin/node-gyp.js"
  (cd "$fuse" && node "$gyp" rebuild --nodedir="$nodedir" --loglevel=error >/dev/null)
  touch "$stamp"
fi
