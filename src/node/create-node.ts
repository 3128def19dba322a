import { mkdir, statfs } from 'node:fs/promises'
import { join, resolve } from 'node:path'
import {
  PeriodicTask, ShuttingDownError, StoreLockedError, createLogger, deadline, isCfsError, shortHex, throwIfAborted,
  type AbortOptions, type ComponentLogger, type Logger, type Startable,
} from '../core/index.js'
import { TcpTransport, type Transport } from '../net/index.js'
import { z } from 'zod'
import {
  ChordNode, ChordRpcServer, DEFAULT_STABILIZE_INTERVAL_MS, DEFAULT_SUCCESSOR_ENDPOINTS, describeNode, keySchema, makeNodeRef, parseRequest, toWire,
  type ChordInit,
} from '../chord/index.js'
import { DEFAULT_REPLICAS, DHash, LevelBlockCache, LevelBlockStore, MemoryBlockCache, MemoryBlockStore, type BlockCache, type BlockStore, type DHashInit } from '../dhash/index.js'
import { Dashboard } from './dashboard.js'
import { HeldRoots } from './held-roots.js'
import { HttpStatusServer } from './http-status.js'
import { linkTransportInit, type LinkInit } from './link.js'
import { PromMetrics, type ScrapeableMetrics } from './metrics.js'
import { PID_FILE, readPidFile, removePidFile, writePidFile } from './pid-file.js'
import type { RingSnapshot } from './ring-snapshot.js'
import { RingView, type RingViewInit } from './ring-view.js'
import { parseNodeStatus, vnodeStatus, type DiskStatus, type NodeStatus } from './status.js'

/** The method `cfs status` calls. */
export const STATUS_METHOD = 'node.status'
/** The method `cfs lookup` calls: { key: bytes(32) } -> { successor, successors, hops }. */
export const LOOKUP_METHOD = 'node.lookup'
/** The method `cfs status` calls for the ring's health: {} -> the node's ring snapshot (RingSnapshot). */
export const RING_METHOD = 'node.ring'
const lookupRequest = z.object({ key: keySchema })

/** Virtual nodes per endpoint unless configured (`--vnodes`). */
export const DEFAULT_VNODES = 1

/** A node's replica store and lookup-path cache, opened. */
export interface CfsNodeStores {
  blocks: BlockStore
  cache: BlockCache
}

/**
 * What a node is built from. Every part has the production default; simulations give the
 * in-memory network's transport, memory stores, a seeded clock and randomness, and so run the
 * same wiring as `cfs node`.
 */
export interface CfsNodeComponents {
  /** The endpoint. @default a TcpTransport listening on `init.listen` */
  transport?: Transport
  /** Opens the stores (closed by stop()). @default LevelDB under `init.dataDir`, or memory without one */
  openStores?: () => Promise<CfsNodeStores>
  /** Milliseconds since the epoch, for leases, quotas and cached roots. @default Date.now */
  now?: () => number
  /** Uniform in [0, 1), for the maintenance loops' jitter. @default Math.random */
  random?: () => number
  logger?: ComponentLogger
  /**
   * Where every layer counts what it does; the HTTP endpoint serves it as GET /metrics.
   * @default a PromMetrics of its own when `init.http` is set, else none (nothing is counted)
   */
  metrics?: ScrapeableMetrics
}

export interface CfsNodeInit {
  /** "host:port" the default TCP transport listens on; port 0 picks a free port. */
  listen?: string
  /**
   * "host:port" its peers reach it at, when that is not `listen` (listening on 0.0.0.0, or
   * behind a port mapping): its node ids derive from this address. Port 0 takes the bound port.
   * @default the listen address
   */
  advertise?: string
  /** "host:port" of any live node of the ring to join; omitted: start a new ring. */
  join?: string
  /** Directory for this node's data (created if missing); its identity key is kept there too (link.ts). */
  dataDir?: string
  /** How its links are made: TLS unless told otherwise, and a private ring's secret. @default TLS, a public ring */
  link?: LinkInit
  /** Virtual nodes on this endpoint (capacity-proportional load). @default DEFAULT_VNODES */
  vnodes?: number
  /** Chord tuning shared by every vnode. */
  chord?: Omit<ChordInit, 'vnode'>
  /** Deadline of one RPC in milliseconds. @default DEFAULT_RPC_TIMEOUT_MS (net) */
  rpcTimeoutMs?: number
  /** Block layer tuning: replicas, leases, quotas, repair interval. */
  dhash?: DHashInit
  /** "host:port" for the read-only HTTP status endpoint (GET /status, /keys, /metrics) and the dashboard; omitted: none. */
  http?: string
  /**
   * The ring view (the dashboard's and node.ring's). With `http` a round runs every
   * stabilization interval unless `intervalMs` says otherwise; without, one per node.ring call.
   * @default { intervalMs: http ? chord.stabilizeIntervalMs : 0 }
   */
  ringView?: RingViewInit
  /**
   * The caller forms the ring (a simulation drives joins and rounds itself): start() wires and
   * starts every layer but neither joins nor starts a ring and runs no round. @default false
   */
  externalRing?: boolean
}

