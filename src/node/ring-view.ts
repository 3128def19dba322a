import pLimit from 'p-limit'
import { Listeners, PeriodicTask, createLogger, isCfsError, throwIfAborted, type AbortOptions, type ComponentLogger, type Logger, type Startable } from '../core/index.js'
import type { RequestOptions } from '../net/index.js'
import { buildSnapshot, namedPeers, observe, type KnownNode, type RingSnapshot } from './ring-snapshot.js'
import type { NodeStatus } from './status.js'

/** Milliseconds between rounds of the ring view (a node runs it with the stabilization interval). */
export const DEFAULT_RING_VIEW_INTERVAL_MS = 1_000
/** Endpoints asked for their status per round at most. */
export const DEFAULT_RING_VIEW_MAX_ENDPOINTS = 64
/** Status probes in flight at once. */
export const DEFAULT_RING_VIEW_CONCURRENCY = 8
/** Deadline of one status probe: a node that has not answered by then counts as failed. */
export const DEFAULT_RING_PROBE_TIMEOUT_MS = 2_000
/** A failed node is forgotten this long after it last answered. */
export const DEFAULT_FORGET_FAILED_MS = 5 * 60_000

export interface RingViewComponents {
  /** One node's status (the node.status method; a node answers for itself without an RPC). */
  status: (address: string, options: RequestOptions) => Promise<NodeStatus>
  /** Where each round's walk starts: the node running the view, or the node `cfs status` asks. */
  seeds: () => readonly string[]
  /** @default Date.now */
  now?: () => number
  logger?: ComponentLogger
}

export interface RingViewInit {
  /** Milliseconds between rounds; 0 = no timer (callers run refreshOnce). @default DEFAULT_RING_VIEW_INTERVAL_MS */
  intervalMs?: number
  /** Endpoints asked per round at most. @default DEFAULT_RING_VIEW_MAX_ENDPOINTS */
  maxEndpoints?: number
  /** Probes in flight at once. @default DEFAULT_RING_VIEW_CONCURRENCY */
  concurrency?: number
  /** Deadline of one probe. @default DEFAULT_RING_PROBE_TIMEOUT_MS */
  probeTimeoutMs?: number
  /** How long a failed node stays listed after it last answered. @default DEFAULT_FORGET_FAILED_MS */
  forgetFailedMs?: number
}

/**
 * A node's view of the ring, for the dashboard and `cfs status`. Each round walks the ring from
 * the seeds: it asks each endpoint for its status (node.status) and goes on to every endpoint
 * that status names (predecessors, successors, then fingers), breadth first, at most
 * `maxEndpoints` per round, `concurrency` at a time; nodes remembered from earlier rounds are
 * asked again. A node that does not answer within `probeTimeoutMs` (a killed process on the
 * same host refuses the connection at once) is failed from that round on, shown with the time
 * it last answered, and forgotten after `forgetFailedMs`. So a node is shown failed at most
 * intervalMs + probeTimeoutMs after it stops answering. Listeners hear of each snapshot that
 * differs from the previous one in anything but its time.
 */
export class RingView implements Startable {
  private readonly log: Logger
  private readonly now: () => number
  private readonly task: PeriodicTask
  private readonly init: Required<Omit<RingViewInit, 'intervalMs'>>
  private readonly changed = new Listeners<[RingSnapshot]>()
  private known = new Map<string, KnownNode>()
  private last: { snapshot: RingSnapshot, key: string } | undefined

  constructor (private readonly components: RingViewComponents, init: RingViewInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('node:ring-view')
    this.now = components.now ?? Date.now
    this.init = {
      maxEndpoints: init.maxEndpoints ?? DEFAULT_RING_VIEW_MAX_ENDPOINTS,
      concurrency: init.concurrency ?? DEFAULT_RING_VIEW_CONCURRENCY,
      probeTimeoutMs: init.probeTimeoutMs ?? DEFAULT_RING_PROBE_TIMEOUT_MS,
      forgetFailedMs: init.forgetFailedMs ?? DEFAULT_FORGET_FAILED_MS,
    }
    this.task = new PeriodicTask({ round: async (o) => this.refreshOnce(o), log: this.log }, { name: 'ring-view', intervalMs: init.intervalMs ?? DEFAULT_RING_VIEW_INTERVAL_MS })
  }

  async start (): Promise<void> { this.task.start() }

  async stop (): Promise<void> { await this.task.stop() }

  /** The latest snapshot; undefined before the first round. */
  snapshot (): RingSnapshot | undefined { return this.last?.snapshot }

  /** Upcall with each snapshot that changed; returns unsubscribe. */
  onChange (listener: (snapshot: RingSnapshot) => void): () => void { return this.changed.add(listener) }

  /** One round: walk the ring, update what is known, build the snapshot (and tell listeners if it changed). */
  async refreshOnce (options: AbortOptions = {}): Promise<RingSnapshot> {
    const answered = new Map<string, NodeStatus>()
    const unreachable = new Set<string>()
    const asked = new Set<string>()
    const limit = pLimit(this.init.concurrency)
    const pending: Array<Promise<void>> = []
    const aborted = (): boolean => options.signal?.aborted === true
    const visit = (address: string): void => {
      if (address === '' || asked.has(address) || asked.size >= this.init.maxEndpoints) return
      asked.add(address)
      // Never rejects: a probe that fails marks the node, so no probe is left unawaited.
      pending.push(limit(async () => {
        if (aborted()) return
        try {
          const status = await this.components.status(address, { signal: options.signal, timeoutMs: this.init.probeTimeoutMs })
          answered.set(address, status)
          for (const p of namedPeers(status)) visit(p.address)
        } catch (err) {
          if (aborted()) return
          if (!isCfsError(err)) this.log.error('status of %s: %s', address, err)
          unreachable.add(address)
        }
      }))
    }
    const seeds = this.components.seeds()
    for (const a of seeds) visit(a)
    // Remembered nodes too, live ones first: a failed node soon drops out of its neighbours'
    // lists, so the walk alone would not ask it again (nor notice it coming back).
    const remembered = [...this.known].sort(([, a], [, b]) => Number(a.failedSince !== null) - Number(b.failedSince !== null))
    for (const [a] of remembered) visit(a)
    // `pending` grows while it is awaited: each probe queues the peers it learns of.
    for (let i = 0; i < pending.length; i++) await pending[i]
    throwIfAborted(options.signal)
    const now = this.now()
    this.known = observe(this.known, { answered, unreachable }, now, this.init.forgetFailedMs)
    const snapshot = buildSnapshot(this.known, seeds[0] ?? '', now)
    const key = JSON.stringify({ ...snapshot, at: 0 })
    if (key !== this.last?.key) {
      this.last = { snapshot, key }
      this.changed.emit(snapshot)
    } else {
      this.last = { snapshot, key }
    }
    return snapshot
  }
}
