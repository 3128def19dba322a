// DHash throughput on a 3-process loopback ring with k = 3: put and get MB/s by block size, and
// peak memory of every process. The bench process is a client outside the ring (connectRing).
//   npm run bench:dhash -- [--sizes 8192,65536,262144,1048576] [--mib 128] [--inflight 32] [--links tls,plain] [--json] [--profile DIR]
// --links: the links to measure, each on a ring of its own, one after the other: tls (the
// default, TLS 1.3 everywhere) and plain (--no-encrypt on nodes and client), for what
// encryption costs.
// With --json, one JSON object per line: blockSize, blocks, putMBps, getMBps, peakRssMB, and
// putCpuMsPerMB / getCpuMsPerMB (CPU of every process per MB), coldGet (page cache dropped
// before the gets), nodePeakAnonRssMB (peak memory without mapped LevelDB files), ...
import { randomBytes } from 'node:crypto'
import { parseArgs } from 'node:util'
import pLimit from 'p-limit'
import { BlockKind, contentKey } from '../src/dhash/index.js'
import { connectRing } from '../src/node/index.js'
import { waitForRing } from '../test/helpers/ring-settled.js'
import { dropCaches } from './lib/files.js'
import { cpuMs, peakRssMiB, sampleAnonRss, startRing, stopRing, type BenchNode } from './lib/ring.js'

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '8192,65536,262144,1048576' },
    mib: { type: 'string', default: '128' },
    inflight: { type: 'string', default: '32' },
    json: { type: 'boolean', default: false },
    profile: { type: 'string' },
    links: { type: 'string', default: 'tls' },
  },
})

const POOL_BYTES = 64 * 2 ** 20

/** CPU ms used so far by the nodes and this process. */
async function cpuTotal (ring: readonly BenchNode[]): Promise<number> {
  const own = process.cpuUsage()
  const each = await Promise.all(ring.map(async (n) => cpuMs(n.process.pid)))
  return each.reduce((a, b) => a + b, (own.user + own.system) / 1000)
}

const pool = new Uint8Array(randomBytes(POOL_BYTES))
for (const links of (values.links ?? '').split(',')) {
  if (links !== 'tls' && links !== 'plain') throw new Error(`--links takes tls and plain, not ${links}`)
  await measure(links === 'tls')
}

async function measure (encrypt: boolean): Promise<void> {
  let nodes: BenchNode[] = []
  try {
    const linkArgs = encrypt ? [] : ['--no-encrypt']
    nodes = await startRing({ nodes: 3, args: ['--replicas', '3', '--repair-ms', '600000', ...linkArgs], ...(values.profile === undefined ? {} : { profileDir: values.profile }) })
    // Let the three nodes learn each other (stabilization runs every second by default).
    await waitForRing(nodes, 60_000, 3, { encrypt })
    const ring = await connectRing({ ring: nodes.map((n) => n.address), link: { encrypt } })
    const limit = pLimit(Number(values.inflight))
    for (const size of (values.sizes ?? '').split(',').map(Number)) {
      const count = Math.max(16, Math.round(Number(values.mib) * 2 ** 20 / size))
      // Blocks are distinct windows into one random pool (offsets step by a prime, so they never
      // repeat within the pool): random content made before the clock starts, as the baselines'
      // input file is, without holding every block of the run in memory.
      const keys: Array<Uint8Array & { __brand: 'Key' }> = []
      let degraded = 0
      const stopSampling = sampleAnonRss(nodes.map((n) => n.process.pid))
      const cpu0 = await cpuTotal(nodes)
      const t0 = performance.now()
      await Promise.all(Array.from({ length: count }, async (_, i) => limit(async () => {
        const offset = (i * 4099) % (pool.length - size)
        const bytes = pool.subarray(offset, offset + size)
        const key = contentKey(bytes)
        const r = await ring.blocks.put(BlockKind.CONTENT, key, bytes)
        if (r.degraded) degraded++
        keys.push(key)
      })))
      const putS = (performance.now() - t0) / 1000
      const cpu1 = await cpuTotal(nodes)
      // Gets then read the nodes' files from disk, as the baselines' cold reads do.
      const cold = await dropCaches()
      const t1 = performance.now()
      await Promise.all(keys.map(async (key) => limit(async () => { await ring.blocks.get(BlockKind.CONTENT, key) })))
      const getS = (performance.now() - t1) / 1000
      const cpu2 = await cpuTotal(nodes)
      const anon = stopSampling()
      const mb = count * size / 1e6
      const rss = await Promise.all(nodes.map(async (n) => peakRssMiB(n.process.pid)))
      const result = {
        links: encrypt ? 'tls' : 'plain',
        blockSize: size,
        blocks: count,
        replicas: 3,
        inflight: Number(values.inflight),
        putMBps: Number((mb / putS).toFixed(1)),
        getMBps: Number((mb / getS).toFixed(1)),
        degraded,
        coldGet: cold,
        // CPU time of every process (nodes and this client) per MB moved: steadier than MB/s on a
        // shared machine, and it shows where the time goes.
        putCpuMsPerMB: Math.round((cpu1 - cpu0) / mb * 10) / 10,
        getCpuMsPerMB: Math.round((cpu2 - cpu1) / mb * 10) / 10,
        peakRssMB: Math.max(...rss, Math.round(process.memoryUsage().rss / 2 ** 20)),
        nodePeakRssMB: rss,
        // Without the mapped LevelDB table files that VmHWM counts (see sampleAnonRss).
        nodePeakAnonRssMB: anon,
        benchRssMB: Math.round(process.memoryUsage().rss / 2 ** 20),
      }
      if (values.json === true) console.log(JSON.stringify(result))
      else console.log(`${result.links.padEnd(5)} ${String(size).padStart(8)} B blocks x ${count}: put ${result.putMBps} MB/s, get ${result.getMBps} MB/s${cold ? ' (cold)' : ''} (k = 3, ${result.inflight} in flight); CPU ms/MB put ${result.putCpuMsPerMB}, get ${result.getCpuMsPerMB}; peak RSS ${result.peakRssMB} MiB (nodes' anonymous ${Math.max(...anon)} MiB)${degraded > 0 ? `, ${degraded} degraded` : ''}`)
    }
    await ring.close()
  } finally {
    await stopRing(nodes)
  }
}
