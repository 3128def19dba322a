/*
 * DEV DOCS: replica maintenance (one repairOnce() per round).
 *
 * 1. Local sync. Each vnode is the primary of the keys in (predecessor, self]. It compares that
 *    arc with each of its k-1 replica holders by digest (range-digest.ts): 64 buckets of
 *    [count, XOR of keys]. Equal buckets cost nothing more; an unequal bucket is split again
 *    (depth <= 4) or, once small, listed with dhash.keys. The primary pushes what a replica
 *    lacks and pulls what it lacks itself (a node that just joined pulls its new range from
 *    its successor this way: migration). In sync, a round costs one dhash.digest per replica
 *    holder per vnode (~2.5 KB) plus a local scan of the arc.
 *    The round counts the arc's under-replicated keys: those some holder (or the primary
 *    itself) lacked, i.e. pushed or pulled; every key of the arc when a holder could not be
 *    synced or the ring has fewer than k endpoints. Each key counts once, by its primary.
 * 2. Hand-off. Keys stored here that this node is not a replica holder of (after joins, or
 *    repairs that overshot) are offered to their k holders: dhash.has, then dhash.store of the
 *    ones missing. The local copy is deleted only after all k holders confirm they have it.
 *    Which holders: one lookup per arc of foreign keys, not one per key.
 * 3. Expired leases are collected.
 * 4. Scrub: up to `scrubBytesPerRound` of stored blocks are re-hashed, continuing where the last
 *    round stopped; a copy that no longer verifies is dropped (ReplicaStore.read), and step 1
 *    of a later round fetches a good one. Readers verify what they get too, and hand a good copy
 *    back to a holder that served bad bytes, so scrubbing is the slow path for cold blocks.
 */
import {
  NO_METRICS, createLogger, isCfsError, keyBefore, keysEqual, shortHex, throwIfAborted, toHex,
  type AbortOptions, type ComponentLogger, type Counter, type Gauge, type Histogram, type Key, type Logger, type Metrics,
} from '../core/index.js'
import type { NodeRef, Router } from '../chord/index.js'
import type { DHashRpc } from './dhash-rpc.js'
import { MAX_BATCH_KEYS } from './messages.js'
import { digestInterval, sameBucket, splitInterval } from './range-digest.js'
import { replicaSet } from './replica-set.js'
import type { ReplicaStore } from './replica-store.js'
import type { KeyInterval } from './store/block-store.js'
import { inInterval } from './store/interval.js'

export interface MaintenanceComponents {
  store: ReplicaStore
  rpc: DHashRpc
  /** This endpoint's vnodes. */
  vnodes: () => readonly Router[]
  /** This endpoint's address: copies held here count once, whatever the vnode. */
  address: () => string
  logger?: ComponentLogger
  /** Where rounds, copies moved and the scrub are counted. @default NO_METRICS */
  metrics?: Metrics
}

/** Milliseconds between maintenance rounds (DHash's repair timer). */
export const DEFAULT_REPAIR_INTERVAL_MS = 30_000
/** Bucket size below which differing keys are listed rather than split further. */
export const DEFAULT_LIST_BELOW = 256
/** Bytes of stored blocks re-verified per maintenance round. */
export const DEFAULT_SCRUB_BYTES_PER_ROUND = 64 * 1024 * 1024

export interface MaintenanceInit {
  replicas: number
  /** Bucket size below which differing keys are listed rather than split further. @default DEFAULT_LIST_BELOW */
  listBelow?: number
  /** Bytes of stored blocks re-verified per round. @default DEFAULT_SCRUB_BYTES_PER_ROUND */
  scrubBytesPerRound?: number
}

export interface RepairReport {
  /** Replicas copied to a holder that lacked them. */
  pushed: number
  /** Blocks a primary fetched into its own store. */
  pulled: number
  /** Surplus copies deleted after their holders confirmed. */
  handedOff: number
  /**
   * Keys of this endpoint's arcs (it is their primary) that lacked a copy on one of their k
   * holders when the round looked: copied to a holder or pulled here, or on a holder that
   * could not be synced, or with fewer than k endpoints on the ring. Each key counts once.
   */
  underReplicated: number
  /** Work left for later rounds: keys out of place not handed off, and holder syncs that failed. */
  backlog: number
  collected: number
  /** Blocks re-verified by the scrub, and how many of them were corrupt and dropped. */
  scrubbed: number
  corrupt: number
  finishedAt: number
  durationMs: number
}

const MAX_DEPTH = 4

