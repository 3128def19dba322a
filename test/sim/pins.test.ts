import { afterEach, describe, expect, it } from 'vitest'
import { ChordNode, ChordRpcServer, RemoteRouter } from '../../src/chord/index.js'
import { toHex, type Key } from '../../src/core/index.js'
import { BlockKind, DHashClient, DHashRpc, contentKey } from '../../src/dhash/index.js'
import type { MemoryTransport } from '../../src/net/index.js'
import { SimDHash, type SimDHashHost } from '../helpers/sim-dhash.js'
import { SimRing } from '../helpers/sim-ring.js'
import { errorCode } from '../helpers/thrown.js'

// Seeded simulations of a ring whose endpoints have identity keys (as TLS nodes do): every
// record pins its endpoint's key, the memory network refuses a call pinned to another key,
// and handlers see the key the caller proved. Failures print the seed.

const NO_TIMERS = { stabilizeIntervalMs: 0, fixFingersIntervalMs: 0, checkPredecessorIntervalMs: 0 }

let ring: SimRing | undefined
let sim: SimDHash | undefined
const extra: MemoryTransport[] = []
afterEach(async () => {
  for (const t of extra.splice(0)) await t.stop()
  await sim?.destroy()
  await ring?.destroy()
  sim = undefined
  ring = undefined
})

async function endpoint (network: SimRing['network'], address: string, publicKey?: Uint8Array): Promise<MemoryTransport> {
  const t = network.createTransport(address, { rpcTimeoutMs: 2_000, ...(publicKey === undefined ? {} : { publicKey }) })
  extra.push(t)
  await t.start()
  return t
}

describe('the pin on a 40-node keyed Chord ring', () => {
  it('seed 41: a node re-installed with a new key is routed around until it rejoins, then taken under its new key', async () => {
    const seed = 41
    ring = await SimRing.create({ nodes: 40, seed, keyed: true, successorListSize: 4 })
    const r = ring
    const victim = r.randomLive()
    const oldKey = victim.node.self.key as Uint8Array
    const id = victim.node.self.id
    const knowers = r.liveNodes().filter((n) => n.table.knownNodes().some((k) => k.address === victim.address))
    expect(knowers.length, `seed=${seed}`).toBeGreaterThan(0)
    for (const n of knowers) {
      for (const k of n.table.knownNodes()) if (k.address === victim.address) expect(k.key, `seed=${seed}`).toEqual(oldKey)
    }

    // The machine is installed again at the same address: same node id, a new identity key.
    await r.crash([victim])
    r.network.restart(victim.address)
    const newKey = r.random.bytes(32)
    const t = await endpoint(r.network, victim.address, newKey)
    const reinstalled = new ChordNode({ transport: t, server: new ChordRpcServer(t) }, { ...NO_TIMERS, successorListSize: 4 })
    await reinstalled.start()
    expect(reinstalled.self.id).toEqual(id)

    // Without the pin it would answer as the node every record names; with it, it is refused unsent.
    const probe = await endpoint(r.network, '10.254.0.1:4000', r.random.bytes(32))
    const pong = await probe.request(victim.address, 'chord.ping', { to: id }) as { id: Uint8Array }
    expect(toHex(pong.id)).toBe(toHex(id))
    expect(await errorCode(probe.request(victim.address, 'chord.ping', { to: id }, { peerKey: oldKey })), `seed=${seed}`).toBe('NODE_UNREACHABLE')

    // The ring treats the old records as a dead node's and converges without it.
    await r.stabilize(30)
    await r.fixFingers()
    expect(r.inconsistentNodes(), `seed=${seed}`).toEqual([])
    const stale = r.liveNodes().filter((n) => [...n.table.knownNodes(), ...n.table.predecessors].some((k) => k.address === victim.address))
    expect(stale.map((n) => n.self.address), `seed=${seed}`).toEqual([])
    const lookups = await r.lookups(1_000)
    expect(lookups.correct, `seed=${seed} ${lookups.failures.slice(0, 3).join('; ')}`).toBe(lookups.total)

    // It rejoins: its own record, pinned to the key it proves, is taken.
    await reinstalled.join(r.randomLive().node.self)
    await reinstalled.stabilizeOnce()
    const succ = r.vnodeOf(reinstalled.successors()[0]) as ChordNode
    expect(succ.predecessor()?.hex, `seed=${seed}`).toBe(reinstalled.self.hex)
    expect(succ.predecessor()?.key, `seed=${seed}`).toEqual(newKey)
    await reinstalled.stop()
  })
})