/** Milliseconds between samples of the data directory's free space (node.status's `disk`). */
export const DISK_SAMPLE_MS = 5_000

/**
 * A cfs node: one TCP endpoint hosting `vnodes` Chord virtual nodes. This is the one place
 * where the layers are wired together (the composition root).
 *
 * Lifecycle (Startable): start() while started or starting joins that start; stop() while
 * stopped is a no-op, and stop() during a start aborts it and waits for its clean-up. A node
 * may be started again after stop().
 */
export class CfsNode implements Startable {
  readonly transport: Transport
  readonly vnodes: ChordNode[] = []
  private dhashLayer: DHash | undefined
  private blocks: BlockStore | undefined
  private cache: BlockCache | undefined
  private httpServer: HttpStatusServer | undefined
  private heldRoots: HeldRoots | undefined
  /** Samples the data directory's file system for node.status (absent without a data directory). */
  private diskSampler: PeriodicTask | undefined
  private disk: DiskStatus | undefined
  private ringViewer: RingView | undefined
  private dashboard: Dashboard | undefined
  private readonly init: CfsNodeInit
  private readonly logger: ComponentLogger
  /** What the layers count, if anything: a registry given, or this node's own with `http`. */
  readonly metrics: ScrapeableMetrics | undefined
  private log: Logger
  private server: ChordRpcServer | undefined
  /** Whether this node wrote the data directory's pid file (and so removes it on stop). */
  private claimedDataDir = false
  /** The start in progress or done; undefined while stopped (and after a failed start). */
  private running: Promise<void> | undefined
  /** Aborted by stop() to end a start in progress. */
  private startAbort = new AbortController()
  private stopping: Promise<void> | undefined

  constructor (private readonly components: CfsNodeComponents, init: CfsNodeInit) {
    if ((init.vnodes ?? DEFAULT_VNODES) < 1) throw new RangeError('a node runs at least one vnode')
    if (components.transport === undefined && init.listen === undefined) throw new TypeError('a node needs a transport or an address to listen on')
    this.init = init
    this.logger = components.logger ?? createLogger()
    this.log = this.logger.forComponent('node')
    this.transport = components.transport ?? new TcpTransport({ logger: this.logger }, {
      listen: init.listen,
      rpcTimeoutMs: init.rpcTimeoutMs,
      ...(init.advertise === undefined ? {} : { advertise: init.advertise }),
      ...linkTransportInit(init.link, init.dataDir === undefined ? undefined : resolve(init.dataDir)),
    })
    this.metrics = components.metrics ?? (init.http === undefined ? undefined : new PromMetrics())
  }

  /** The Chord RPC service every vnode of this endpoint shares (after start). */
  get chordServer (): ChordRpcServer {
    if (this.server === undefined) throw new RangeError('the node is not started')
    return this.server
  }

  /** The address peers reach this node at (after start). */
  get address (): string { return this.transport.address }

  /** The block layer (after start). */
  get dhash (): DHash {
    if (this.dhashLayer === undefined) throw new RangeError('the node is not started')
    return this.dhashLayer
  }

  /** Where the HTTP status endpoint listens, if it was asked for (after start). */
  get httpAddress (): string | undefined { return this.httpServer?.address }

  /** This node's view of the ring, the dashboard's and node.ring's (after start). */
  get ringView (): RingView | undefined { return this.ringViewer }

  /**
   * Opens the data directory, listens, starts every vnode, and joins the ring (or starts one).
   * The store is opened first, so a data directory in use fails before anything listens; on
   * any failure everything opened so far is closed again, so the process can exit.
   */
  async start (options: AbortOptions = {}): Promise<void> {
    // A start during a stop begins once that stop has ended.
    if (this.stopping !== undefined) await this.stopping
    this.running ??= this.open(options)
    await this.running
  }

  private async open (options: AbortOptions): Promise<void> {
    this.startAbort = new AbortController()
    const linked = deadline([options.signal, this.startAbort.signal], Infinity)
    try {
      const stores = this.components.openStores === undefined ? await this.openStores() : await this.openGiven(this.components.openStores)
      await this.transport.start() // a failure to listen comes as ADDRESS_IN_USE or LISTEN_FAILED
      throwIfAborted(linked.signal)
      await this.startLayers(stores, { signal: linked.signal })
      throwIfAborted(linked.signal)
    } catch (err) {
      await this.close().catch((e: unknown) => { this.log.error('cleaning up after a failed start: %s', e) })
      this.running = undefined
      throw err
    } finally {
      linked.dispose()
    }
  }

