import {
  Listeners, NO_METRICS, PeriodicTask, ShuttingDownError, betweenHex, createLogger, isCfsError, shortHex, throwIfAborted,
  type AbortOptions, type ComponentLogger, type Key, type Logger, type Metrics, type Startable,
} from '../core/index.js'
import type { Transport } from '../net/index.js'
import { ChordClient } from './chord-client.js'
import { DEFAULT_MAX_LOOKUP_HOPS, SilentNodes, iterativeLookup, lookupMetrics, type LookupContext, type LookupOptions, type LookupResult } from './lookup.js'
import { describeNode, makeNodeRef, sameNode, type NodeRef } from './node-ref.js'
import { RoutingTable } from './routing-table.js'
import { DEFAULT_SUCCESSOR_ENDPOINTS, DEFAULT_SUCCESSOR_LIST_SIZE, mergeSuccessors } from './successor-list.js'
import type { ChordRpcServer, ChordVnode } from './rpc/server.js'
import { Stabilizer } from './stabilizer.js'
import type { KeyRange, Router } from './router.js'

/** Milliseconds between stabilization rounds. */
export const DEFAULT_STABILIZE_INTERVAL_MS = 1_000
/** Milliseconds between finger-table rebuilds. */
export const DEFAULT_FIX_FINGERS_INTERVAL_MS = 5_000
/** Milliseconds between predecessor liveness checks. */
export const DEFAULT_CHECK_PREDECESSOR_INTERVAL_MS = 2_000
/** Deadline of one Chord RPC between ring members. */
export const DEFAULT_CHORD_RPC_TIMEOUT_MS = 2_000

export interface ChordComponents {
  transport: Transport
  /** The endpoint's Chord server, shared by every vnode on the transport. */
  server: ChordRpcServer
  logger?: ComponentLogger
  /** Uniform in [0, 1), for the maintenance loops' jitter. @default Math.random */
  random?: () => number
  /** Where lookups are counted. @default NO_METRICS */
  metrics?: Metrics
}

export interface ChordInit {
  /** Index of this virtual node on its endpoint; the id derives from address and index. @default 0 */
  vnode?: number
  /** Successors remembered for fault tolerance (r). @default DEFAULT_SUCCESSOR_LIST_SIZE (successor-list.ts) */
  successorListSize?: number
  /**
   * The successor list grows past r until it names this many distinct endpoints besides this
   * node's own (virtual nodes of one process count once), at most 64 nodes: the block layer
   * places replicas on distinct endpoints and finds them there. Set it to at least k + 1.
   * @default DEFAULT_SUCCESSOR_ENDPOINTS (successor-list.ts)
   */
  successorEndpoints?: number
  /** Milliseconds between stabilization rounds; 0 = no timer (tests call stabilizeOnce). @default DEFAULT_STABILIZE_INTERVAL_MS */
  stabilizeIntervalMs?: number
  /** Milliseconds between finger-table rebuilds; 0 = no timer. @default DEFAULT_FIX_FINGERS_INTERVAL_MS */
  fixFingersIntervalMs?: number
  /** Milliseconds between predecessor liveness checks; 0 = no timer. @default DEFAULT_CHECK_PREDECESSOR_INTERVAL_MS */
  checkPredecessorIntervalMs?: number
  /** Deadline of one Chord RPC in milliseconds. @default DEFAULT_CHORD_RPC_TIMEOUT_MS */
  rpcTimeoutMs?: number
  /** Routing RPCs a lookup may send before giving up. @default DEFAULT_MAX_LOOKUP_HOPS (lookup.ts) */
  maxLookupHops?: number
}

/** One virtual node on the Chord ring. */
export class ChordNode implements Router, Startable, ChordVnode {
  readonly self: NodeRef
  readonly table: RoutingTable
  private readonly server: ChordRpcServer
  private readonly client: ChordClient
  private readonly stabilizer: Stabilizer
  private readonly lookupContext: LookupContext
  private readonly tasks: PeriodicTask[]
  private readonly log: Logger
  private readonly successorsChanged = new Listeners<[readonly NodeRef[]]>()
  private readonly rangeChanged = new Listeners<[KeyRange]>()
  private readonly leavingHandlers = new Set<(successors: readonly NodeRef[], options: AbortOptions) => Promise<void>>()
  private readonly successorEndpoints: number
  private shutdown = new AbortController()
  private started = false

