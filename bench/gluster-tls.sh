#!/usr/bin/env bash
# GlusterFS replica 3 with TLS on its I/O path, run through ../shared/bench's file-system suite:
# the baseline for cfs's encrypted links (shared/bench's own gluster section is plaintext).
#   sudo bash bench/gluster-tls.sh          # RUNS (3), NO_INSTALL etc. as for shared/bench/run-all.sh
# Results are appended to shared/bench/results/results.tsv under the label "... TLS on the I/O
# path" and summarized; run it right after `run-all.sh target gluster` to compare in one sitting.
#
# It runs shared/bench/bench/gluster.sh, changed at three places (each must be found, or nothing
# runs): its own data and mount directories; a self-signed certificate, key and CA written where
# Debian's glusterfs looks for them (/usr/lib/ssl/glusterfs.{pem,key,ca}) and removed by the
# script's teardown; `client.ssl on`, `server.ssl on` and `auth.ssl-allow *` set on the volume
# before it starts. glusterd's own management traffic stays plaintext, as it is not on the I/O path.
set -euo pipefail
PEERS=$(cd "$(dirname "$0")/../../shared/bench" && pwd)
SSL_DIR=/usr/lib/ssl
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/bench"
ln -s "$PEERS/lib" "$work/lib"

node - "$PEERS/bench/gluster.sh" "$work/bench/gluster-tls.sh" "$SSL_DIR" <<'JS'
const fs = require('node:fs')
const [from, to, ssl] = process.argv.slice(2)
let s = fs.readFileSync(from, 'utf8')
const files = ['key', 'pem', 'ca'].map((e) => `${ssl}/glusterfs.${e}`).join(' ')
const edits = [
  ['G="$DATA/gluster"; M="$MNT/gluster"', 'G="$DATA/gluster-tls"; M="$MNT/gluster-tls"'],
  ['trap cleanup EXIT\n', `for f in ${files}; do [ -e "$f" ] && { record "$LABEL" "ERROR: $f exists" - 0 0; exit 1; }; done
trap 'cleanup; rm -f ${files}' EXIT
openssl req -x509 -newkey rsa:2048 -nodes -keyout ${ssl}/glusterfs.key -out ${ssl}/glusterfs.pem -days 2 -subj "/CN=$H" 2>/dev/null
cp ${ssl}/glusterfs.pem ${ssl}/glusterfs.ca
`],
  ['GL volume start $VOL', `{ GL volume set $VOL client.ssl on && GL volume set $VOL server.ssl on && GL volume set $VOL auth.ssl-allow '*'; } >>"$LOGDIR/gluster.log" 2>&1 \\
  || { record "$LABEL" "ERROR: volume set ssl failed" - 0 0; exit 1; }
GL volume start $VOL`],
]
for (const [a, b] of edits) {
  if (!s.includes(a)) { console.error(`gluster-tls: shared/bench/bench/gluster.sh has changed: "${a.trim()}" not found`); process.exit(1) }
  s = s.replace(a, b)
}
fs.writeFileSync(to, s, { mode: 0o755 })
JS

cd "$PEERS"
export PEERS_DIR="$PEERS"
# shellcheck source=/dev/null
source lib/common.sh
export RUNS SIZE_MIB SMALL_N SMALL_KIB RESULTS DATA SHM LOGDIR
ensure_sources
trap 'rm -rf "$work"; [ -n "${KEEP_SHM:-}" ] || rm -rf "$SHM"' EXIT
FS_TIMEOUT=900 "$work/bench/gluster-tls.sh" "glusterfs $(dpkg-query -W -f='${Version}' glusterfs-server) replica 3, TLS on the I/O path"
node bench/summarize.mjs "$RESULTS"
