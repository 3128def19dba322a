import {
  BlockInvalidError, BlockNotFoundError, LookupFailedError, NO_METRICS, compareKeys, createLogger, deadline, hedged, isCfsError, isUnreachable, keyBefore,
  lifetimeController, secondsSince, shortHex, sleep, throwIfAborted, type AbortOptions, type CfsError, type ComponentLogger, type Counter, type Histogram,
  type Key, type Logger, type Metrics, type Startable,
} from '../core/index.js'
import type { NodeRef, Router } from '../chord/index.js'
import type { FramePool } from '../net/index.js'
import { ArcCache } from './arc-cache.js'
import { watchHolders } from './root-watch.js'
import { BlockKind, checkBlockSize } from './block.js'
import type { BlockService, PutOptions, PutResult, RefreshOptions, RefreshResult, ReleaseOptions, ReleaseResult, WatchOptions } from './block-service.js'
import { releaseMessage } from './release.js'
import type { DHashRpc } from './dhash-rpc.js'
import { MAX_BATCH_KEYS } from './messages.js'
import { checkReplicas, type CheckReplicasOptions, type ReplicaCheck } from './replica-check.js'
import { DEFAULT_REPLICAS, replicaSet } from './replica-set.js'
import { DAY_MS } from './replica-store.js'
import { verifyBlock } from './verify.js'

export interface DHashClientComponents {
  /** Lookups: a ring member's Router, or a RemoteRouter for a client outside the ring. */
  router: Pick<Router, 'lookup'>
  rpc: DHashRpc
  logger?: ComponentLogger
  /** Where puts, gets and read repairs are counted. @default NO_METRICS */
  metrics?: Metrics
  /** The transport's pool of large frame buffers: recycle() gives a block's frame back to it. @default none (recycle does nothing) */
  framePool?: Pick<FramePool, 'give'>
}

export interface DHashClientInit {
  /** Replicas per block (k). @default DEFAULT_REPLICAS (replica-set.ts) */
  replicas?: number
  /** Lease asked for on put and refresh, unless the call asks for its own. @default DEFAULT_LEASE_MS (7 days) */
  leaseMs?: number
  /** Lookup-path nodes a fetched block is pushed to (CFS caching); 0 disables. @default DEFAULT_CACHE_PATH_NODES */
  cachePathNodes?: number
  /**
   * Whether a read hands the block to holders that lacked it or served bad bytes. Off for a
   * client that only looks (`cfs where`), so that it does not change what it reports. @default true
   */
  readRepair?: boolean
}

/** Lease a client asks for on put and refresh. */
export const DEFAULT_LEASE_MS = 7 * DAY_MS
/** Lookup-path nodes a fetched block is pushed to (CFS caching). */
export const DEFAULT_CACHE_PATH_NODES = 2
/** How long one watch of a root waits at its holders (below the holders' MAX_WATCH_MS). */
export const DEFAULT_WATCH_MS = 20_000

interface Located { successors: readonly NodeRef[], path: readonly NodeRef[] }

/** What the client did besides answering reads and puts (`stats`). */
export interface DHashClientStats {
  /** Reads that found a holder's copy bad (it failed verification). */
  readonly badCopiesRead: number
  /** Repair stores sent to holders that lacked a block or served bad bytes, and their outcomes. */
  readonly repairsSent: number
  readonly repaired: number
  readonly repairsFailed: number
  /** Repairs not sent because MAX_BACKGROUND were in flight (maintenance repairs those). */
  readonly repairsSkipped: number
}

/** The client's instruments, bound to their label values once. */
interface ClientMetrics {
  /** By BlockKind (0 content, 1 root). */
  readonly puts: ReadonlyArray<{ ok: Counter, degraded: Counter, failed: Counter, seconds: Histogram }>
  readonly gets: ReadonlyArray<{ ok: Counter, notFound: Counter, failed: Counter, seconds: Histogram }>
  readonly putBytes: Counter
  readonly getBytes: Counter
  readonly replicasMissing: Counter
  readonly copiesMissing: Counter
  readonly copiesCorrupt: Counter
  readonly locateCached: Counter
  readonly locateLookup: Counter
}

const KIND_LABELS = ['content', 'root'] as const