interface MaintenanceMetrics {
  readonly rounds: { ok: Counter, failed: Counter }
  readonly seconds: Histogram
  readonly blocks: { pushed: Counter, pulled: Counter, handedOff: Counter, collected: Counter }
  readonly backlog: Gauge
  readonly scrubbed: Counter
  readonly scrubbedBytes: Counter
  readonly scrubCorrupt: Counter
}

function maintenanceMetrics (metrics: Metrics): MaintenanceMetrics {
  const rounds = metrics.counter({ name: 'cfs_dhash_repair_rounds_total', help: 'Maintenance rounds (sync, hand-off, collection, scrub), by outcome (ok, failed)', labelNames: ['outcome'] })
  const blocks = metrics.counter({
    name: 'cfs_dhash_repair_blocks_total',
    help: 'Blocks moved by maintenance, by action: pushed (a holder lacked a copy), pulled (this primary lacked it), handed_off (surplus copy deleted once its holders confirmed), collected (lease ran out)',
    labelNames: ['action'],
  })
  return {
    rounds: { ok: rounds.labels('ok'), failed: rounds.labels('failed') },
    seconds: metrics.histogram({ name: 'cfs_dhash_repair_duration_seconds', help: 'Duration of completed maintenance rounds', buckets: [0.01, 0.05, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300] }),
    blocks: { pushed: blocks.labels('pushed'), pulled: blocks.labels('pulled'), handedOff: blocks.labels('handed_off'), collected: blocks.labels('collected') },
    backlog: metrics.gauge({ name: 'cfs_dhash_repair_backlog', help: 'Keys out of place or arcs out of sync that the last maintenance round could not settle' }),
    scrubbed: metrics.counter({ name: 'cfs_dhash_scrub_blocks_total', help: 'Stored blocks re-verified by the scrub' }),
    scrubbedBytes: metrics.counter({ name: 'cfs_dhash_scrub_bytes_total', help: 'Bytes of stored blocks re-verified by the scrub' }),
    scrubCorrupt: metrics.counter({ name: 'cfs_dhash_scrub_corrupt_total', help: 'Bad copies the scrub found and dropped (repair fetches good ones)' }),
  }
}
/** What one arc's sync counts: copies moved, and the keys some holder (or this node) lacked. */
interface SyncTally { pushed: number, pulled: number, lacked: Set<string> }

export class Maintenance {
  private readonly log: Logger
  private readonly listBelow: number
  private readonly scrubBytesPerRound: number
  private report: RepairReport | undefined
  /** Where the scrub goes on next round. */
  private scrubCursor: Key | undefined
  private readonly metrics: MaintenanceMetrics

  constructor (private readonly components: MaintenanceComponents, private readonly init: MaintenanceInit) {
    this.log = (components.logger ?? createLogger()).forComponent('dhash:repair')
    this.metrics = maintenanceMetrics(components.metrics ?? NO_METRICS)
    this.listBelow = init.listBelow ?? DEFAULT_LIST_BELOW
    this.scrubBytesPerRound = init.scrubBytesPerRound ?? DEFAULT_SCRUB_BYTES_PER_ROUND
  }

  get lastReport (): RepairReport | undefined { return this.report }

  /** One maintenance round: sync every vnode's arc, hand off foreign keys, collect expired ones. */
  async repairOnce (options: AbortOptions = {}): Promise<RepairReport> {
    const m = this.metrics
    let report: RepairReport
    try {
      report = await this.round(options)
    } catch (err) {
      if (options.signal?.aborted !== true) m.rounds.failed.inc()
      throw err
    }
    m.rounds.ok.inc()
    m.seconds.observe(report.durationMs / 1000)
    m.blocks.pushed.inc(report.pushed)
    m.blocks.pulled.inc(report.pulled)
    m.blocks.handedOff.inc(report.handedOff)
    m.blocks.collected.inc(report.collected)
    m.backlog.set(report.backlog)
    return report
  }

  private async round (options: AbortOptions): Promise<RepairReport> {
    const start = Date.now()
    const tally = { pushed: 0, pulled: 0, handedOff: 0, backlog: 0 }
    const scrub = await this.scrubOnce(options)
    let underReplicated = 0
    for (const v of this.components.vnodes()) {
      const pred = v.predecessor()
      if (pred === undefined) continue
      const arc = { from: pred.id, to: v.self.id }
      const holders = replicaSet([v.self, ...v.successors()], this.init.replicas)
      const sync: SyncTally = { pushed: 0, pulled: 0, lacked: new Set() }
      let whole = holders.length < this.init.replicas
      for (const holder of holders.slice(1)) {
        try {
          await this.syncArc(holder, arc, 0, sync, options)
        } catch (err) {
          throwIfAborted(options.signal)
          if (!isCfsError(err)) throw err
          tally.backlog++
          whole = true
          this.log('sync of %s..%s with %s failed: %s', shortHex(arc.from), shortHex(arc.to), holder.address, err.message)
        }
      }
      tally.pushed += sync.pushed
      tally.pulled += sync.pulled
      underReplicated += whole ? await this.countKeys(arc, options) : sync.lacked.size
    }
    await this.handOff(tally, false, options)
    const collected = await this.components.store.collectExpired()
    this.report = { ...tally, underReplicated, collected, ...scrub, finishedAt: Date.now(), durationMs: Date.now() - start }
    if (tally.pushed + tally.pulled + tally.handedOff > 0) this.log('repair: %o', this.report)
    return this.report
  }

