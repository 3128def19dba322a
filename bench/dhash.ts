// DHash throughput on a 3-process loopback ring with k = 3: put and get MB/s by block size, and
// peak memory of every process. The bench process is a client outside the ring (connectRing).
//   npm run bench:dhash -- [--sizes 8192,65536,262144,1048576] [--mib 128] [--inflight 32] [--json] [--profile DIR]
// With --json, one JSON object per line: blockSize, blocks, putMBps, getMBps, peakRssMB, ...
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import pLimit from 'p-limit'
import { BlockKind, contentKey } from '../src/dhash/index.js'
import { connectRing } from '../src/node/index.js'
import { waitForRing } from '../test/helpers/ring-settled.js'
import { peakRssMiB, startRing, stopRing, type BenchNode } from './lib/ring.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '8192,65536,262144,1048576' },
    mib: { type: 'string', default: '128' },
    inflight: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
    profile: { type: 'string' },
  },
})

let nodes: BenchNode[] = []
try {
  nodes = await startRing({ nodes: 3, args: ['--replicas', '3', '--repair-ms', '600000'], ...(values.profile === undefined ? {} : { profileDir: values.profile }) })
  // Let the three nodes learn each other (stabilization runs every second by default).
  await waitForRing(nodes)
  const ring = await connectRing({ ring: nodes.map((n) => n.address) })
  const limit = pLimit(Number(values.inflight))
  for (const size of (values.sizes ?? '').split(',').map(Number)) {
    const count = Math.max(16, Math.round(Number(values.mib) * 2 ** 20 / size))
    // A pool of distinct blocks generated up front would hold the whole run in memory; blocks
    // are made as they are put and only their keys are kept.
    const keys: Array<Uint8Array & { __brand: 'Key' }> = []
    let degraded = 0
    const t0 = performance.now()
    await Promise.all(Array.from({ length: count }, async () => limit(async () => {
      const bytes = randomBytes(size)
      const key = contentKey(bytes)
      const r = await ring.blocks.put(BlockKind.CONTENT, key, bytes)
      if (r.degraded) degraded++
      keys.push(key)
    })))
    const putS = (performance.now() - t0) / 1000
    const t1 = performance.now()
    await Promise.all(keys.map(async (key) => limit(async () => { await ring.blocks.get(BlockKind.CONTENT, key) })))
    const getS = (performance.now() - t1) / 1000
    const mb = count * size / 1e6
    const rss = await Promise.all(nodes.map(async (n) => peakRssMiB(n.process.pid)))
    const result = {
      blockSize: size,
      blocks: count,
      replicas: 3,
      inflight: Number(values.inflight),
      putMBps: Number((mb / putS).toFixed(1)),
      getMBps: Number((mb / getS).toFixed(1)),
      degraded,
      peakRssMB: Math.max(...rss, Math.round(process.memoryUsage().rss / 2 ** 20)),
      nodePeakRssMB: rss,
      benchRssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
    }
    if (values.json === true) console.log(JSON.stringify(result))
    else console.log(`${String(size).padStart(8)} B blocks x ${count}: put ${result.putMBps} MB/s, get ${result.getMBps} MB/s (k = 3, ${result.inflight} in flight), peak RSS ${result.peakRssMB} MiB${degraded > 0 ? `, ${degraded} degraded` : ''}`)
  }
  await ring.close()
} finally {
  await stopRing(nodes)
}
