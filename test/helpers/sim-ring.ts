import pLimit from 'p-limit'
import { KEY_BITS, SeededRandom, compareKeys, keysEqual, toHex, type Key } from '../../src/core/index.js'
import { ChordNode, ChordRpcServer, describeNode, type ChordInit } from '../../src/chord/index.js'
import { MemoryNetwork, type MemoryTransport } from '../../src/net/index.js'

export interface SimRingInit {
  nodes: number
  seed: number
  successorListSize?: number
  latencyMs?: [number, number]
  dropRate?: number
  /** Each growth batch multiplies the ring by this much. @default 4 */
  growthFactor?: number
  /** RPCs in flight at once when driving rounds. @default 256 */
  concurrency?: number
  /** Port of every host's address ("10.a.b.c:port"); a different port gives different node ids. @default 4000 */
  port?: number
  /** Virtual nodes per host (one transport, one ChordRpcServer, several ChordNodes). @default 1 */
  vnodes?: number
  /**
   * Every host's endpoint has an identity key (32 bytes drawn from the seed), as a TLS node
   * has: its records carry the pin and the memory network checks it, and handlers see the
   * caller's key. @default false (no keys: nothing is authenticated)
   */
  keyed?: boolean
  chord?: ChordInit
  /**
   * Builds a host's Chord layer on its transport, vnodes started but not joined: how SimDHash
   * runs every host through CfsNode, the node's real wiring. @default ChordNodes on a shared
   * ChordRpcServer
   */
  spawnHost?: (transport: MemoryTransport, init: { chord: ChordInit, vnodes: number }) => Promise<{ server: ChordRpcServer, nodes: readonly ChordNode[] }>
}

export interface SimHost {
  readonly address: string
  readonly transport: MemoryTransport
  readonly server: ChordRpcServer
  /** Vnode 0. */
  readonly node: ChordNode
  /** Every vnode of the host, vnode 0 first. */
  readonly nodes: readonly ChordNode[]
  alive: boolean
}

export interface LookupStats {
  total: number
  correct: number
  wrong: number
  failed: number
  hops: number[]
  meanHops: number
  p99Hops: number
  failures: string[]
}

/**
 * Many Chord nodes on one MemoryNetwork, driven round by round (no timers, no sleeps), with a
 * reference model: the sorted list of live ids. Every random choice comes from the seed.
 *
 * The ring is grown by protocol joins, one node at a time (see grow()); rounds are driven
 * explicitly instead of by timers.
 */
export class SimRing {
  readonly network: MemoryNetwork
  readonly random: SeededRandom
  readonly hosts: SimHost[] = []
  private readonly init: SimRingInit
  private readonly limit: ReturnType<typeof pLimit>
  private readonly byHex = new Map<string, { host: SimHost, node: ChordNode }>()
  private nextAddress = 0
  private changes = 0
  private sortedCache: Key[] | undefined
  private liveCache: SimHost[] | undefined

  private constructor (init: SimRingInit) {
    this.init = init
    this.random = new SeededRandom(init.seed)
    this.network = new MemoryNetwork({ seed: init.seed, latencyMs: init.latencyMs ?? [0, 0], dropRate: init.dropRate ?? 0 })
    this.limit = pLimit(init.concurrency ?? 256)
  }

  static async create (init: SimRingInit): Promise<SimRing> {
    const ring = new SimRing(init)
    await ring.grow(init.nodes)
    return ring
  }

  get seed (): number { return this.init.seed }

  /** The live hosts (cached: growing a big ring asks for them on every join). */
  live (): readonly SimHost[] {
    this.liveCache ??= this.hosts.filter((h) => h.alive)
    return this.liveCache
  }

  /** Call after adding a host or changing one's `alive`. */
  private membershipChanged (): void {
    this.sortedCache = undefined
    this.liveCache = undefined
  }

  /** Live vnodes of every live host. */
  liveNodes (): ChordNode[] {
    return this.live().flatMap((h) => h.nodes)
  }

