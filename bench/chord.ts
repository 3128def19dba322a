// Chord lookup benchmark on the in-memory network (real codec, seeded).
// npm run bench:chord -- --nodes N [--lookups L] [--seed S] [--json]
// With several --nodes values (comma-separated), runs each in turn.
import { parseArgs } from 'node:util'
import { SimRing } from '../test/helpers/sim-ring.js'

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '1000' },
    lookups: { type: 'string', default: '10000' },
    seed: { type: 'string', default: '1' },
    json: { type: 'boolean', default: false },
  },
})

for (const n of (values.nodes ?? '1000').split(',').map(Number)) {
  const t0 = performance.now()
  const ring = await SimRing.create({ nodes: n, seed: Number(values.seed) })
  const buildMs = performance.now() - t0
  const count = Number(values.lookups)
  const t1 = performance.now()
  const s = await ring.lookups(count)
  const lookupMs = performance.now() - t1
  const result = {
    nodes: n,
    lookups: count,
    meanHops: Number(s.meanHops.toFixed(3)),
    p99Hops: s.p99Hops,
    halfLog2N: Number((0.5 * Math.log2(n)).toFixed(3)),
    correct: s.correct / count,
    failed: s.failed,
    lookupsPerSec: Math.round(count / (lookupMs / 1000)),
    buildSec: Number((buildMs / 1000).toFixed(1)),
    messages: ring.network.stats.messages,
    // The process's peak so far (maxRSS is in KiB): run one size per process for a per-size peak.
    peakRssMB: Math.round(process.resourceUsage().maxRSS / 1024),
  }
  await ring.destroy()
  if (values.json === true) {
    console.log(JSON.stringify(result))
  } else {
    console.log(`nodes ${n}: mean hops ${result.meanHops} (0.5*log2 N = ${result.halfLog2N}), p99 ${result.p99Hops}, ` +
      `correct ${(result.correct * 100).toFixed(2)}%, ${result.lookupsPerSec} lookups/s, ring built in ${result.buildSec} s, ` +
      `peak RSS ${result.peakRssMB} MB`)
  }
}
