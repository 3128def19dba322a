#!/usr/bin/env bash
# The main job, from a fresh checkout: install what is missing, build, start a local ring of
# three nodes on 127.0.0.1 (one with 2 virtual nodes), show its status and a lookup, stop it.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
npm run --silent build
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$work"; }
trap cleanup EXIT
start() { # start NAME ARGS...: runs in this shell, not in $(...), so its PID is kept for cleanup
  local name=$1; shift
  ./bin/cfs node --listen 127.0.0.1:0 --data "$work/$name" --stabilize-ms 200 "$@" >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do [ -s "$work/$name.out" ] && break; sleep 0.1; done
  echo "node $name: $(head -1 "$work/$name.out")"
}
start a
addr=$(awk '{print $2}' "$work/a.out")
start b --join "$addr"
start c --join "$addr" --vnodes 2
sleep 2
./bin/cfs status --node "$addr"
./bin/cfs lookup --node "$addr" hello-world
echo "stopping the ring (SIGTERM: each node leaves gracefully)"