  /** Starts a host (with its vnodes) that is not yet part of any ring. */
  async spawn (): Promise<SimHost> {
    const address = `10.${(this.nextAddress >> 16) & 255}.${(this.nextAddress >> 8) & 255}.${this.nextAddress & 255}:${this.init.port ?? 4000}`
    this.nextAddress++
    const transport = this.network.createTransport(address, { rpcTimeoutMs: 2_000, ...(this.init.keyed === true ? { publicKey: this.random.bytes(32) } : {}) })
    await transport.start()
    const chord: ChordInit = {
      successorListSize: this.init.successorListSize ?? 16,
      stabilizeIntervalMs: 0,
      fixFingersIntervalMs: 0,
      checkPredecessorIntervalMs: 0,
      ...this.init.chord,
    }
    const vnodes = this.init.vnodes ?? 1
    const built = this.init.spawnHost === undefined
      ? undefined
      : await this.init.spawnHost(transport, { chord, vnodes })
    const server = built?.server ?? new ChordRpcServer(transport)
    const nodes = built?.nodes ?? Array.from({ length: vnodes }, (_, vnode) => new ChordNode({ transport, server }, { ...chord, vnode }))
    const host: SimHost = { address, transport, server, node: nodes[0] as ChordNode, nodes, alive: true }
    for (const node of nodes) {
      node.onSuccessorsChanged(() => { this.changes++ })
      node.onRangeChanged(() => { this.changes++ })
      await node.start() // a no-op for vnodes the factory started
      this.byHex.set(node.self.hex, { host, node })
    }
    this.hosts.push(host)
    this.sortedCache = undefined
    this.liveCache?.push(host) // not membershipChanged(): refiltering on every join is quadratic
    return host
  }

  /**
   * Grows the ring to `target` live nodes. Nodes join one at a time through a random live
   * member; right after a join the newcomer and the node that was its successor's predecessor
   * (as the successor itself reports it) stabilize, as their timers would fire next. Whenever
   * the ring has grown by `growthFactor`, every node runs stabilization rounds until quiet and
   * rebuilds its fingers.
   */
  async grow (target: number): Promise<void> {
    if (this.live().length === 0) await this.joinAndSettle(undefined)
    let checkpoint = this.live().length
    while (this.live().length < target) {
      await this.joinAndSettle(this.randomLive())
      if (this.live().length >= Math.min(target, checkpoint * (this.init.growthFactor ?? 4))) {
        checkpoint = this.live().length
        const rounds = await this.stabilize(100, 'counterclockwise')
        if (process.env.SIM_DEBUG !== undefined) console.log('ring of', checkpoint, 'quiet after', rounds, 'rounds')
        await this.fixFingers()
      }
    }
  }

  /** One new host joins through `via`: vnode 0 through `via`, the others through vnode 0 (as CfsNode does). */
  async join (via: SimHost): Promise<SimHost> {
    const host = await this.spawn()
    for (const node of host.nodes) await node.join(node === host.node ? via.node.self : host.node.self)
    return host
  }

  /** The live host running the node with this id. */
  hostOf (node: { hex: string } | undefined): SimHost | undefined {
    const h = node === undefined ? undefined : this.byHex.get(node.hex)?.host
    return h?.alive === true ? h : undefined
  }

  /** The live vnode with this id. */
  vnodeOf (node: { hex: string } | undefined): ChordNode | undefined {
    const e = node === undefined ? undefined : this.byHex.get(node.hex)
    return e?.host.alive === true ? e.node : undefined
  }

  /**
   * One new host joins through `via`; each of its vnodes in turn joins, then it and its new
   * predecessor stabilize once.
   */
  async joinAndSettle (via: SimHost | undefined): Promise<SimHost> {
    const host = await this.spawn()
    for (const node of host.nodes) {
      // The first host of a ring: vnode 0 is the ring, and its other vnodes join it.
      if (via === undefined && node === host.node) continue
      await node.join(node === host.node ? (via as SimHost).node.self : host.node.self)
      const succ = this.vnodeOf(node.successors()[0])
      const oldPred = succ?.predecessor()
      await node.stabilizeOnce()
      // The node that now precedes the newcomer: the successor's old predecessor, or the
      // successor itself on a ring that was a single node.
      await (oldPred === undefined ? succ : this.vnodeOf(oldPred))?.stabilizeOnce()
    }
    return host
  }