  private async startLayers (stores: CfsNodeStores, options: AbortOptions): Promise<void> {
    const logger = this.components.logger ?? createLogger(shortHex(makeNodeRef(this.address, 0, this.transport.publicKey).id))
    const random = this.components.random
    const metrics = this.metrics
    this.log = logger.forComponent('node')
    this.server = new ChordRpcServer(this.transport, logger)
    this.vnodes.length = 0 // a start after stop() builds them again
    // Successor lists reach k + 1 distinct endpoints: the replicas and a spare for a leave.
    const successorEndpoints = Math.max(DEFAULT_SUCCESSOR_ENDPOINTS, (this.init.dhash?.replicas ?? DEFAULT_REPLICAS) + 1)
    for (let i = 0; i < (this.init.vnodes ?? DEFAULT_VNODES); i++) {
      this.vnodes.push(new ChordNode(
        { transport: this.transport, server: this.server, logger, random, metrics },
        { successorEndpoints, ...this.init.chord, vnode: i },
      ))
    }
    this.transport.handle(STATUS_METHOD, async () => Promise.resolve(this.status()))
    this.transport.handle(LOOKUP_METHOD, async (body) => {
      const { key } = parseRequest(lookupRequest, body)
      const r = await (this.vnodes[0] as ChordNode).lookup(key, { minSuccessors: 3 })
      return { successor: toWire(r.successor), successors: r.successors.map(toWire), hops: r.hops }
    })
    const dhashInit = this.components.now === undefined ? this.init.dhash : { ...this.init.dhash, now: this.components.now }
    this.dhashLayer = new DHash({ transport: this.transport, ...stores, vnodes: () => this.vnodes, logger, random, metrics }, dhashInit)
    // The ring view: the dashboard's (a round every stabilization interval, with `http`) and
    // node.ring's (a round per call without `http`, so `cfs status` still sees failures that
    // an earlier call saw).
    const view = this.ringViewer = new RingView({
      status: async (address, o) => (address === this.address
        ? this.status()
        : parseNodeStatus(await this.transport.request(address, STATUS_METHOD, {}, o), address)),
      seeds: () => [this.address],
      logger,
    }, { intervalMs: this.init.http === undefined ? 0 : (this.init.chord?.stabilizeIntervalMs ?? DEFAULT_STABILIZE_INTERVAL_MS), ...this.init.ringView })
    // Without the dashboard's timer each call runs a round, and calls that arrive during one
    // share it: a burst of callers costs one walk.
    let round: Promise<RingSnapshot> | undefined
    this.transport.handle(RING_METHOD, async () => {
      const latest = this.httpServer === undefined ? undefined : view.snapshot()
      if (latest !== undefined) return latest
      round ??= view.refreshOnce().finally(() => { round = undefined })
      return round
    })
    const store = this.dhashLayer.store
    // A simulation drives its own rounds: no timer then (checkOnce is public).
    this.heldRoots = new HeldRoots(
      { blocks: store.blocks, onStored: (l) => store.onStored(l), now: this.components.now, logger },
      this.init.externalRing === true ? { intervalMs: 0 } : {},
    )
    for (const v of this.vnodes) await v.start()
    await this.dhash.start()
    await this.heldRoots.start()
    const dataDir = this.init.dataDir
    if (dataDir !== undefined) {
      const sample = async (): Promise<void> => {
        const s = await statfs(dataDir)
        this.disk = { totalBytes: s.blocks * s.bsize, freeBytes: s.bavail * s.bsize }
      }
      await sample()
      this.diskSampler = new PeriodicTask({ round: sample, log: this.log }, { name: 'disk', intervalMs: DISK_SAMPLE_MS })
      this.diskSampler.start()
    }
    if (this.init.externalRing === true) return
    const first = this.vnodes[0] as ChordNode
    if (this.init.join !== undefined) await first.join(this.init.join, options)
    await first.stabilizeOnce(options)
    for (const v of this.vnodes.slice(1)) {
      await v.join(first.self, options)
      await v.stabilizeOnce(options)
    }
    for (const v of this.vnodes) await v.fixFingersOnce(options)
    if (this.init.http !== undefined) await this.startHttp(this.init.http, view, metrics)
    this.log('listening on %s with %d vnode(s); %s', this.address, this.vnodes.length,
      this.init.join === undefined ? 'started a new ring' : `joined via ${this.init.join}, successor ${describeNode(first.successors()[0])}`)
  }