describe('DHash on a 40-node keyed ring, k = 3, successor lists of 4', () => {
  it('seed 42: stores between ring nodes reach k replicas (the k-th holder knows the primary from its predecessor list); an outsider\'s node-to-node calls are FORBIDDEN, its client calls are not', async () => {
    const seed = 42
    sim = await SimDHash.create({ nodes: 40, seed, keyed: true, successorListSize: 4 }, { replicas: 3 })
    const s = sim
    const puts = await s.putRandom(200, 512)
    expect(puts.filter((p) => p.replicas !== 3).length, `seed=${seed}`).toBe(0)
    expect(await s.misplaced(puts.map((p) => p.key)), `seed=${seed}`).toEqual([])

    const via = s.randomLive()
    const outside = await endpoint(s.ring.network, '10.254.0.2:4000', s.ring.random.bytes(32))
    const rpc = new DHashRpc(outside, 2_000)
    const router = new RemoteRouter({ transport: outside }, { bootstrap: [via.address] })
    const key = (puts[0] as { key: Key }).key
    const holder = (await router.lookup(key, { minSuccessors: 4, minEndpoints: 3 })).successor
    const bytes = s.ring.random.bytes(300)
    const item = { key: contentKey(bytes), kind: BlockKind.CONTENT, bytes, expiresAt: Date.now() + 60_000, owner: '' }
    // Node-to-node methods: refused to an identity no ring node's record pins (a store of a
    // copy the node does not hold included).
    expect(await errorCode(rpc.store(holder, item)), `seed=${seed}`).toBe('FORBIDDEN')
    expect(await errorCode(rpc.extend(holder, [key], Date.now() + 60_000)), `seed=${seed}`).toBe('FORBIDDEN')
    expect(await errorCode(rpc.digest(holder, key, key)), `seed=${seed}`).toBe('FORBIDDEN')
    expect(await errorCode(rpc.keys(holder, key, key, 10)), `seed=${seed}`).toBe('FORBIDDEN')
    expect(await s.holders(item.key), `seed=${seed}`).toEqual([])
    // Client methods: open to it.
    expect((await rpc.get(holder, key, false)).kind).toBe(BlockKind.CONTENT)
    expect(await rpc.has(holder, [key])).toEqual([true])
    const client = new DHashClient({ router, rpc }, { replicas: 3 })
    for (let i = 0; i < 20; i++) {
      const b = s.ring.random.bytes(400)
      const r = await client.put(BlockKind.CONTENT, contentKey(b), b)
      expect(r.replicas, `seed=${seed} put ${i}`).toBe(3)
    }
    expect(toHex(await client.get(BlockKind.CONTENT, key))).toBe(toHex(await s.randomLive().dhash.client.get(BlockKind.CONTENT, key)))
    // A reader's repair of a copy the holder has is taken, changing no lease: a bad copy found
    // by this outside client is replaced; a copy the holder lacks is not added.
    const victim = s.live().find((h) => h.address === holder.address) as SimDHashHost
    const good = await victim.blocks.get(key)
    if (good === undefined) throw new Error(`seed=${seed}: the primary lacks ${toHex(key)}`)
    const flipped = new Uint8Array(good.bytes)
    flipped[7] = (flipped[7] as number) ^ 1
    await victim.blocks.put(key, { ...good, bytes: flipped })
    const reader = new DHashClient({ router, rpc }, { replicas: 3, cachePathNodes: 0 })
    expect(toHex(await reader.get(BlockKind.CONTENT, key))).toBe(toHex(good.bytes))
    await reader.settled()
    expect(reader.stats, `seed=${seed}`).toMatchObject({ badCopiesRead: 1, repaired: 1, repairsFailed: 0 })
    const repaired = await victim.blocks.get(key)
    expect(toHex(repaired?.bytes ?? new Uint8Array()), `seed=${seed}`).toBe(toHex(good.bytes))
    expect(repaired?.expiresAt, `seed=${seed}`).toBe(good.expiresAt)
    expect(await rpc.store(holder, { ...item, key, bytes: good.bytes, expiresAt: good.expiresAt + 1_000_000 })).toBe(false)
    expect((await victim.blocks.getMeta(key))?.expiresAt, `seed=${seed}`).toBe(good.expiresAt)
    // A link that proves no identity (plaintext) is let through as before.
    const plain = await endpoint(s.ring.network, '10.254.0.3:4000')
    expect(await new DHashRpc(plain, 2_000).store({ address: holder.address }, item)).toBe(true)
    await rpc.stop()

    // Crashes: maintenance (digest, keys, store between ring nodes) brings every block back to k.
    await s.crash(s.ring.random.shuffle([...s.live()]).slice(0, 2))
    await s.ring.stabilize(30)
    await s.ring.fixFingers()
    await s.repairUntilQuiet()
    expect(await s.misplaced(puts.map((p) => p.key)), `seed=${seed}`).toEqual([])
  })

  it('seed 43: a store refused to a node that joined a moment ago is made up by maintenance, not lost', async () => {
    const seed = 43
    sim = await SimDHash.create({ nodes: 40, seed, keyed: true, successorListSize: 4 }, { replicas: 3 })
    const s = sim
    const joined: SimDHashHost[] = []
    for (let i = 0; i < 6; i++) joined.push(await s.join())
    // At once: the new nodes' second successors have not heard of them (no checkPredecessor yet).
    const refused: string[] = []
    const keys: Key[] = []
    for (let i = 0; i < 300; i++) {
      const bytes = s.ring.random.bytes(256)
      const key = contentKey(bytes)
      keys.push(key)
      const r = await s.randomLive().dhash.client.put(BlockKind.CONTENT, key, bytes)
      if (r.replicas < 3) refused.push(toHex(key).slice(0, 8))
    }
    const newPrimaries = keys.filter((k) => joined.some((h) => toHex(s.ring.referenceSuccessor(k)) === h.node.self.hex))
    expect(newPrimaries.length, `seed=${seed}`).toBeGreaterThan(0)
    expect(refused.length, `seed=${seed}: the scenario must refuse some stores for the test to mean anything`).toBeGreaterThan(0)
    await s.ring.stabilize(30)
    await s.repairUntilQuiet()
    expect(await s.misplaced(keys), `seed=${seed} (${refused.length} puts were short at first)`).toEqual([])
  })
})