  /** Crashes hosts: they stop answering at once and keep no state. */
  async crash (hosts: readonly SimHost[]): Promise<void> {
    for (const h of hosts) {
      h.alive = false
      this.membershipChanged()
      this.network.crash(h.address)
      for (const node of h.nodes) await node.stop()
      await h.transport.stop()
    }
  }

  /** A host left the ring gracefully (its node already ran leave()). */
  async depart (h: SimHost): Promise<void> {
    h.alive = false
    this.membershipChanged()
    await h.transport.stop()
  }

  /** The hex id of the live node that follows `h` on the reference ring. */
  referenceNext (h: SimHost): string {
    const ids = this.sortedIds().map(toHex)
    const i = ids.indexOf(h.node.self.hex)
    return ids[(i + 1) % ids.length] as string
  }

  /** Crashes a random fraction of the live hosts at once. */
  async crashFraction (fraction: number): Promise<SimHost[]> {
    const victims = this.random.shuffle([...this.live()]).slice(0, Math.floor(this.live().length * fraction))
    await this.crash(victims)
    return victims
  }

  /**
   * One round of checkPredecessor + stabilize on every live node; returns how many routing
   * changes it caused. 'concurrent': all nodes at once, as independent timers would fire.
   * 'counterclockwise': one after another against ring order, so a successor list learned by
   * one node reaches its predecessor in the same round (used to grow big rings quickly). The
   * first r nodes of the pass read successors that the pass reaches only at its end, so they
   * go once more after it: one round then leaves every list fresh, and the next, quiet round
   * is the last instead of the one after.
   */
  async stabilizeRound (order: 'concurrent' | 'counterclockwise' = 'concurrent'): Promise<number> {
    const before = this.changes
    const round = async (node: ChordNode): Promise<void> => {
      await node.checkPredecessorOnce()
      await node.stabilizeOnce()
    }
    if (order === 'concurrent') {
      await Promise.all(this.liveNodes().map(async (n) => this.limit(async () => { await round(n) })))
    } else {
      const pass = [...this.sortedIds()].reverse()
      const again = pass.slice(0, Math.min(pass.length - 1, this.init.successorListSize ?? 16))
      for (const id of [...pass, ...again]) await round(this.vnodeOf({ hex: toHex(id) }) as ChordNode)
    }
    return this.changes - before
  }

  /** Stabilization rounds until one changes nothing (or maxRounds); returns the rounds run. */
  async stabilize (maxRounds = 100, order: 'concurrent' | 'counterclockwise' = 'concurrent'): Promise<number> {
    for (let round = 1; round <= maxRounds; round++) {
      if (await this.stabilizeRound(order) === 0) return round
    }
    return maxRounds
  }

  /**
   * Every live node rebuilds its fingers, one after another in clockwise ring order: each
   * node's predecessor has just rebuilt, so its fingers are exact hints and most of our fingers
   * cost one RPC instead of a lookup (Stabilizer.fixFingersOnce). Running nodes concurrently
   * would not be faster: the work is CPU-bound in one process, and hints would go stale.
   */
  async fixFingers (): Promise<void> {
    for (const id of [...this.sortedIds()]) await (this.vnodeOf({ hex: toHex(id) }) as ChordNode).fixFingersOnce()
  }

  /** Live ids in ring order: the reference model. */
  sortedIds (): Key[] {
    this.sortedCache ??= this.liveNodes().map((n) => n.self.id).sort(compareKeys)
    return this.sortedCache
  }