function clientMetrics (metrics: Metrics): ClientMetrics {
  const puts = metrics.counter({ name: 'cfs_dhash_client_puts_total', help: 'Block puts by kind and outcome (ok; degraded: fewer replicas than wanted; failed)', labelNames: ['kind', 'outcome'] })
  const putSeconds = metrics.histogram({ name: 'cfs_dhash_client_put_duration_seconds', help: 'Duration of acknowledged block puts (lookup, primary and its replicas), by kind', labelNames: ['kind'] })
  const gets = metrics.counter({ name: 'cfs_dhash_client_gets_total', help: 'Block gets by kind and outcome (ok, not_found, failed)', labelNames: ['kind', 'outcome'] })
  const getSeconds = metrics.histogram({ name: 'cfs_dhash_client_get_duration_seconds', help: 'Duration of successful block gets (lookup and verification included), by kind', labelNames: ['kind'] })
  const copies = metrics.counter({ name: 'cfs_dhash_client_copies_missing_total', help: 'Holders a read found lacking the block or, for a root, an older one (missing), or serving bad bytes (corrupt); each is sent a repair store', labelNames: ['reason'] })
  const locates = metrics.counter({ name: 'cfs_dhash_client_locates_total', help: 'Where a key\'s holders came from: the client\'s arc cache (cache) or a lookup', labelNames: ['source'] })
  return {
    puts: KIND_LABELS.map((k) => ({ ok: puts.labels(k, 'ok'), degraded: puts.labels(k, 'degraded'), failed: puts.labels(k, 'failed'), seconds: putSeconds.labels(k) })),
    gets: KIND_LABELS.map((k) => ({ ok: gets.labels(k, 'ok'), notFound: gets.labels(k, 'not_found'), failed: gets.labels(k, 'failed'), seconds: getSeconds.labels(k) })),
    putBytes: metrics.counter({ name: 'cfs_dhash_client_put_bytes_total', help: 'Bytes of acknowledged block puts' }),
    getBytes: metrics.counter({ name: 'cfs_dhash_client_get_bytes_total', help: 'Bytes of blocks got' }),
    replicasMissing: metrics.counter({ name: 'cfs_dhash_client_replicas_missing_total', help: 'Replicas acknowledged puts fell short of (wanted minus stored); maintenance makes them up' }),
    copiesMissing: copies.labels('missing'),
    copiesCorrupt: copies.labels('corrupt'),
    locateCached: locates.labels('cache'),
    locateLookup: locates.labels('lookup'),
  }
}

const PUT_ATTEMPTS = 3
/** Repair stores and path-cache pushes in flight at once; more are left to maintenance. */
const MAX_BACKGROUND = 64
/** Tries of one repair store that fails with the holder unreachable (it may be restarting). */
const REPAIR_ATTEMPTS = 3
const REPAIR_RETRY_MS = 200
/** A get asks the next holder too after max(MIN_HEDGE_MS, HEDGE_RTTS x this one's round trip), at most MAX_HEDGE_MS. */
const MIN_HEDGE_MS = 300
const MAX_HEDGE_MS = 1_000
const HEDGE_RTTS = 4
/** A lookup-path cache that has not answered by then is passed over for the holders. */
const PATH_CACHE_HEDGE_MS = 100
/** The round trip a holder that failed other than by lacking the block is counted at, so it is asked last. */
const UNREACHABLE_RTT_MS = 10_000
/** A root read waits this long for the other holders once one has answered with a root. */
const ROOT_GRACE_MS = 500

/**
 * BlockService over DHash: puts go to the key's primary, which replicates to k-1 successors;
 * gets go to the fastest holder and fall back to the others; every block is verified here.
 */
export class DHashClient implements BlockService, Startable {
  private readonly log: Logger
  private readonly k: number
  private readonly leaseMs: number
  private readonly cachePathNodes: number
  private readonly readRepair: boolean
  private readonly arcs = new ArcCache()
  /** Smoothed round-trip time per address (ms), to read from the closest holder first. */
  private readonly rtt = new Map<string, number>()
  /** Repairs and path-cache pushes after reads: never awaited by the reader, always tracked. */
  private readonly background = new Set<Promise<void>>()
  /** Aborted by stop(): no background work starts, and what is in flight is abandoned. */
  private lifetime = lifetimeController()
  private counts = { badCopiesRead: 0, repairsSent: 0, repaired: 0, repairsFailed: 0, repairsSkipped: 0 }
  private readonly metrics: ClientMetrics