describe('source quota on a keyed ring', () => {
  it('seed 44: a client that claims a new owner for every block is refused once its identity, or its address, has put maxBytesPerSource', async () => {
    const seed = 44
    const quota = 64 * 1024
    sim = await SimDHash.create({ nodes: 8, seed, keyed: true }, { replicas: 3, maxBytesPerSource: quota })
    const s = sim
    const target = s.randomLive()
    const primary = target.node.self
    /** Blocks of 8 KiB whose primary is `target`, so that all are charged at one node. */
    const blocks = (n: number): Array<{ key: Key, bytes: Uint8Array }> => {
      const out: Array<{ key: Key, bytes: Uint8Array }> = []
      while (out.length < n) {
        const bytes = s.ring.random.bytes(8 * 1024)
        const key = contentKey(bytes)
        if (target.node.isResponsible(key)) out.push({ key, bytes })
      }
      return out
    }
    const put = async (t: MemoryTransport, b: { key: Key, bytes: Uint8Array }): Promise<string> => {
      const owner = toHex(s.ring.random.bytes(32)) // a different owner every time
      return errorCode(new DHashRpc(t, 2_000).put(primary, { key: b.key, kind: BlockKind.CONTENT, bytes: b.bytes, leaseMs: 60_000, owner }))
    }
    const identity = s.ring.random.bytes(32)
    const first = await endpoint(s.ring.network, '10.254.1.1:5000', identity)
    const results: string[] = []
    const firstBlocks = blocks(9)
    for (const b of firstBlocks) results.push(await put(first, b))
    expect(results, `seed=${seed}`).toEqual([...Array<string>(8).fill('ok'), 'QUOTA_EXCEEDED'])
    // What it did put was replicated: node-to-node copies are charged to no source.
    for (const b of firstBlocks.slice(0, 8)) expect(await s.holders(b.key), `seed=${seed}`).toHaveLength(3)
    // A new identity at the same address: still over (by address).
    await first.stop()
    const renamed = await endpoint(s.ring.network, '10.254.1.1:5001', s.ring.random.bytes(32))
    expect(await put(renamed, blocks(1)[0] as { key: Key, bytes: Uint8Array }), `seed=${seed}`).toBe('QUOTA_EXCEEDED')
    // The same identity at another address: still over (by identity).
    const moved = await endpoint(s.ring.network, '10.254.2.1:5000', identity)
    expect(await put(moved, blocks(1)[0] as { key: Key, bytes: Uint8Array }), `seed=${seed}`).toBe('QUOTA_EXCEEDED')
    // Someone else elsewhere is not.
    const other = await endpoint(s.ring.network, '10.254.3.1:5000', s.ring.random.bytes(32))
    expect(await put(other, blocks(1)[0] as { key: Key, bytes: Uint8Array }), `seed=${seed}`).toBe('ok')
  })
})
