import { SeededRandom, compareKeys, toHex, type Key } from '../../src/core/index.js'
import { BlockKind, MemoryBlockCache, MemoryBlockStore, contentKey, replicaSet, type DHash, type DHashInit } from '../../src/dhash/index.js'
import { makeNodeRef, type ChordInit } from '../../src/chord/index.js'
import type { MemoryTransport } from '../../src/net/index.js'
import { CfsNode } from '../../src/node/index.js'
import { SimRing, type SimHost, type SimRingInit } from './sim-ring.js'

export interface SimDHashHost extends SimHost {
  /** The host's node, wired as `cfs node` wires it (src/node/create-node.ts). */
  readonly cfs: CfsNode
  readonly dhash: DHash
  readonly blocks: MemoryBlockStore
}

/**
 * A SimRing whose every host is a CfsNode (the composition root `cfs node` runs) on the
 * in-memory network: memory stores, a seeded clock-free setup, no timers; the ring formed and
 * driven round by round by SimRing. The reference placement: a key's holders are the k live
 * endpoints at and after it.
 */
export class SimDHash {
  private readonly byAddress = new Map<string, { cfs: CfsNode, blocks: MemoryBlockStore }>()
  private readonly hostByAddress = new Map<string, SimDHashHost>()
  private ringOrUndefined: SimRing | undefined
  private readonly random: SeededRandom

  private constructor (private readonly init: DHashInit & { replicas: number }, seed: number) {
    this.random = new SeededRandom(seed ^ 0x5eed)
  }

  get ring (): SimRing {
    if (this.ringOrUndefined === undefined) throw new RangeError('the ring is still forming')
    return this.ringOrUndefined
  }

  static async create (ringInit: SimRingInit, init: DHashInit & { replicas: number }): Promise<SimDHash> {
    const sim = new SimDHash(init, ringInit.seed)
    sim.ringOrUndefined = await SimRing.create({ ...ringInit, spawnHost: async (transport, host) => sim.spawnNode(transport, host) })
    for (const h of sim.ring.live()) await sim.attach(h)
    return sim
  }

  /** A CfsNode on a new host's transport; SimRing forms the ring (externalRing). */
  private async spawnNode (transport: MemoryTransport, host: { chord: ChordInit, vnodes: number }): Promise<{ server: CfsNode['chordServer'], nodes: CfsNode['vnodes'] }> {
    const blocks = new MemoryBlockStore()
    const cache = new MemoryBlockCache()
    const cfs = new CfsNode({
      transport,
      openStores: async () => {
        await blocks.open()
        await cache.open()
        return { blocks, cache }
      },
      random: () => this.random.float(),
    }, {
      vnodes: host.vnodes,
      chord: host.chord,
      dhash: { repairIntervalMs: 0, rpcTimeoutMs: 2_000, ...this.init },
      externalRing: true,
    })
    await cfs.start()
    this.byAddress.set(transport.address, { cfs, blocks })
    return { server: cfs.chordServer, nodes: cfs.vnodes }
  }

  /** The SimDHashHost of a host SimRing made (create, join and ring.spawn all go through spawnNode). */
  async attach (h: SimHost): Promise<SimDHashHost> {
    const known = this.hostByAddress.get(h.address)
    if (known !== undefined) return known
    const built = this.byAddress.get(h.address)
    if (built === undefined) throw new RangeError(`${h.address} was not spawned by this simulation`)
    const host = Object.assign(h, { cfs: built.cfs, dhash: built.cfs.dhash, blocks: built.blocks }) as SimDHashHost
    this.hostByAddress.set(h.address, host)
    return host
  }

  live (): SimDHashHost[] {
    return this.ring.live().map((h) => this.hostByAddress.get(h.address) as SimDHashHost)
  }

  randomLive (): SimDHashHost {
    return this.hostByAddress.get(this.ring.randomLive().address) as SimDHashHost
  }

  /** A new node joins, settles and starts DHash. */
  async join (): Promise<SimDHashHost> {
    const h = await this.ring.joinAndSettle(this.ring.randomLive())
    return this.attach(h)
  }

  /** Hosts crash: they stop answering at once (the network drops them first) and keep no state. */
  async crash (hosts: SimDHashHost[]): Promise<void> {
    await this.ring.crash(hosts)
    for (const h of hosts) await h.cfs.stop()
  }

  /** A host leaves gracefully: CfsNode.leave (every vnode leaves, the first one's leave hands the blocks off), then it stops. */
  async leave (h: SimDHashHost): Promise<void> {
    await h.cfs.leave()
    await this.ring.depart(h)
  }

  /** Puts `count` random content blocks of `size` bytes through random nodes. */
  async putRandom (count: number, size: number): Promise<Array<{ key: Key, replicas: number }>> {
    const out: Array<{ key: Key, replicas: number }> = []
    for (let i = 0; i < count; i++) {
      const bytes = this.ring.random.bytes(size)
      const key = contentKey(bytes)
      const r = await this.randomLive().dhash.client.put(BlockKind.CONTENT, key, bytes)
      out.push({ key, replicas: r.replicas })
    }
    return out
  }

  /** Reference holders of a key: the k live endpoints at and after it on the sorted ring (a host's vnodes count once). */
  referenceHolders (key: Key): string[] {
    const ids = this.ring.sortedIds()
    let i = ids.findIndex((id) => compareKeys(id, key) >= 0)
    if (i < 0) i = 0
    const refs = Array.from({ length: ids.length }, (_, j) => {
      const host = this.ring.hostOf({ hex: toHex(ids[(i + j) % ids.length] as Key) }) as SimHost
      return makeNodeRef(host.address, 0)
    })
    return replicaSet(refs, this.init.replicas).map((n) => n.address).sort()
  }

  /** Live endpoints that store the key as a replica (cache copies do not count). */
  async holders (key: Key): Promise<string[]> {
    const out: string[] = []
    for (const h of this.live()) if (await h.blocks.has(key)) out.push(h.address)
    return out.sort()
  }

  /** Keys whose live holders are not exactly their reference holders, as `key want=… have=…`. */
  async misplaced (keys: readonly Key[]): Promise<string[]> {
    const bad: string[] = []
    for (const key of keys) {
      const want = this.referenceHolders(key)
      const have = await this.holders(key)
      if (JSON.stringify(want) !== JSON.stringify(have)) bad.push(`${toHex(key).slice(0, 12)} want=${want.join(',')} have=${have.join(',')}`)
    }
    return bad
  }

  /** One maintenance round on every live node, in ring order. */
  async repairRound (): Promise<{ pushed: number, pulled: number, handedOff: number }> {
    const t = { pushed: 0, pulled: 0, handedOff: 0 }
    for (const h of this.live()) {
      const r = await h.dhash.repairOnce()
      t.pushed += r.pushed
      t.pulled += r.pulled
      t.handedOff += r.handedOff
    }
    return t
  }

  /** Repair rounds until one moves nothing (or maxRounds); returns the rounds run. */
  async repairUntilQuiet (maxRounds = 6): Promise<number> {
    for (let round = 1; round <= maxRounds; round++) {
      const t = await this.repairRound()
      if (t.pushed + t.pulled + t.handedOff === 0) return round
    }
    return maxRounds
  }

  async destroy (): Promise<void> {
    for (const { cfs } of this.byAddress.values()) await cfs.stop()
    await this.ring.destroy()
  }
}