  constructor (private readonly components: DHashClientComponents, init: DHashClientInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('dhash:client')
    this.k = init.replicas ?? DEFAULT_REPLICAS
    this.leaseMs = init.leaseMs ?? DEFAULT_LEASE_MS
    this.cachePathNodes = init.cachePathNodes ?? DEFAULT_CACHE_PATH_NODES
    this.readRepair = init.readRepair ?? true
    const metrics = components.metrics ?? NO_METRICS
    this.metrics = clientMetrics(metrics)
    metrics.collect({
      name: 'cfs_dhash_client_read_repairs_total',
      help: 'Repair stores after reads, by outcome (repaired, failed; skipped: too many in flight, left to maintenance)',
      labelNames: ['outcome'],
      type: 'counter',
      collect: (r) => { const c = this.counts; r(c.repaired, 'repaired'); r(c.repairsFailed, 'failed'); r(c.repairsSkipped, 'skipped') },
    })
  }

  get stats (): DHashClientStats { return { ...this.counts } }

  /** Accepts background work again after stop(). */
  async start (): Promise<void> {
    if (this.lifetime.signal.aborted) this.lifetime = lifetimeController()
  }

  /**
   * Starts no more background work and abandons what is in flight (a command's exit does not
   * wait on a slow holder; maintenance repairs what a reader found missing). Call settled()
   * first to let repairs finish.
   */
  async stop (): Promise<void> {
    this.lifetime.abort()
    await this.settled()
  }

  /** Waits until the repairs and path-cache pushes started by earlier reads have ended. */
  async settled (): Promise<void> {
    while (this.background.size > 0) await Promise.allSettled([...this.background])
  }

  async put (kind: BlockKind, key: Key, bytes: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    const m = this.metrics.puts[kind] as ClientMetrics['puts'][number]
    const started = performance.now()
    let r: PutResult
    try {
      r = await this.putOnce(kind, key, bytes, options)
    } catch (err) {
      if (options.signal?.aborted !== true) m.failed.inc()
      throw err
    }
    m.seconds.observe(secondsSince(started))
    this.metrics.putBytes.inc(bytes.length)
    if (r.degraded) {
      m.degraded.inc()
      this.metrics.replicasMissing.inc(r.wanted - r.replicas)
    } else {
      m.ok.inc()
    }
    return r
  }

  private async putOnce (kind: BlockKind, key: Key, bytes: Uint8Array, options: PutOptions): Promise<PutResult> {
    // The primary verifies (and refuses a block that does not match its key); the caller
    // hashed the block to name it, so it is not hashed a third time here.
    checkBlockSize(bytes)
    let lastError: unknown
    for (let attempt = 0; attempt < PUT_ATTEMPTS; attempt++) {
      throwIfAborted(options.signal)
      // A retry looks the key up afresh and has the answer checked by the primary's own
      // predecessor pointer: while the ring forms, the node that answers a lookup may not yet
      // know of nodes that joined just before the key's primary, and would answer the same again.
      const { successors } = await this.locate(key, attempt > 0, options)
      const primary = successors[0] as NodeRef
      try {
        const r = await this.components.rpc.put(primary, {
          key, kind, bytes, leaseMs: options.leaseMs ?? this.leaseMs,
          ...(options.owner === undefined ? {} : { owner: options.owner }),
          ...(options.expectSeq === undefined ? {} : { expectSeq: options.expectSeq }),
        }, options)
        return { key, replicas: r.replicas, wanted: r.wanted, degraded: r.replicas < r.wanted }
      } catch (err) {
        throwIfAborted(options.signal)
        // Our own shutdown is not a primary to route around (the client stops before its RPCs).
        if (this.lifetime.signal.aborted) throw err
        if (!isCfsError(err) || !(isUnreachable(err) || err.code === 'NOT_RESPONSIBLE')) throw err
        lastError = err
        this.arcs.forget(primary)
        this.log('put of %s to %s: %s; looking up again', shortHex(key), primary.address, err.message)
        await sleep(50 * (attempt + 1), options)
      }
    }
    throw lastError instanceof Error ? lastError : new LookupFailedError(`put of ${shortHex(key)} found no primary`)
  }