  /** The HTTP status server with the dashboard's routes, and the ring view's timer. */
  private async startHttp (listen: string, view: RingView, metrics: ScrapeableMetrics | undefined): Promise<void> {
    this.dashboard = new Dashboard({ snapshot: () => view.snapshot(), onChange: (l) => view.onChange(l) }, { listenHost: listen.slice(0, listen.lastIndexOf(':')) })
    this.httpServer = new HttpStatusServer({
      status: () => this.status(), blocks: this.dhash.store.blocks, routes: [this.dashboard.route], ...(metrics === undefined ? {} : { metrics }),
    }, { listen })
    await this.httpServer.start()
    await view.start()
  }

  /** Stores from the components' factory; stop() closes them. */
  private async openGiven (open: () => Promise<CfsNodeStores>): Promise<CfsNodeStores> {
    const stores = await open()
    this.blocks = stores.blocks
    this.cache = stores.cache
    return stores
  }

  /**
   * Replicas live in LevelDB under the data directory (blocks/) with the lookup-path cache
   * beside it (cache/); a node started without one keeps both in memory. The replica store's
   * LevelDB lock is what makes a data directory one process's: whoever takes it writes the
   * pid file, and whoever is refused it names that process (pid-file.ts).
   */
  private async openStores (): Promise<CfsNodeStores> {
    const dir = this.init.dataDir
    if (dir === undefined) {
      this.log('no data directory: blocks are kept in memory')
      const blocks = this.blocks = new MemoryBlockStore()
      const cache = this.cache = new MemoryBlockCache()
      await blocks.open()
      await cache.open()
      return { blocks, cache }
    }
    await mkdir(dir, { recursive: true })
    const blocks = this.blocks = new LevelBlockStore({ logger: this.logger }, { location: join(dir, 'blocks') })
    try {
      await blocks.open()
    } catch (err) {
      if (!isCfsError(err, 'STORE_LOCKED')) throw err
      const pid = await readPidFile(dir)
      throw new StoreLockedError(`the data directory ${resolve(dir)} is in use by ` +
        (pid === undefined ? `another process (no live pid in its ${PID_FILE})` : `process ${pid}`), { cause: err })
    }
    await writePidFile(dir)
    this.claimedDataDir = true
    const cache = this.cache = new LevelBlockCache({ logger: this.logger }, { location: join(dir, 'cache') })
    await cache.open()
    return { blocks, cache }
  }

  status (): NodeStatus {
    return {
      address: this.address,
      vnodes: this.vnodes.map(vnodeStatus),
      ...(this.dhashLayer === undefined ? {} : { blocks: this.dhashLayer.stats() }),
      ...(this.heldRoots === undefined ? {} : { volumes: this.heldRoots.list() }),
      ...(this.disk === undefined ? {} : { disk: this.disk }),
    }
  }

  /** Leaves the ring gracefully (neighbours are told and take over), then stops. */
  async leave (options: AbortOptions = {}): Promise<void> {
    for (const v of this.vnodes) await v.leave(options)
    await this.stop()
  }

  /**
   * Stops at once, telling no one (peers detect the failure). A no-op when stopped; during a
   * start it aborts the start and waits for its clean-up. Resolves once the stores are closed.
   */
  async stop (): Promise<void> {
    const running = this.running
    if (running === undefined) {
      await this.stopping
      return
    }
    this.startAbort.abort(new ShuttingDownError('the node was stopped while starting'))
    this.stopping ??= (async () => {
      await running.catch(() => {}) // a failed start has closed everything itself
      if (this.running !== running) return
      this.running = undefined
      await this.close()
    })().finally(() => { this.stopping = undefined })
    await this.stopping
  }

  /**
   * Closes what is open, loops before what they use: the HTTP endpoint with the dashboard,
   * the ring view, the held-roots check, the block layer (its repair round ends first), the
   * vnodes (their rounds end first), the RPC service, the transport, and last the stores.
   */
  private async close (): Promise<void> {
    this.dashboard?.close()
    this.dashboard = undefined
    await this.httpServer?.stop()
    this.httpServer = undefined
    await this.ringViewer?.stop()
    this.ringViewer = undefined
    await this.heldRoots?.stop()
    await this.diskSampler?.stop()
    this.diskSampler = undefined
    await this.dhashLayer?.stop()
    for (const v of this.vnodes) await v.stop()
    this.server?.close()
    this.server = undefined
    this.transport.unhandle(STATUS_METHOD)
    this.transport.unhandle(LOOKUP_METHOD)
    this.transport.unhandle(RING_METHOD)
    await this.transport.stop()
    await this.cache?.close()
    // Before the lock is released: afterwards the file may already be the next holder's.
    if (this.claimedDataDir && this.init.dataDir !== undefined) {
      this.claimedDataDir = false
      await removePidFile(this.init.dataDir)
    }
    await this.blocks?.close()
  }
}