  constructor (components: ChordComponents, init: ChordInit = {}) {
    const vnode = init.vnode ?? 0
    // The record carries the endpoint's identity key: the pin peers hold it to.
    this.self = makeNodeRef(components.transport.address, vnode, components.transport.publicKey)
    const logger = components.logger ?? createLogger(shortHex(this.self.id))
    this.log = logger.forComponent('chord:node')
    this.server = components.server
    this.table = new RoutingTable(this.self)
    this.client = new ChordClient(components.transport, init.rpcTimeoutMs ?? DEFAULT_CHORD_RPC_TIMEOUT_MS)
    const successorListSize = init.successorListSize ?? DEFAULT_SUCCESSOR_LIST_SIZE
    const successorEndpoints = init.successorEndpoints ?? DEFAULT_SUCCESSOR_ENDPOINTS
    this.successorEndpoints = successorEndpoints
    this.lookupContext = {
      table: this.table,
      client: this.client,
      maxHops: init.maxLookupHops ?? DEFAULT_MAX_LOOKUP_HOPS,
      silent: new SilentNodes(),
      successorListSize,
      log: logger.forComponent('chord:lookup'),
      metrics: lookupMetrics(components.metrics ?? NO_METRICS),
    }
    this.stabilizer = new Stabilizer({
      table: this.table,
      client: this.client,
      successorListSize,
      successorEndpoints,
      log: logger.forComponent('chord:stabilizer'),
      lookup: async (key, options) => this.lookup(key, options),
      lookupVia: async (start, key, options) => this.lookupVia(start, key, options),
    })
    this.table.onSuccessorsChanged = (succs) => { this.successorsChanged.emit(succs) }
    this.table.onPredecessorChanged = (pred) => {
      this.log('predecessor is now %s', describeNode(pred))
      this.rangeChanged.emit({ from: pred?.id, to: this.self.id })
    }
    // Each round runs with its task's signal, which the task's stop() aborts.
    const task = (name: string, intervalMs: number, round: (o: AbortOptions) => Promise<void>): PeriodicTask =>
      new PeriodicTask({ round, log: this.log, random: components.random }, { name, intervalMs, jitter: 0.2 })
    this.tasks = [
      task('stabilize', init.stabilizeIntervalMs ?? DEFAULT_STABILIZE_INTERVAL_MS, async (o) => this.stabilizeOnce(o)),
      task('fix-fingers', init.fixFingersIntervalMs ?? DEFAULT_FIX_FINGERS_INTERVAL_MS, async (o) => this.fixFingersOnce(o)),
      task('check-predecessor', init.checkPredecessorIntervalMs ?? DEFAULT_CHECK_PREDECESSOR_INTERVAL_MS, async (o) => this.checkPredecessorOnce(o)),
    ]
  }

  /** Serves RPCs and starts the maintenance timers. The node is alone until join(). */
  async start (): Promise<void> {
    if (this.started) return
    this.started = true
    this.shutdown = new AbortController()
    this.server.add(this)
    for (const t of this.tasks) t.start()
  }

