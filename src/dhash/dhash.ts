import { NO_METRICS, PeriodicTask, createLogger, toHex, type AbortOptions, type ComponentLogger, type Key, type Logger, type Metrics, type Startable } from '../core/index.js'
import type { Transport } from '../net/index.js'
import type { Router } from '../chord/index.js'
import { DHashClient } from './dhash-client.js'
import { DEFAULT_REPLICAS } from './replica-set.js'
import { DEFAULT_DHASH_RPC_TIMEOUT_MS, DHashRpc } from './dhash-rpc.js'
import { DHashServer } from './dhash-server.js'
import { DEFAULT_REPAIR_INTERVAL_MS, Maintenance, type RepairReport } from './maintenance.js'
import { ReplicaStore, type ReplicaStoreInit } from './replica-store.js'
import type { BlockCache, BlockCacheStats, BlockStore, BlockStoreStats } from './store/block-store.js'

export interface DHashComponents {
  transport: Transport
  blocks: BlockStore
  cache: BlockCache
  /** This endpoint's vnodes, first one used for the node's own lookups. */
  vnodes: () => readonly Router[]
  logger?: ComponentLogger
  /** Uniform in [0, 1), for the repair loop's jitter. @default Math.random */
  random?: () => number
  /** Where the block layer is counted (client, server, maintenance, store). @default NO_METRICS */
  metrics?: Metrics
}

export interface DHashInit extends ReplicaStoreInit {
  /** Replicas per block (k, at most the successor list length). @default DEFAULT_REPLICAS */
  replicas?: number
  /** Milliseconds between maintenance rounds; 0 = no timer (tests call repairOnce). @default DEFAULT_REPAIR_INTERVAL_MS */
  repairIntervalMs?: number
  /** Deadline of one DHash RPC. @default DEFAULT_DHASH_RPC_TIMEOUT_MS */
  rpcTimeoutMs?: number
  /** Lease the node's own client asks for. @default DEFAULT_LEASE_MS */
  leaseMs?: number
  /** Open dhash.watch long polls of one root this node keeps at most; 0 refuses them all. @default DEFAULT_MAX_WATCHERS_PER_ROOT */
  maxWatchersPerRoot?: number
}

export interface DHashStats {
  replicas: number
  store: BlockStoreStats
  cache: BlockCacheStats & { hitRate: number }
  corruptDropped: number
  /** Readers waiting here for a root's next version (dhash.watch). */
  watching: number
  /** Replica bytes this node holds at most (--max-storage-mb); null: no limit but its disk's. */
  maxBytes: number | null
  /** Absent until the first maintenance round finishes. */
  lastRepair?: RepairReport
}

/**
 * The block layer on one endpoint: serves DHash RPCs from the shared replica store, runs
 * maintenance, hands blocks over on a graceful leave, and offers a BlockService (`client`).
 */
export class DHash implements Startable {
  readonly store: ReplicaStore
  readonly client: DHashClient
  readonly maintenance: Maintenance
  private readonly rpc: DHashRpc
  private readonly server: DHashServer
  private readonly task: PeriodicTask
  private readonly log: Logger
  private readonly k: number
  private readonly unsubscribe: Array<() => void> = []
  private started = false
  private handedOff = false