  async get (kind: BlockKind, key: Key, options: AbortOptions = {}): Promise<Uint8Array> {
    const m = this.metrics.gets[kind] as ClientMetrics['gets'][number]
    const started = performance.now()
    let bytes: Uint8Array
    try {
      const read = async (again: boolean): Promise<Uint8Array> => {
        const where = await this.locate(key, again, options)
        return kind === BlockKind.ROOT ? this.getNewestRoot(key, where, options) : this.getContent(key, where, options)
      }
      try {
        bytes = await read(false)
      } catch (err) {
        // The holders came from the arc cache, which can be stale (the ring changed, or a
        // partition healed): before saying the block is gone, look its holders up afresh.
        if (!isCfsError(err, 'BLOCK_NOT_FOUND')) throw err
        bytes = await read(true)
      }
    } catch (err) {
      if (isCfsError(err, 'BLOCK_NOT_FOUND')) m.notFound.inc()
      else if (options.signal?.aborted !== true) m.failed.inc()
      throw err
    }
    m.ok.inc()
    m.seconds.observe(secondsSince(started))
    this.metrics.getBytes.inc(bytes.length)
    return bytes
  }

  /**
   * Gives back the memory of bytes a get returned, which the caller no longer uses and has
   * handed out no view of: the frame they arrived in is read into again (frame-pool.ts).
   */
  recycle (bytes: Uint8Array): void {
    this.components.framePool?.give(bytes)
  }

  async has (key: Key, options: AbortOptions = {}): Promise<boolean> {
    const { successors } = await this.locate(key, false, options)
    const [have] = await this.components.rpc.has(successors[0] as NodeRef, [key], options)
    return have === true
  }

  async refresh (keys: readonly Key[], options: RefreshOptions = {}): Promise<RefreshResult> {
    const byPrimary = new Map<string, { primary: NodeRef, keys: Key[] }>()
    // In ring order, consecutive keys mostly fall in an arc already looked up (arc cache): one
    // lookup per primary rather than per key.
    for (const key of [...keys].sort(compareKeys)) {
      const primary = (await this.locate(key, false, options)).successors[0] as NodeRef
      const group = byPrimary.get(primary.hex) ?? { primary, keys: [] }
      group.keys.push(key)
      byPrimary.set(primary.hex, group)
    }
    const missing: Key[] = []
    for (const { primary, keys: group } of byPrimary.values()) {
      for (let i = 0; i < group.length; i += MAX_BATCH_KEYS) {
        const r = await this.components.rpc.refresh(primary, group.slice(i, i + MAX_BATCH_KEYS), options.leaseMs ?? this.leaseMs, options)
        missing.push(...r.missing)
      }
    }
    return { missing }
  }

  /**
   * Asks every holder of each key to drop its copy (dhash.release, signed by the owner per
   * batch): holders that cannot be reached are counted, not retried; their copies go when
   * their leases end.
   */
  async release (keys: readonly Key[], options: ReleaseOptions): Promise<ReleaseResult> {
    const byHolder = new Map<string, { node: NodeRef, keys: Key[] }>()
    for (const key of [...keys].sort(compareKeys)) {
      for (const n of replicaSet((await this.locate(key, false, options)).successors, this.k)) {
        const holder = byHolder.get(n.address) ?? { node: n, keys: [] }
        holder.keys.push(key)
        byHolder.set(n.address, holder)
      }
    }
    const leaseMs = options.leaseMs ?? this.leaseMs
    let released = 0
    let failed = 0
    await Promise.all([...byHolder.values()].map(async ({ node, keys: list }) => {
      for (let i = 0; i < list.length; i += MAX_BATCH_KEYS) {
        const batch = list.slice(i, i + MAX_BATCH_KEYS)
        const time = Date.now()
        const sig = options.sign(releaseMessage(options.owner, time, leaseMs, batch))
        try {
          released += await this.components.rpc.release(node, batch, { owner: options.owner, time, leaseMs, sig }, options)
        } catch (err) {
          throwIfAborted(options.signal)
          failed++
          this.log('release at %s failed: %s', node.address, (err as Error).message)
        }
      }
    }))
    return { released, failed }
  }