  /** Re-verifies stored blocks, up to the round's byte budget, from where the last round stopped. */
  async scrubOnce (options: AbortOptions = {}): Promise<{ scrubbed: number, corrupt: number }> {
    const { store } = this.components
    const budget = this.scrubBytesPerRound
    const before = store.stats().corruptDropped
    const from = this.scrubCursor ?? new Uint8Array(32).fill(255) as Key
    let bytes = 0
    let scrubbed = 0
    let last: Key | undefined
    for await (const key of store.blocks.keys({ from, to: from })) {
      throwIfAborted(options.signal)
      if (bytes >= budget) break
      const block = await store.read(key, true)
      bytes += block?.size ?? 0
      scrubbed++
      last = key
    }
    this.scrubCursor = last
    const corrupt = store.stats().corruptDropped - before
    this.metrics.scrubbed.inc(scrubbed)
    this.metrics.scrubbedBytes.inc(bytes)
    this.metrics.scrubCorrupt.inc(corrupt)
    return { scrubbed, corrupt }
  }

  /**
   * Gives every stored key to its holders as if this node were gone, for a graceful leave:
   * nothing is deleted here (the node is leaving anyway), and holders are counted without us.
   */
  async handOffAll (options: AbortOptions = {}): Promise<number> {
    const tally = { pushed: 0, pulled: 0, handedOff: 0, backlog: 0 }
    await this.handOff(tally, true, options)
    this.metrics.blocks.pushed.inc(tally.pushed)
    return tally.pushed
  }

  /** Keys stored in the arc. */
  private async countKeys (arc: KeyInterval, options: AbortOptions): Promise<number> {
    let n = 0
    for await (const _ of this.components.store.blocks.keys(arc)) {
      throwIfAborted(options.signal)
      n++
    }
    return n
  }

  private async syncArc (holder: NodeRef, arc: KeyInterval, depth: number, tally: SyncTally, options: AbortOptions): Promise<void> {
    const { store, rpc } = this.components
    const [remote, local] = await Promise.all([rpc.digest(holder, arc.from, arc.to, options), digestInterval(store.blocks, arc)])
    const bounds = splitInterval(arc)
    for (let i = 0; i < remote.length; i++) {
      const r = remote[i] as [number, Key]
      const l = local[i] as [number, Key]
      if (sameBucket(r, l)) continue
      const sub = { from: bounds[i] as Key, to: bounds[i + 1] as Key }
      if (keysEqual(sub.from, sub.to)) continue // a zero-width bucket of a tiny arc
      if (depth < MAX_DEPTH && r[0] + l[0] > this.listBelow) await this.syncArc(holder, sub, depth + 1, tally, options)
      else await this.syncListed(holder, sub, tally, options)
    }
  }

  private async syncListed (holder: NodeRef, arc: KeyInterval, tally: SyncTally, options: AbortOptions): Promise<void> {
    const { store, rpc } = this.components
    const theirs = new Set<string>()
    let from = arc.from
    while (true) {
      const page = await rpc.keys(holder, from, arc.to, MAX_BATCH_KEYS, options)
      for (const k of page.keys) theirs.add(toHex(k))
      const last = page.keys.at(-1)
      if (!page.more || last === undefined) break
      from = last
    }
    const ours = new Set<string>()
    for await (const key of store.blocks.keys(arc)) {
      const hex = toHex(key)
      ours.add(hex)
      if (theirs.has(hex)) continue
      const block = await store.read(key)
      if (block === undefined) continue
      tally.lacked.add(hex)
      await rpc.store(holder, { key, kind: block.kind, bytes: block.bytes, expiresAt: block.expiresAt, owner: block.owner }, options)
      tally.pushed++
    }
    for (const hex of theirs) {
      if (ours.has(hex)) continue
      tally.lacked.add(hex)
      const key = Buffer.from(hex, 'hex')
      const k = new Uint8Array(key) as Key
      try {
        const b = await rpc.get(holder, k, false, options)
        // The holder's lease is unknown here; the primary grants a full one and the owner's
        // refresh or the lease cap brings it back in line.
        if (await store.accept(k, b.kind, b.bytes, { expiresAt: store.leaseEnd(store.maxLeaseMs), owner: '', replica: true })) tally.pulled++
      } catch (err) {
        throwIfAborted(options.signal)
        if (!isCfsError(err)) throw err
        this.log('could not pull %s from %s: %s', shortHex(k), holder.address, err.message)
      }
    }
  }