  constructor (private readonly components: DHashComponents, init: DHashInit = {}) {
    const logger = components.logger ?? createLogger()
    this.log = logger.forComponent('dhash')
    this.k = init.replicas ?? DEFAULT_REPLICAS
    this.store = new ReplicaStore({ blocks: components.blocks, cache: components.cache, logger }, init)
    this.rpc = new DHashRpc(components.transport, init.rpcTimeoutMs ?? DEFAULT_DHASH_RPC_TIMEOUT_MS)
    const vnodeById = (id: Key): Router | undefined => {
      const hex = toHex(id)
      return components.vnodes().find((v) => v.self.hex === hex)
    }
    const metrics = components.metrics ?? NO_METRICS
    this.server = new DHashServer(
      {
        transport: components.transport,
        store: this.store,
        rpc: this.rpc,
        vnode: vnodeById,
        knowsPeer: (key) => components.vnodes().some((v) => v.knowsPeer(key)),
        logger,
        metrics,
      },
      { replicas: this.k, ...(init.maxWatchersPerRoot === undefined ? {} : { watchers: { maxPerRoot: init.maxWatchersPerRoot } }) },
    )
    this.maintenance = new Maintenance({
      store: this.store,
      rpc: this.rpc,
      vnodes: components.vnodes,
      address: () => components.transport.address,
      logger,
      metrics,
    }, { replicas: this.k })
    const router = { lookup: async (...args: Parameters<Router['lookup']>) => (components.vnodes()[0] as Router).lookup(...args) }
    const clientInit = { replicas: this.k, ...(init.leaseMs === undefined ? {} : { leaseMs: init.leaseMs }) }
    this.client = new DHashClient({ router, rpc: this.rpc, logger, metrics }, clientInit)
    this.registerMetrics(metrics)
    this.task = new PeriodicTask({ round: async (o) => this.repairOnce(o), log: this.log, random: components.random }, { name: 'repair', intervalMs: init.repairIntervalMs ?? DEFAULT_REPAIR_INTERVAL_MS, jitter: 0.2 })
  }

  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.rpc.start()
    await this.client.start()
    const first = this.components.vnodes()[0]
    // One hand-off for the whole endpoint, before its first vnode leaves (all are still up).
    if (first !== undefined) this.unsubscribe.push(first.onLeaving(async (_succs, options) => { await this.handOffAll(options) }))
    this.task.start()
  }

  /**
   * Stops the repair timer and waits for a round in flight (aborted), abandons the client's
   * background repairs, stops serving, and fails the puts and stores still queued for a batch
   * with ShuttingDownError (batches on the wire are aborted). When it resolves nothing here
   * touches the block store any more, so the caller may close it.
   */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    await this.task.stop()
    await this.client.stop()
    for (const u of this.unsubscribe.splice(0)) u()
    this.server.close()
    await this.rpc.stop()
  }

  async repairOnce (options: AbortOptions = {}): Promise<RepairReport> {
    return this.maintenance.repairOnce(options)
  }

  /**
   * For a graceful leave: gives every stored block to its holders-without-us, and from then on
   * confirms no copies (DHashServer.beginLeave); returns the copies pushed.
   */
  async handOffAll (options: AbortOptions = {}): Promise<number> {
    if (this.handedOff) return 0
    this.handedOff = true
    this.server.beginLeave()
    const pushed = await this.maintenance.handOffAll(options)
    this.log('handed off: %d cop(ies) pushed', pushed)
    return pushed
  }

  /** What the stores already count, read at each scrape. */
  private registerMetrics (metrics: Metrics): void {
    const { blocks, cache } = this.store
    metrics.collect({ name: 'cfs_dhash_stored_blocks', help: 'Replicas held in this node\'s block store', type: 'gauge', collect: (r) => { r(blocks.stats().blocks) } })
    metrics.collect({
      name: 'cfs_dhash_stored_bytes', help: 'Bytes of the replicas held in this node\'s block store', type: 'gauge', collect: (r) => { r(blocks.stats().bytes) },
    })
    metrics.collect({ name: 'cfs_dhash_cache_blocks', help: 'Blocks in the lookup-path cache', type: 'gauge', collect: (r) => { r(cache.stats().entries) } })
    metrics.collect({ name: 'cfs_dhash_cache_bytes', help: 'Bytes in the lookup-path cache', type: 'gauge', collect: (r) => { r(cache.stats().bytes) } })
    metrics.collect({
      name: 'cfs_dhash_cache_reads_total',
      help: 'Lookup-path cache reads, by result (hit, miss)',
      labelNames: ['result'],
      type: 'counter',
      collect: (r) => { const s = cache.stats(); r(s.hits, 'hit'); r(s.misses, 'miss') },
    })
    metrics.collect({
      name: 'cfs_dhash_cache_hit_ratio', help: 'Hits of all lookup-path cache reads since start (0 before any)', type: 'gauge',
      collect: (r) => { const s = cache.stats(); r(s.hits + s.misses === 0 ? 0 : s.hits / (s.hits + s.misses)) },
    })
    metrics.collect({
      name: 'cfs_dhash_watches', help: 'Readers waiting here for a root\'s next version (open dhash.watch long polls)', type: 'gauge',
      collect: (r) => { r(this.server.watching) },
    })
    metrics.collect({
      name: 'cfs_dhash_corrupt_dropped_total', help: 'Stored copies found corrupt (scrub, repair, reads of roots) and dropped', type: 'counter',
      collect: (r) => { r(this.store.stats().corruptDropped) },
    })
  }

  stats (): DHashStats {
    const cache = this.store.cache.stats()
    const lookups = cache.hits + cache.misses
    return {
      replicas: this.k,
      store: this.store.blocks.stats(),
      cache: { ...cache, hitRate: lookups === 0 ? 0 : cache.hits / lookups },
      corruptDropped: this.store.stats().corruptDropped,
      watching: this.server.watching,
      maxBytes: Number.isFinite(this.store.maxStorageBytes) ? this.store.maxStorageBytes : null,
      ...(this.maintenance.lastReport === undefined ? {} : { lastRepair: this.maintenance.lastReport }),
    }
  }
}