  /**
   * Watches the root at all its holders at once (dhash.watch; `watchHolders` in
   * root-watch.ts): the first verified root newer than `after`, or undefined once the wait
   * ends. A holder that cannot be reached has the key looked up again at once.
   */
  async watchRoot (key: Key, after: number, options: WatchOptions = {}): Promise<Uint8Array | undefined> {
    const waitMs = options.waitMs ?? DEFAULT_WATCH_MS
    const signal = deadline([options.signal, this.lifetime.signal], Infinity)
    try {
      const bytes = await watchHolders({
        holders: async (again, o) => replicaSet((await this.locate(key, again, o)).successors, this.k),
        watch: async (node, o) => this.components.rpc.watch(node, key, after, waitMs, o),
        unreachable: (node) => { this.arcs.forget(node) },
      }, key, after, signal.signal)
      throwIfAborted(options.signal)
      return bytes
    } finally {
      signal.dispose()
    }
  }

  /**
   * For each key, the k nodes that should hold it (as puts place it) and what each answers when
   * asked whether it does (`cfs where`; see replica-check.ts).
   */
  async checkReplicas (keys: readonly Key[], options: CheckReplicasOptions = {}): Promise<ReplicaCheck[]> {
    return checkReplicas({
      holders: async (key, o) => replicaSet((await this.locate(key, false, o)).successors, this.k),
      has: async (node, batch, o) => this.components.rpc.has(node, batch, o),
    }, keys, this.k, options)
  }

  /**
   * The key's successor list (and lookup path), from the arc cache when it is fresh. The list
   * names k distinct endpoints when the ring has them (replicaSet counts an endpoint's vnodes
   * once). `again`: skip the cache and have the answer verified (LookupOptions.verify).
   */
  private async locate (key: Key, again: boolean, options: AbortOptions): Promise<Located> {
    if (!again) {
      const cached = this.arcs.find(key)
      if (cached !== undefined) {
        this.metrics.locateCached.inc()
        return { successors: cached, path: [] }
      }
    }
    this.metrics.locateLookup.inc()
    const r = await this.components.router.lookup(key, { ...options, minSuccessors: this.k + 1, minEndpoints: this.k, verify: again })
    this.log.trace('located %s: %s', shortHex(key), r.successors.map((n) => n.address).join(' '))
    // The last node asked answered "my successor has it" unless it was the successor itself:
    // then every key after it up to the successor shares the answer.
    const last = r.path.at(-1)
    const from = last !== undefined && last.hex !== r.successor.hex && !again ? last.id : keyBefore(key)
    this.arcs.add({ from, to: r.successor.id }, r.successors)
    return { successors: r.successors, path: r.path }
  }

  private byLatency (nodes: NodeRef[]): NodeRef[] {
    return nodes.map((n, i) => ({ n, i, t: this.rtt.get(n.address) ?? 0 }))
      .sort((a, b) => a.t - b.t || a.i - b.i).map((x) => x.n)
  }

  private noteRtt (address: string, ms: number): void {
    const old = this.rtt.get(address)
    this.rtt.set(address, old === undefined ? ms : old * 0.8 + ms * 0.2)
  }