  /** Keys this endpoint is a primary for, by arc. */
  private ownArcs (): KeyInterval[] {
    const arcs: KeyInterval[] = []
    for (const v of this.components.vnodes()) {
      const pred = v.predecessor()
      if (pred !== undefined) arcs.push({ from: pred.id, to: v.self.id })
    }
    return arcs
  }

  private async handOff (tally: { pushed: number, handedOff: number, backlog: number }, leaving: boolean, options: AbortOptions): Promise<void> {
    const { store } = this.components
    const router = this.components.vnodes()[0]
    if (router === undefined) return
    const me = this.components.address()
    const own = leaving ? [] : this.ownArcs()
    const batch: Key[] = []
    let batchHolders: NodeRef[] = []
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return
      const keys = batch.splice(0)
      const confirmed = await this.offer(keys, batchHolders, tally, options)
      if (!leaving) {
        for (const key of confirmed) {
          await store.blocks.delete(key)
          tally.handedOff++
        }
      }
      tally.backlog += keys.length - confirmed.length
    }
    let current: { arc: KeyInterval, holders: NodeRef[] } | undefined
    for await (const key of store.blocks.keys({ from: router.self.id, to: router.self.id })) {
      throwIfAborted(options.signal)
      if (own.some((arc) => inInterval(key, arc))) continue
      if (current === undefined || !inInterval(key, current.arc)) {
        await flush()
        current = undefined
        try {
          const found = await this.holdersOf(router, key, options)
          const holders = leaving ? found.holders.filter((n) => n.address !== me) : found.holders
          current = { arc: found.arc, holders: holders.slice(0, this.init.replicas) }
        } catch (err) {
          throwIfAborted(options.signal)
          if (!isCfsError(err)) throw err
          tally.backlog++
          continue
        }
        batchHolders = current.holders
      }
      if (!leaving && current.holders.some((n) => n.address === me)) continue // we are one of its holders
      batch.push(key)
      if (batch.length >= 256) await flush()
    }
    await flush()
  }

  /**
   * The holders of `key`, with one spare for a graceful leave, and the arc they hold: every key
   * from `key` up to its successor has that same successor, so keys met in ring order cost one
   * lookup per primary, not one per key.
   */
  private async holdersOf (router: Router, key: Key, options: AbortOptions): Promise<{ arc: KeyInterval, holders: NodeRef[] }> {
    const r = await router.lookup(key, { ...options, minSuccessors: this.init.replicas + 2, minEndpoints: this.init.replicas + 1 })
    return { arc: { from: keyBefore(key), to: r.successor.id }, holders: replicaSet(r.successors, this.init.replicas + 1) }
  }

  /** Makes sure each of the first k holders has the keys; returns the keys all of them confirmed. */
  private async offer (keys: Key[], allHolders: NodeRef[], tally: { pushed: number }, options: AbortOptions): Promise<Key[]> {
    const { store, rpc } = this.components
    const holders = allHolders.slice(0, this.init.replicas)
    const confirmedBy = new Map<string, number>()
    for (const h of holders) {
      let have: boolean[]
      try {
        have = await rpc.has(h, keys, options)
      } catch (err) {
        throwIfAborted(options.signal)
        if (!isCfsError(err)) throw err
        continue
      }
      for (let i = 0; i < keys.length; i++) {
        const key = keys[i] as Key
        let ok = have[i] === true
        if (!ok) {
          const block = await store.read(key)
          if (block === undefined) continue
          try {
            await rpc.store(h, { key, kind: block.kind, bytes: block.bytes, expiresAt: block.expiresAt, owner: block.owner }, options)
            tally.pushed++
            ok = true
          } catch (err) {
            throwIfAborted(options.signal)
            if (!isCfsError(err)) throw err
          }
        }
        if (ok) confirmedBy.set(toHex(key), (confirmedBy.get(toHex(key)) ?? 0) + 1)
      }
    }
    return keys.filter((k) => (confirmedBy.get(toHex(k)) ?? 0) >= holders.length && holders.length >= Math.min(this.init.replicas, allHolders.length))
  }
}