  /** The reference successor of a key: the first live id at or after it, wrapping around. */
  referenceSuccessor (key: Key): Key {
    const ids = this.sortedIds()
    let lo = 0
    let hi = ids.length
    while (lo < hi) {
      const mid = (lo + hi) >> 1
      if (compareKeys(ids[mid] as Key, key) < 0) lo = mid + 1
      else hi = mid
    }
    return ids[lo === ids.length ? 0 : lo] as Key
  }

  /** Nodes whose successor, predecessor or successor list differs from the reference. */
  inconsistentNodes (): string[] {
    const ids = this.sortedIds()
    const r = Math.min(this.init.successorListSize ?? 16, ids.length - 1)
    const index = new Map(ids.map((id, i) => [toHex(id), i]))
    const bad: string[] = []
    for (const node of this.liveNodes()) {
      const i = index.get(toHex(node.self.id)) as number
      const succs = node.successors()
      const pred = node.predecessor()
      const expectedPred = ids[(i - 1 + ids.length) % ids.length] as Key
      const listOk = succs.length >= r && Array.from({ length: r }, (_, j) => ids[(i + 1 + j) % ids.length] as Key)
        .every((id, j) => succs[j] !== undefined && keysEqual(id, (succs[j]).id))
      if (!listOk || pred === undefined || !keysEqual(pred.id, expectedPred)) {
        bad.push(`${describeNode(node.self)} succ=${describeNode(succs[0])} pred=${describeNode(pred)}`)
      }
    }
    return bad
  }

  /** Nodes whose distinct fingers differ from the reference successors of their starts. */
  wrongFingers (): string[] {
    const bad: string[] = []
    for (const node of this.liveNodes()) {
      const table = node.table.fingers
      const want: string[] = []
      for (let i = 0; i < KEY_BITS;) {
        const succ = this.referenceSuccessor(table.start(i))
        if (keysEqual(succ, node.self.id)) break
        want.push(`${i}:${toHex(succ).slice(0, 8)}`)
        i = Math.max(i + 1, table.firstUncovered(this.byHex.get(toHex(succ))?.node.self ?? node.self))
      }
      const got = table.fingers.map((f) => `${f.index}:${f.node.hex.slice(0, 8)}`)
      if (got.join() !== want.join()) bad.push(`${describeNode(node.self)} fingers ${got.join(' ')} want ${want.join(' ')}`)
    }
    return bad
  }

  randomKey (): Key { return this.random.bytes(32) as Key }
  randomLive (): SimHost { return this.random.pick(this.live()) }

  /** Runs `count` lookups of random keys from random live nodes against the reference. */
  async lookups (count: number): Promise<LookupStats> {
    const jobs = Array.from({ length: count }, () => ({ key: this.randomKey(), from: this.random.pick(this.randomLive().nodes) }))
    const hops: number[] = []
    const failures: string[] = []
    let correct = 0
    let wrong = 0
    let failed = 0
    await Promise.all(jobs.map(async ({ key, from }) => this.limit(async () => {
      try {
        const r = await from.lookup(key)
        hops.push(r.hops)
        if (keysEqual(r.successor.id, this.referenceSuccessor(key))) correct++
        else {
          wrong++
          if (failures.length < 10) failures.push(`seed=${this.seed} key=${toHex(key)} from=${describeNode(from.self)} got=${describeNode(r.successor)}`)
        }
      } catch (err) {
        failed++
        if (failures.length < 10) failures.push(`seed=${this.seed} key=${toHex(key)} from=${describeNode(from.self)} error=${(err as Error).message}`)
      }
    })))
    const sorted = [...hops].sort((a, b) => a - b)
    return {
      total: count,
      correct,
      wrong,
      failed,
      hops,
      meanHops: hops.reduce((a, b) => a + b, 0) / Math.max(1, hops.length),
      p99Hops: sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * 0.99))] ?? 0,
      failures,
    }
  }

  async destroy (): Promise<void> {
    for (const h of this.hosts) {
      for (const node of h.nodes) await node.stop()
      await h.transport.stop()
    }
  }
}