  /**
   * Asks the path's last node (from its cache) and then the holders, fastest first, one after
   * another; one that has not answered within its hedge delay has the next asked alongside it
   * (`hedged`), so a silent holder costs a fraction of a second, and is then asked last.
   */
  private async getContent (key: Key, where: Located, options: AbortOptions): Promise<Uint8Array> {
    const { rpc } = this.components
    const holders = replicaSet(where.successors, this.k)
    const holderAddresses = new Set(holders.map((n) => n.address))
    const pathCache = where.path.at(-1)
    const candidates: Array<{ node: NodeRef, cache: boolean }> = [
      ...(pathCache !== undefined && !holderAddresses.has(pathCache.address) ? [{ node: pathCache, cache: true }] : []),
      ...this.byLatency(holders).map((node) => ({ node, cache: false })),
    ]
    const needRepair: Array<{ node: NodeRef, corrupt: boolean }> = []
    const delay = (i: number): number => {
      const c = candidates[i] as { node: NodeRef, cache: boolean }
      return c.cache ? PATH_CACHE_HEDGE_MS : this.hedgeDelay(c.node.address)
    }
    let served: { bytes: Uint8Array, node: NodeRef }
    try {
      served = await hedged(candidates.length, async (i) => {
        const { node, cache } = candidates[i] as { node: NodeRef, cache: boolean }
        const t0 = performance.now()
        try {
          const b = await rpc.get(node, key, cache, options)
          if (b.kind !== BlockKind.CONTENT) throw new BlockInvalidError(`${node.address} answered ${shortHex(key)} with a root`)
          verifyBlock(key, BlockKind.CONTENT, b.bytes)
          this.noteRtt(node.address, performance.now() - t0)
          return { bytes: b.bytes, node }
        } catch (err) {
          if (!isCfsError(err)) throw err
          if (cache) throw err
          if (err.code === 'BLOCK_NOT_FOUND' || err.code === 'BLOCK_INVALID') {
            if (err.code === 'BLOCK_INVALID') {
              this.counts.badCopiesRead++
              this.log.error('%s served bad bytes for %s: %s', node.address, shortHex(key), err.message)
            }
            needRepair.push({ node, corrupt: err.code === 'BLOCK_INVALID' })
          } else if (!isCfsError(err, 'ABORTED')) {
            this.noteRtt(node.address, UNREACHABLE_RTT_MS)
          }
          throw err
        }
      }, delay, (i) => {
        // Silent past its delay: asked after the others from now on, until it answers again.
        const c = candidates[i] as { node: NodeRef, cache: boolean }
        this.log.trace('get %s: %s silent past %d ms, asking the next of %d', shortHex(key), c.node.address, delay(i), candidates.length)
        if (!c.cache) this.noteRtt(c.node.address, UNREACHABLE_RTT_MS)
      })
    } catch (err) {
      throwIfAborted(options.signal)
      if (!isCfsError(err)) throw err
      if (err.code !== 'BLOCK_NOT_FOUND' && err.code !== 'BLOCK_INVALID') throw err
      throw new BlockNotFoundError(`block ${shortHex(key)} not found on its ${holders.length} holder(s)`)
    }
    this.afterRead(key, BlockKind.CONTENT, served.bytes, needRepair, where.path, holderAddresses, served.node)
    return served.bytes
  }

  /** How long a get waits for this holder before asking the next one too. */
  private hedgeDelay (address: string): number {
    return Math.min(MAX_HEDGE_MS, Math.max(MIN_HEDGE_MS, HEDGE_RTTS * (this.rtt.get(address) ?? 0)))
  }

  /**
   * A root may be stale on one holder (it missed the last put), so all holders are asked and
   * the highest verified sequence number wins; holders behind it get the newer copy. Once one
   * holder has answered with a root, the others have ROOT_GRACE_MS more: a silent holder does
   * not hold every root read for a whole RPC deadline (readers' SeenRoots refuses a rollback).
   */
  private async getNewestRoot (key: Key, where: Located, options: AbortOptions): Promise<Uint8Array> {
    const holders = replicaSet(where.successors, this.k)
    type Answer = { node: NodeRef, bytes: Uint8Array | undefined, seq: number, error: CfsError | undefined }
    const late = new AbortController()
    const linked = deadline([options.signal, late.signal], Infinity)
    const answers: Answer[] = []
    let grace: NodeJS.Timeout | undefined
    try {
      await new Promise<void>((resolve, reject) => {
        for (const node of holders) {
          this.components.rpc.get(node, key, false, { signal: linked.signal }).then((b) => {
            if (b.kind !== BlockKind.ROOT) throw new BlockInvalidError(`${node.address} answered ${shortHex(key)} with a content block`)
            return { node, bytes: b.bytes, seq: verifyBlock(key, BlockKind.ROOT, b.bytes).seq, error: undefined }
          }).catch((err: unknown) => {
            if (!isCfsError(err)) throw err
            return { node, bytes: undefined, seq: 0, error: late.signal.aborted ? undefined : err }
          }).then((a: Answer) => {
            if (late.signal.aborted) return
            answers.push(a)
            if (answers.length === holders.length) resolve()
            else if (a.bytes !== undefined && grace === undefined) grace = setTimeout(() => { late.abort(); resolve() }, ROOT_GRACE_MS)
          }, reject)
        }
      })
    } finally {
      clearTimeout(grace)
      late.abort()
      linked.dispose()
    }
    throwIfAborted(options.signal)
    const best = answers.reduce<Answer | undefined>((a, b) => (a === undefined || b.seq > a.seq ? b : a), undefined)
    if (best?.bytes === undefined) {
      const unreachable = answers.find((a) => a.error !== undefined && isUnreachable(a.error))
      if (unreachable?.error !== undefined && answers.every((a) => a.error !== undefined && a.error.code !== 'BLOCK_NOT_FOUND')) throw unreachable.error
      throw new BlockNotFoundError(`root ${shortHex(key)} not found on its ${holders.length} holder(s)`)
    }
    const behind = answers.filter((a) => a.seq < best.seq && (a.error === undefined || !isUnreachable(a.error)))
      .map((a) => ({ node: a.node, corrupt: a.error?.code === 'BLOCK_INVALID' }))
    this.afterRead(key, BlockKind.ROOT, best.bytes, behind, [], new Set(), best.node)
    return best.bytes
  }

