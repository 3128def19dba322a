import { afterEach, describe, expect, it } from 'vitest'
import { keysEqual, toHex, type Key } from '../../../src/core/index.js'
import { RemoteRouter } from '../../../src/chord/index.js'
import { SimRing, type SimHost } from '../../helpers/sim-ring.js'

/*
 * Lookups past silent nodes (they accept requests and never answer, as a stopped process or a
 * host behind a dropping firewall does). A client outside the ring with a 10 s RPC deadline
 * still gets its answer in about a second: a hop that has not answered in LOOKUP_HEDGE_MS has
 * the next candidate asked alongside it (or, with none left, the last node that answered is
 * asked for its successors), the successor lists fetched at the end are extras given
 * LOOKUP_FINISH_STATE_MS, a silent successor's own list is replaced by the list of the node
 * that named it, so the holders after it are known, and a node that went silent is asked last
 * by the lookups after.
 */

const RPC_TIMEOUT_MS = 10_000

let ring: SimRing | undefined
afterEach(async () => { await ring?.destroy(); ring = undefined })

async function settledRing (seed: number, nodes = 12): Promise<SimRing> {
  const r = await SimRing.create({ nodes, seed })
  await r.stabilize(50)
  await r.fixFingers()
  return r
}

function hostOf (r: SimRing, id: Key): SimHost {
  return r.live().find((h) => keysEqual(h.node.self.id, id)) as SimHost
}

async function timed<T> (f: () => Promise<T>): Promise<{ ms: number, value: T }> {
  const t0 = performance.now()
  const value = await f()
  return { ms: performance.now() - t0, value }
}

describe('lookups from outside the ring past silent nodes', () => {
  it('a silent successor: the answer comes in well under the RPC deadline, with the live nodes after it', async () => {
    const r = ring = await settledRing(41)
    const client = r.network.createTransport('client.test:1', { rpcTimeoutMs: RPC_TIMEOUT_MS })
    await client.start()
    try {
      const key = r.randomKey()
      const succ = hostOf(r, r.referenceSuccessor(key))
      const bootstrap = r.live().find((h) => h !== succ) as SimHost
      const router = new RemoteRouter({ transport: client }, { bootstrap: [bootstrap.address], rpcTimeoutMs: RPC_TIMEOUT_MS })
      r.network.silence(succ.address)
      const { ms, value } = await timed(async () => router.lookup(key, { minSuccessors: 4, minEndpoints: 3 }))
      expect(ms).toBeLessThan(3_000)
      expect(toHex(value.successor.id)).toBe(toHex(succ.node.self.id))
      // The holders after the silent successor come from the node that named it.
      expect(value.successors.length).toBeGreaterThanOrEqual(3)
      expect(value.successors.slice(1).some((n) => n.address !== succ.address)).toBe(true)
    } finally {
      await client.stop()
    }
  })

  it('two of three silent (the mount\'s partition test): every key\'s holders include the live node, each lookup in about a second', { timeout: 20_000 }, async () => {
    const r = ring = await settledRing(43, 3)
    const client = r.network.createTransport('client.test:3', { rpcTimeoutMs: RPC_TIMEOUT_MS })
    await client.start()
    try {
      const [live, ...others] = [...r.live()] as [SimHost, SimHost, SimHost]
      const router = new RemoteRouter({ transport: client }, { bootstrap: [live.address], rpcTimeoutMs: RPC_TIMEOUT_MS })
      for (const h of others) r.network.silence(h.address)
      for (let i = 0; i < 6; i++) {
        const key = r.randomKey()
        const { ms, value } = await timed(async () => router.lookup(key, { minSuccessors: 4, minEndpoints: 3 }))
        expect(ms).toBeLessThan(3_000)
        expect(value.successors.map((n) => n.address)).toContain(live.address)
      }
    } finally {
      await client.stop()
    }
  })

  it('a silent node on the way: the next candidate is asked alongside it after the hedge delay', async () => {
    const r = ring = await settledRing(42)
    const client = r.network.createTransport('client.test:2', { rpcTimeoutMs: RPC_TIMEOUT_MS })
    await client.start()
    try {
      const hosts = [...r.live()]
      // Bootstrap at two nodes; the one closer to the key (asked first) is silent.
      const [a, b] = [hosts[0] as SimHost, hosts[6] as SimHost]
      const key = b.node.self.id // a precedes it on the way round from b: a is asked first
      const router = new RemoteRouter({ transport: client }, { bootstrap: [b.address, a.address], rpcTimeoutMs: RPC_TIMEOUT_MS })
      r.network.silence(a.address)
      const { ms, value } = await timed(async () => router.lookup(key))
      expect(ms).toBeLessThan(3_000)
      expect(toHex(value.successor.id)).toBe(toHex(r.referenceSuccessor(key)))
    } finally {
      await client.stop()
    }
  })
})