  /**
   * Stops timers and RPC service without telling anyone (a crash, as far as peers can tell).
   * Rounds in flight are aborted and have ended when it resolves.
   */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    this.shutdown.abort(new ShuttingDownError('node stopped'))
    await Promise.all(this.tasks.map(async (t) => t.stop()))
    this.server.remove(this)
  }

  /**
   * Joins the ring through any live node (`bootstrap` is a NodeRef or an endpoint address,
   * meaning its vnode 0): learns its successor list and nothing more, as in the Chord paper.
   * The successor hears of us at the next stabilizeOnce(), which callers may run at once.
   */
  async join (bootstrap: NodeRef | string, options: AbortOptions = {}): Promise<void> {
    // An address given by the operator may not be the one the node advertises (and derives its
    // id from): its vnodes are asked who they are; one older than chord.vnodes is vnode 0 there.
    const boot = typeof bootstrap !== 'string'
      ? bootstrap
      : (await this.client.vnodes(bootstrap, options).catch((err: unknown) => {
          if (!isCfsError(err, 'UNKNOWN_METHOD')) throw err
          return undefined
        }))?.[0] ?? makeNodeRef(bootstrap, 0)
    if (sameNode(boot, this.self)) return
    const r = await this.lookupVia(boot, this.self.id, {
      ...options, minSuccessors: this.lookupContext.successorListSize, minEndpoints: this.successorEndpoints,
    })
    const succs = r.successors.filter((n) => !sameNode(n, this.self))
    const first = succs[0]
    this.table.setSuccessors(
      first === undefined ? [boot] : mergeSuccessors(this.self, first, succs.slice(1), this.lookupContext.successorListSize, this.successorEndpoints),
    )
    this.log('joined via %s; successor %s after %d hops', describeNode(boot), describeNode(this.table.successor), r.hops)
  }

  /**
   * Leaves gracefully: first the registered leaving handlers run (the block layer hands its
   * keys over), then the predecessor and successor are told who their new neighbours are.
   */
  async leave (options: AbortOptions = {}): Promise<void> {
    if (!this.started) return
    const succs = [...this.table.successors]
    for (const h of this.leavingHandlers) await h(succs, options)
    const succ = this.table.successor
    const pred = this.table.predecessor
    const tell = async (to: NodeRef | undefined, handover: { pred?: NodeRef, succs?: readonly NodeRef[] }): Promise<void> => {
      if (to === undefined || sameNode(to, this.self)) return
      try {
        await this.client.leave(to, this.self, handover, options)
      } catch (err) {
        this.log('could not tell %s that we leave: %s', describeNode(to), (err as Error).message)
      }
    }
    await Promise.all([tell(succ, pred === undefined ? {} : { pred }), tell(pred, { succs })])
    this.log('left the ring')
    await this.stop()
  }

  async lookup (key: Key, options: LookupOptions = {}): Promise<LookupResult> {
    throwIfAborted(options.signal)
    // Every preceding node we know is a candidate, best first: if the closest ones are dead
    // the lookup falls back to the next ones without giving up.
    return iterativeLookup(this.lookupContext, key, this.table.next(key, 64), options)
  }

  async findSuccessor (key: Key, options: AbortOptions = {}): Promise<NodeRef> {
    return (await this.lookup(key, options)).successor
  }

  /** A lookup that begins by asking `start` instead of consulting our own tables. */
  async lookupVia (start: NodeRef, key: Key, options: LookupOptions = {}): Promise<LookupResult> {
    return iterativeLookup(this.lookupContext, key, { done: false, nodes: [start] }, options)
  }

  successors (): readonly NodeRef[] { return this.table.successors }
  predecessor (): NodeRef | undefined { return this.table.predecessor }
  isResponsible (key: Key): boolean { return this.table.isResponsible(key) }
  knowsPeer (key: Uint8Array): boolean { return this.table.knowsKey(key) }

  onSuccessorsChanged (listener: (succs: readonly NodeRef[]) => void): () => void { return this.successorsChanged.add(listener) }
  onRangeChanged (listener: (range: KeyRange) => void): () => void { return this.rangeChanged.add(listener) }
  onLeaving (handler: (successors: readonly NodeRef[], options: AbortOptions) => Promise<void>): () => void {
    this.leavingHandlers.add(handler)
    return () => { this.leavingHandlers.delete(handler) }
  }

  async stabilizeOnce (options: AbortOptions = {}): Promise<void> { await this.stabilizer.stabilizeOnce(options) }
  async fixFingersOnce (options: AbortOptions = {}): Promise<void> { await this.stabilizer.fixFingersOnce(options) }
  async checkPredecessorOnce (options: AbortOptions = {}): Promise<void> { await this.stabilizer.checkPredecessorOnce(options) }

  /**
   * "I may be your predecessor": accepted if it is closer than the current one and answers as
   * the id it claims, at the key its record pins (the handler has checked that the record is
   * the sender's own).
   */
  async handleNotify (node: NodeRef): Promise<void> {
    if (sameNode(node, this.self)) return
    const pred = this.table.predecessor
    if (pred !== undefined && !betweenHex(node.hex, pred.hex, this.self.hex)) return
    await this.client.ping(node, { signal: this.shutdown.signal })
    const now = this.table.predecessor
    if (now === undefined || betweenHex(node.hex, now.hex, this.self.hex)) this.table.setPredecessor(node)
    // Alone until now: the notifier is also our successor (a ring of two).
    if (this.table.successors.length === 0) this.table.setSuccessors([node])
  }

  handleLeave (leaving: NodeRef, pred: NodeRef | undefined, succs: NodeRef[] | undefined): void {
    this.log('%s is leaving', describeNode(leaving))
    if (sameNode(leaving, this.table.predecessor)) {
      this.table.remove(leaving)
      if (pred !== undefined) this.table.setPredecessor(pred)
    } else if (sameNode(leaving, this.table.successor) && succs !== undefined) {
      this.table.remove(leaving)
      const merged = [...succs, ...this.table.successors].filter((n) => !sameNode(n, leaving))
      const first = merged[0]
      this.table.setSuccessors(
        first === undefined ? [] : mergeSuccessors(this.self, first, merged.slice(1), this.lookupContext.successorListSize, this.successorEndpoints),
      )
    } else {
      this.table.remove(leaving)
    }
  }

  /** A snapshot of the routing state, for status output. */
  info (): { self: NodeRef, predecessor: NodeRef | undefined, successors: readonly NodeRef[], fingers: ReadonlyArray<{ index: number, node: NodeRef }> } {
    return { self: this.self, predecessor: this.table.predecessor, successors: this.table.successors, fingers: this.table.fingers.fingers }
  }
}
