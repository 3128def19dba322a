import { compareKeys, toHex, type Key } from '../../src/core/index.js'
import { BlockKind, DHash, MemoryBlockCache, MemoryBlockStore, contentKey, replicaSet, type DHashInit } from '../../src/dhash/index.js'
import { makeNodeRef } from '../../src/chord/index.js'
import { SimRing, type SimHost, type SimRingInit } from './sim-ring.js'

export interface SimDHashHost extends SimHost {
  readonly dhash: DHash
  readonly blocks: MemoryBlockStore
}

/**
 * DHash on every node of a SimRing (memory stores, no timers), with the reference placement:
 * a key's holders are the k live endpoints at and after it.
 */
export class SimDHash {
  private readonly dhashByAddress = new Map<string, SimDHashHost>()

  private constructor (readonly ring: SimRing, private readonly init: DHashInit & { replicas: number }) {}

  static async create (ringInit: SimRingInit, init: DHashInit & { replicas: number }): Promise<SimDHash> {
    const sim = new SimDHash(await SimRing.create(ringInit), init)
    for (const h of sim.ring.live()) await sim.attach(h)
    return sim
  }

  /** Starts DHash on a host that joined the ring by other means (create and join do this themselves). */
  async attach (h: SimHost): Promise<SimDHashHost> {
    const blocks = new MemoryBlockStore()
    const dhash = new DHash({ transport: h.transport, blocks, cache: new MemoryBlockCache(), vnodes: () => h.nodes },
      { repairIntervalMs: 0, rpcTimeoutMs: 2_000, ...this.init })
    await dhash.start()
    const host = Object.assign(h, { dhash, blocks }) as SimDHashHost
    this.dhashByAddress.set(h.address, host)
    return host
  }

  live (): SimDHashHost[] {
    return this.ring.live().map((h) => this.dhashByAddress.get(h.address) as SimDHashHost)
  }

  randomLive (): SimDHashHost {
    return this.dhashByAddress.get(this.ring.randomLive().address) as SimDHashHost
  }

  /** A new node joins, settles and starts DHash. */
  async join (): Promise<SimDHashHost> {
    const h = await this.ring.joinAndSettle(this.ring.randomLive())
    return this.attach(h)
  }

  async crash (hosts: SimDHashHost[]): Promise<void> {
    for (const h of hosts) await h.dhash.stop()
    await this.ring.crash(hosts)
  }

  /** A host leaves gracefully, as CfsNode.leave does: every vnode leaves (the first one's leave hands the blocks off), then DHash stops. */
  async leave (h: SimDHashHost): Promise<void> {
    for (const node of h.nodes) await node.leave()
    await h.dhash.stop()
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
    for (const h of this.live()) await h.dhash.stop()
    await this.ring.destroy()
  }
}