  /**
   * Repairs holders that lacked the block or served bad bytes, and caches it along the path.
   * Never awaited by the reader; tracked (stop and settled wait for it) and bounded.
   */
  private afterRead (
    key: Key,
    kind: BlockKind,
    bytes: Uint8Array,
    repair: Array<{ node: NodeRef, corrupt: boolean }>,
    path: readonly NodeRef[],
    holders: Set<string>,
    servedBy: NodeRef,
  ): void {
    // The caller owns what get returns and may give its memory back (recycle): background
    // work keeps a copy of its own.
    const needed = this.readRepair ? repair : []
    const targets = kind !== BlockKind.CONTENT || this.cachePathNodes === 0
      ? []
      : path.filter((n) => !holders.has(n.address) && n.address !== servedBy.address).slice(-this.cachePathNodes)
    if (needed.length === 0 && targets.length === 0) return
    const own = bytes.slice()
    for (const { node, corrupt } of needed) {
      if (corrupt) this.metrics.copiesCorrupt.inc()
      else this.metrics.copiesMissing.inc()
      if (!this.track(async () => { await this.repair(node, key, kind, own, corrupt) })) {
        this.counts.repairsSkipped++
        this.log('repair of %s on %s not sent: %d repairs in flight (maintenance will)', shortHex(key), node.address, this.background.size)
      }
    }
    for (const node of targets) {
      this.track(async () => {
        await this.components.rpc.cache(node, key, kind, own, { signal: this.lifetime.signal }).catch((err: unknown) => {
          this.log.trace('caching %s on %s failed: %s', shortHex(key), node.address, (err as Error).message)
        })
      })
    }
  }

  /** Runs `work` in the background unless stopping or at the bound; returns whether it runs. */
  private track (work: () => Promise<void>): boolean {
    if (this.lifetime.signal.aborted || this.background.size >= MAX_BACKGROUND) return false
    const p = work().finally(() => { this.background.delete(p) })
    this.background.add(p)
    return true
  }

  /**
   * One repair store: a holder that lacked the block gets it; one that served bad bytes
   * (`corrupt`) rechecks its copy and replaces it. Tried again while the holder is unreachable.
   */
  private async repair (node: NodeRef, key: Key, kind: BlockKind, bytes: Uint8Array, corrupt: boolean): Promise<void> {
    this.counts.repairsSent++
    const signal = this.lifetime.signal
    for (let attempt = 1; ; attempt++) {
      try {
        await this.components.rpc.store(node, { key, kind, bytes, expiresAt: Date.now() + this.leaseMs, owner: '', ...(corrupt ? { repair: true } : {}) }, { signal })
        this.counts.repaired++
        this.log('repaired %s on %s', shortHex(key), node.address)
        return
      } catch (err) {
        if (signal.aborted) return
        if (attempt >= REPAIR_ATTEMPTS || !isCfsError(err) || !isUnreachable(err)) {
          this.counts.repairsFailed++
          this.log('repair of %s on %s failed: %s', shortHex(key), node.address, (err as Error).message)
          return
        }
        await sleep(REPAIR_RETRY_MS * attempt, { signal }).catch(() => {})
      }
    }
  }
}
