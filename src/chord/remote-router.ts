import { NO_METRICS, betweenHex, closerTo, createLogger, toHex, type ComponentLogger, type Key, type Metrics } from '../core/index.js'
import type { Transport } from '../net/index.js'
import { ChordClient } from './chord-client.js'
import { DEFAULT_MAX_LOOKUP_HOPS, SilentNodes, iterativeLookup, lookupMetrics, type LookupContext, type LookupOptions, type LookupResult } from './lookup.js'
import { makeNodeRef, type NodeRef } from './node-ref.js'
import { RoutingTable } from './routing-table.js'
import { DEFAULT_SUCCESSOR_LIST_SIZE } from './successor-list.js'

/** Deadline of one RPC of a client outside the ring. */
export const DEFAULT_REMOTE_RPC_TIMEOUT_MS = 5_000
/** Ring members a remote router remembers. */
export const DEFAULT_MAX_KNOWN = 1024

export interface RemoteRouterInit {
  /** Addresses ("host:port") of ring members to start lookups at; their vnode 0 is asked. */
  bootstrap: readonly string[]
  /** Deadline of one Chord RPC in milliseconds. @default DEFAULT_REMOTE_RPC_TIMEOUT_MS */
  rpcTimeoutMs?: number
  /** @default DEFAULT_SUCCESSOR_LIST_SIZE (successor-list.ts) */
  successorListSize?: number
  /** Ring members remembered to start later lookups closer to their keys. @default DEFAULT_MAX_KNOWN */
  maxKnown?: number
}

/**
 * Lookups for a client that is not a ring member (a CLI, a mount using --ring, a benchmark):
 * iterative lookups over the same RPCs, started at the closest member it has heard of.
 */
export class RemoteRouter {
  private readonly ctx: LookupContext
  private readonly known = new Map<string, NodeRef>()
  private readonly bootstrap: NodeRef[]
  private readonly maxKnown: number

  constructor (components: { transport: Transport, logger?: ComponentLogger, metrics?: Metrics }, init: RemoteRouterInit) {
    if (init.bootstrap.length === 0) throw new RangeError('a remote router needs at least one ring member')
    const logger = components.logger ?? createLogger()
    // The client's own id is outside the ring; it only keeps lookups from routing to itself.
    const table = new RoutingTable(makeNodeRef(`client.${process.pid}.invalid:0`, 0))
    // A member that failed during a lookup is forgotten, so later lookups do not wait on it.
    const remove = table.remove.bind(table)
    table.remove = (n: NodeRef) => { this.known.delete(n.hex); remove(n) }
    this.ctx = {
      table,
      client: new ChordClient(components.transport, init.rpcTimeoutMs ?? DEFAULT_REMOTE_RPC_TIMEOUT_MS),
      maxHops: DEFAULT_MAX_LOOKUP_HOPS,
      silent: new SilentNodes(),
      successorListSize: init.successorListSize ?? DEFAULT_SUCCESSOR_LIST_SIZE,
      log: logger.forComponent('chord:remote'),
      metrics: lookupMetrics(components.metrics ?? NO_METRICS),
    }
    this.bootstrap = init.bootstrap.map((a) => makeNodeRef(a, 0))
    this.maxKnown = init.maxKnown ?? DEFAULT_MAX_KNOWN
  }

  async lookup (key: Key, options: LookupOptions = {}): Promise<LookupResult> {
    const keyHex = toHex(key)
    const closer = closerTo(keyHex)
    const preceding = [...this.known.values()].filter((n) => n.hex !== keyHex && betweenHex(n.hex, keyHex, keyHex))
      .sort((a, b) => closer(a.hex, b.hex)).slice(0, 3)
    const r = await iterativeLookup(this.ctx, key, { done: false, nodes: [...preceding, ...this.bootstrap] }, options)
    for (const n of [...r.path, ...r.successors]) this.learn(n)
    return r
  }

  private learn (n: NodeRef): void {
    this.known.delete(n.hex)
    this.known.set(n.hex, n)
    if (this.known.size > this.maxKnown) this.known.delete(this.known.keys().next().value as string)
  }
}
