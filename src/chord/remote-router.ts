import { NO_METRICS, betweenHex, closerTo, createLogger, toHex, type ComponentLogger, type Key, type Metrics } from '../core/index.js'
import type { Transport } from '../net/index.js'
import { ChordClient } from './chord-client.js'
import { DEFAULT_MAX_LOOKUP_HOPS, SilentNodes, iterativeLookup, lookupMetrics, type LookupContext, type LookupOptions, type LookupResult } from './lookup.js'
import { makeNodeRef, type NodeRef } from './node-ref.js'
import { RoutingTable } from './routing-table.js'
import { DEFAULT_SUCCESSOR_LIST_SIZE } from './successor-list.js'

/** Deadline of one RPC of a client outside the ring. */
export const DEFAULT_REMOTE_RPC_TIMEOUT_MS = 5_000
/** How long a lookup waits for a bootstrap endpoint to say which vnodes it hosts (chord.vnodes). */
export const SEED_ASK_MS = 1_000
/** How often a bootstrap endpoint that did not say is asked again. */
export const SEED_RETRY_MS = 30_000
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
  private readonly bootstrap: readonly string[]
  /** The vnodes each bootstrap endpoint said it hosts (chord.vnodes), by the address given. */
  private readonly seedsAt = new Map<string, NodeRef[]>()
  /** When each bootstrap endpoint was last asked. */
  private readonly askedAt = new Map<string, number>()
  /** The first asking, which the first lookups wait for. */
  private firstAsk: Promise<void> | undefined
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
    this.bootstrap = init.bootstrap
    this.maxKnown = init.maxKnown ?? DEFAULT_MAX_KNOWN
  }

  async lookup (key: Key, options: LookupOptions = {}): Promise<LookupResult> {
    const keyHex = toHex(key)
    const closer = closerTo(keyHex)
    const preceding = [...this.known.values()].filter((n) => n.hex !== keyHex && betweenHex(n.hex, keyHex, keyHex))
      .sort((a, b) => closer(a.hex, b.hex)).slice(0, 3)
    const seeds = await this.seeds(options)
    const r = await iterativeLookup(this.ctx, key, { done: false, nodes: [...preceding, ...seeds] }, options)
    for (const n of [...r.path, ...r.successors]) this.learn(n)
    return r
  }

  /**
   * The bootstrap endpoints' vnodes as the ring knows them: an operator may name a node by an
   * address it does not advertise (127.0.0.1 on its own machine), from which its id cannot be
   * derived. The first lookups wait for the answers, at most SEED_ASK_MS; an endpoint that did
   * not say (silent, unreachable, or older than chord.vnodes) stands in as its address's vnode
   * 0 and is asked again in the background, at most every SEED_RETRY_MS.
   */
  private async seeds (options: LookupOptions): Promise<NodeRef[]> {
    await (this.firstAsk ??= this.ask(this.bootstrap, options))
    const now = performance.now()
    const again = this.bootstrap.filter((a) => !this.seedsAt.has(a) && now - (this.askedAt.get(a) ?? 0) >= SEED_RETRY_MS)
    if (again.length > 0) void this.ask(again, {})
    return this.bootstrap.flatMap((a) => this.seedsAt.get(a) ?? [makeNodeRef(a, 0)])
  }

  private async ask (addresses: readonly string[], options: LookupOptions): Promise<void> {
    await Promise.all(addresses.map(async (a) => {
      this.askedAt.set(a, performance.now())
      const refs = await this.ctx.client.vnodes(a, options, SEED_ASK_MS).catch(() => undefined)
      if (refs !== undefined) this.seedsAt.set(a, refs)
    }))
  }

  private learn (n: NodeRef): void {
    this.known.delete(n.hex)
    this.known.set(n.hex, n)
    if (this.known.size > this.maxKnown) this.known.delete(this.known.keys().next().value as string)
  }
}
