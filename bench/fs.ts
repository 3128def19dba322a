// File-tree throughput through the CLI on a 3-process loopback ring with k = 3: `cfs put` and
// `cfs get` of one large file and of many small files, each CLI run a separate client process.
//   npm run bench:fs -- [--mib 256] [--files 2000] [--file-kib 4] [--json]
// With --json, one JSON object per line (MB/s or files/s, peak RSS of the CLI and the nodes).
import { spawn } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { fileURLToPath } from 'node:url'
import { waitForRing } from '../test/helpers/ring-settled.js'
import { sha256File, writeRandomFile } from './lib/files.js'
import { peakRssMiB, startRing, stopRing, type BenchNode } from './lib/ring.js'

const { values } = parseArgs({
  options: {
    mib: { type: 'string', default: '256' },
    files: { type: 'string', default: '2000' },
    'file-kib': { type: 'string', default: '4' },
    json: { type: 'boolean', default: false },
  },
})
const CFS_BIN = fileURLToPath(new URL('../bin/cfs', import.meta.url))

async function cfs (args: string[]): Promise<{ out: string, seconds: number }> {
  const t0 = performance.now()
  const child = spawn(process.execPath, [CFS_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', (b: Buffer) => { out += b.toString() })
  child.stderr.on('data', (b: Buffer) => { err = (err + b.toString()).slice(-4000) })
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve))
  if (code !== 0) throw new Error(`cfs ${args.join(' ')} exited ${code}: ${err}`)
  return { out, seconds: (performance.now() - t0) / 1000 }
}

const work = await mkdtemp(join(tmpdir(), 'cfs-bench-fs-'))
let nodes: BenchNode[] = []
const report = (r: Record<string, unknown>, text: string): void => { console.log(values.json === true ? JSON.stringify(r) : text) }
try {
  nodes = await startRing({ nodes: 3, args: ['--replicas', '3', '--repair-ms', '600000'] })
  await waitForRing(nodes)
  const ring = ['--ring', (nodes[0] as BenchNode).address]
  const key = join(work, 'owner.key')
  await cfs(['keygen', key])
  const rw = [...ring, '--key', key, '--data', join(work, 'client')]

  // One large file, written in 1 MiB pieces so the generator never holds it whole.
  const mib = Number(values.mib)
  const big = join(work, 'big.bin')
  await writeRandomFile(big, mib)
  const put = await cfs(['put', big, '/big.bin', ...rw, '--json'])
  const get = await cfs(['get', '/big.bin', join(work, 'big.out'), ...rw, '--json'])
  const same = await sha256File(big) === await sha256File(join(work, 'big.out'))
  const bytes = mib * 1024 * 1024
  const putRss = (JSON.parse(put.out) as { peakRssMB: number }).peakRssMB
  const getRss = (JSON.parse(get.out) as { peakRssMB: number }).peakRssMB
  report({ workload: 'large-file', mib, putMBps: Number((bytes / 1e6 / put.seconds).toFixed(1)), getMBps: Number((bytes / 1e6 / get.seconds).toFixed(1)), verified: same, cliPeakRssMB: Math.max(putRss, getRss) },
    `${mib} MiB file: put ${(bytes / 1e6 / put.seconds).toFixed(1)} MB/s, get ${(bytes / 1e6 / get.seconds).toFixed(1)} MB/s, checksums ${same ? 'equal' : 'DIFFER'}, CLI peak RSS ${Math.max(putRss, getRss)} MiB`)
  await rm(join(work, 'big.out'))

  // Many small files.
  const n = Number(values.files)
  const size = Number(values['file-kib']) * 1024
  const dir = join(work, 'small')
  for (let i = 0; i < n; i++) {
    const sub = join(dir, `d${Math.floor(i / 500)}`)
    if (i % 500 === 0) await mkdir(sub, { recursive: true })
    await writeFile(join(sub, `f${i}`), randomBytes(size))
  }
  const sput = await cfs(['put', dir, '/small', ...rw, '--json'])
  const sget = await cfs(['get', '/small', join(work, 'small.out'), ...rw, '--json'])
  const diff = await new Promise<number | null>((resolve) => spawn('diff', ['-rq', dir, join(work, 'small.out')], { stdio: 'ignore' }).on('exit', resolve))
  report({ workload: 'small-files', files: n, fileKiB: size / 1024, putFilesPerSec: Math.round(n / sput.seconds), getFilesPerSec: Math.round(n / sget.seconds), verified: diff === 0 },
    `${n} x ${size / 1024} KiB files: put ${Math.round(n / sput.seconds)} files/s, get ${Math.round(n / sget.seconds)} files/s, diff ${diff === 0 ? 'equal' : 'DIFFERS'}`)
  const rss = await Promise.all(nodes.map(async (x) => peakRssMiB(x.process.pid)))
  report({ workload: 'nodes', nodePeakRssMB: rss }, `node peak RSS: ${rss.join(', ')} MiB`)
} finally {
  await stopRing(nodes)
  await rm(work, { recursive: true, force: true })
}
