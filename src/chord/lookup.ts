import {
  ForbiddenError, LookupFailedError, isCfsError, betweenHex, closerTo, deadline, hedged, secondsSince, shortHex, toHex, isUnreachable, throwIfAborted,
  type AbortOptions, type Counter, type Histogram, type Key, type Logger, type Metrics,
} from '../core/index.js'
import type { ChordClient } from './chord-client.js'
import { DEFAULT_NEXT_COUNT } from './messages.js'
import { describeNode, sameNode, type NodeRef } from './node-ref.js'
import type { NextHop, RoutingTable } from './routing-table.js'
import { MAX_SUCCESSORS, endpointCount } from './successor-list.js'

/** The answer to a lookup. */
export interface LookupResult {
  readonly key: Key
  /** The key's successor: the node responsible for it. */
  readonly successor: NodeRef
  /** The successor followed by its successors (replica candidates), successor first. */
  readonly successors: readonly NodeRef[]
  /** Nodes contacted, in order (the block layer caches along this path). */
  readonly path: readonly NodeRef[]
  /** Routing RPCs sent (0 when this node's own tables answered). */
  readonly hops: number
}

export interface LookupOptions extends AbortOptions {
  /** Fetch the successor's list when fewer than this many successors came back. @default 1 */
  minSuccessors?: number
  /**
   * At most this many successors are wanted: the answering node sends no more (chord.next
   * `succs`), which keeps replies small for callers that need only the successor, such as
   * finger rebuilds. @default every successor the answering node knows
   */
  maxSuccessors?: number
  /**
   * Walk on along successor lists until the successors name this many distinct endpoints
   * (addresses): with virtual nodes, several successors in a row may be one process, and the
   * block layer wants k distinct ones. Stops when the ring has been walked round. @default 0
   */
  minEndpoints?: number
  /**
   * Check the answer with the successor itself, as it would check a key sent to it: while the
   * successor's predecessor lies between the key and it, that predecessor is the better answer
   * (walking back along predecessor pointers, which notify sets as soon as a node joins).
   * Costs one chord.state more. For a caller that was just told NOT_RESPONSIBLE: while a ring
   * forms, a node's successor pointer can skip nodes that joined behind it for a few rounds,
   * and a fresh lookup would then give the same wrong answer. @default false
   */
  verify?: boolean
}

/** Routing RPCs a lookup may send before giving up, unless told otherwise. */
export const DEFAULT_MAX_LOOKUP_HOPS = 64
/**
 * A hop that has not answered in this long has the next candidate asked alongside it (at most
 * LOOKUP_HEDGE_WIDTH at once): a silent node costs this, not an RPC deadline, and is dropped
 * from the tables once its deadline passes.
 */
export const LOOKUP_HEDGE_MS = 500
export const LOOKUP_HEDGE_WIDTH = 3
/**
 * The successor lists a lookup fetches at its end (to verify the answer, or for more distinct
 * endpoints) are extras: one not given within this long is done without.
 */
export const LOOKUP_FINISH_STATE_MS = 2 * LOOKUP_HEDGE_MS

export interface LookupContext {
  readonly table: RoutingTable
  readonly client: ChordClient
  readonly maxHops: number
  readonly successorListSize: number
  readonly log: Logger
  readonly metrics: LookupMetrics
  /** Nodes that went silent in a lookup: asked last, and not waited on, until they answer again. */
  readonly silent?: SilentNodes
}

/** How long a node that went silent in a lookup is asked last, unless it answers first. */
export const SILENT_NODE_MS = 30_000

/**
 * Nodes that did not answer a lookup within its hedge delay. A silent node is dropped from the
 * tables only when its RPC deadline passes; until then this keeps later lookups from starting
 * at it, or waiting on it for a successor list.
 */
export class SilentNodes {
  private readonly until = new Map<string, number>()
  constructor (private readonly now: () => number = Date.now) {}
  mark (n: NodeRef): void { this.until.set(n.hex, this.now() + SILENT_NODE_MS) }
  clear (n: NodeRef): void { this.until.delete(n.hex) }
  has (n: NodeRef): boolean {
    const t = this.until.get(n.hex)
    if (t === undefined) return false
    if (t > this.now()) return true
    this.until.delete(n.hex)
    return false
  }
}

/** What every lookup of a node (or of a client outside the ring) counts. */
export interface LookupMetrics {
  readonly ok: Counter
  readonly failed: Counter
  readonly hops: Histogram
  readonly seconds: Histogram
}

/** Buckets of the routing RPCs one lookup sent. */
export const LOOKUP_HOPS_BUCKETS: readonly number[] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 16, 24, 32, 64]

/** The lookup instruments (every vnode of an endpoint shares them). */
export function lookupMetrics (metrics: Metrics): LookupMetrics {
  const lookups = metrics.counter({ name: 'cfs_chord_lookups_total', help: 'Iterative lookups ended, by outcome (ok, failed); aborted ones are not counted', labelNames: ['outcome'] })
  return {
    ok: lookups.labels('ok'),
    failed: lookups.labels('failed'),
    hops: metrics.histogram({ name: 'cfs_chord_lookup_hops', help: 'Routing RPCs (chord.next) a successful lookup sent; 0 when the own tables answered', buckets: LOOKUP_HOPS_BUCKETS }),
    seconds: metrics.histogram({ name: 'cfs_chord_lookup_duration_seconds', help: 'Duration of successful lookups' }),
  }
}

/**
 * Iterative lookup: ask the closest known predecessor of the key for a closer one, until some
 * node's successor list covers the key. Each reply brings several candidates, so a node that
 * dies mid-lookup is skipped (and dropped from the tables) and the next best one is asked.
 */
export async function iterativeLookup (ctx: LookupContext, key: Key, start: NextHop, options: LookupOptions = {}): Promise<LookupResult> {
  const started = performance.now()
  try {
    const r = await walk(ctx, key, start, options)
    ctx.metrics.ok.inc()
    ctx.metrics.hops.observe(r.hops)
    ctx.metrics.seconds.observe(secondsSince(started))
    return r
  } catch (err) {
    if (options.signal?.aborted !== true) ctx.metrics.failed.inc()
    throw err
  }
}

async function walk (ctx: LookupContext, key: Key, start: NextHop, options: LookupOptions): Promise<LookupResult> {
  const self = ctx.table.self
  if (start.done) return finish(ctx, key, start.nodes, [], 0, options)
  const candidates: NodeRef[] = [] // closest to the key first
  const keyHex = toHex(key)
  const closer = closerTo(keyHex)
  const seen = new Set<string>([self.hex]) // candidates, and every node queried already
  const succsWanted = options.maxSuccessors === undefined ? undefined : Math.max(options.maxSuccessors, options.minSuccessors ?? 1)
  const consider = (nodes: readonly NodeRef[], after: NodeRef | undefined): void => {
    for (const n of nodes) {
      if (seen.has(n.hex)) continue
      if (after !== undefined && !betweenHex(n.hex, after.hex, keyHex)) continue
      seen.add(n.hex)
      // Sorted insert: the list is kept in order, so one binary search replaces a full sort.
      let lo = 0
      let hi = candidates.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (closer((candidates[mid] as NodeRef).hex, n.hex) < 0) lo = mid + 1
        else hi = mid
      }
      candidates.splice(lo, 0, n)
    }
  }
  consider(start.nodes, undefined)
  const path: NodeRef[] = []
  const failed = new Set<string>()
  let lastLive: NodeRef | undefined // the answering node closest to the key
  let expanded = false
  let hops = 0
  let lastError: unknown
  /** A refusal is the answer to give when nothing else answered: a private ring without its secret. */
  let refusal: Error | undefined
  while (true) {
    throwIfAborted(options.signal)
    const best = candidates[0]
    const stuck = lastLive !== undefined && (best === undefined || !betweenHex(best.hex, lastLive.hex, keyHex))
    if (stuck && lastLive !== undefined && !expanded) {
      // Every node closer to the key than the last one that answered has failed: route around
      // them through that node's successor list (Chord's fallback), skipping those seen to fail.
      expanded = true
      try {
        const state = await ctx.client.state(lastLive, options)
        const alive = state.succs.filter((n) => !failed.has(n.hex) && !sameNode(n, self))
        let prev = lastLive
        for (let j = 0; j < alive.length; j++) {
          const s = alive[j] as NodeRef
          if (betweenHex(keyHex, prev.hex, s.hex, true)) return await finish(ctx, key, alive.slice(j), path, hops, options)
          prev = s
        }
        consider(alive, lastLive)
      } catch (err) {
        throwIfAborted(options.signal)
        lastError = err
      }
    }
    // The closest candidate that has not gone silent lately (a silent one only when none is left).
    const pick = candidates.findIndex((n) => ctx.silent?.has(n) !== true)
    const c = candidates.splice(pick >= 0 ? pick : 0, 1)[0]
    if (c === undefined || hops >= ctx.maxHops) {
      if (refusal !== undefined && lastLive === undefined) throw new ForbiddenError(`lookup of ${shortHex(key)}: ${refusal.message}`, { cause: refusal })
      throw new LookupFailedError(`lookup of ${shortHex(key)} failed after ${hops} hops`, { cause: lastError })
    }
    // The closest candidate, and the next ones alongside it while it is silent.
    const ask = async (n: NodeRef): Promise<{ node: NodeRef, reply: NextHop }> => {
      hops++
      try {
        const reply = await ctx.client.next(n, key, DEFAULT_NEXT_COUNT, options, succsWanted)
        ctx.silent?.clear(n)
        return { node: n, reply }
      } catch (err) {
        failed.add(n.hex)
        if (isUnreachable(err)) ctx.table.remove(n)
        if (isCfsError(err, 'FORBIDDEN')) refusal = err
        ctx.log.trace('lookup: %s failed: %s', describeNode(n), (err as Error).message)
        throw err
      }
    }
    // With no candidate left to ask alongside a silent one, the last node that answered is
    // asked for its successor list instead: if the key falls among its successors, that is the
    // answer (the silent node may be one of them; the holders after it are named too).
    const fallback = lastLive !== undefined && !expanded ? lastLive : undefined
    const expandFrom = async (live: NodeRef): Promise<{ node: NodeRef, reply: NextHop }> => {
      expanded = true
      const state = await ctx.client.state(live, options)
      const succs = state.succs.filter((n) => !failed.has(n.hex) && !sameNode(n, self))
      let prev = live
      for (let j = 0; j < succs.length; j++) {
        const n = succs[j] as NodeRef
        if (betweenHex(keyHex, prev.hex, n.hex, true)) return { node: live, reply: { done: true, nodes: succs.slice(j) } }
        prev = n
      }
      throw new LookupFailedError(`the successors of ${describeNode(live)} do not reach ${shortHex(key)}`)
    }
    let answered: { node: NodeRef, reply: NextHop }
    const asked: NodeRef[] = []
    try {
      answered = await hedged(Math.min(LOOKUP_HEDGE_WIDTH, 1 + candidates.length + (fallback === undefined ? 0 : 1)), async (i) => {
        const n = i === 0 ? c : candidates.shift()
        if (n === undefined) {
          if (fallback !== undefined) return expandFrom(fallback)
          throw new LookupFailedError('no candidate left')
        }
        asked[i] = n
        return ask(n)
      }, () => LOOKUP_HEDGE_MS, (i) => {
        const n = asked[i]
        if (n !== undefined) ctx.silent?.mark(n)
      })
    } catch (err) {
      throwIfAborted(options.signal)
      lastError = err
      continue
    }
    const { node: c2, reply } = answered
    if (path.at(-1) !== c2) path.push(c2)
    if (reply.done && reply.nodes.length > 0) return finish(ctx, key, reply.nodes, path, hops, options)
    if (lastLive === undefined || betweenHex(c2.hex, lastLive.hex, keyHex)) {
      lastLive = c2
      expanded = false
    }
    consider(reply.nodes, c2)
  }
}

/** chord.state calls `finish` may spend walking successor lists for endpoints, or predecessors to verify. */
const MAX_FINISH_STEPS = 16

async function finish (ctx: LookupContext, key: Key, nodes: readonly NodeRef[], path: NodeRef[], hops: number, options: LookupOptions): Promise<LookupResult> {
  let successor = nodes[0] as NodeRef
  let successors = nodes
  const wantNodes = Math.min(options.minSuccessors ?? 1, ctx.successorListSize)
  const wantEndpoints = options.minEndpoints ?? 0
  const stateOf = async (n: NodeRef): Promise<{ pred: NodeRef | undefined, succs: readonly NodeRef[] }> => {
    if (sameNode(n, ctx.table.self)) return { pred: ctx.table.predecessor, succs: ctx.table.successors }
    if (ctx.silent?.has(n) === true) throw new LookupFailedError(`${describeNode(n)} went silent lately`)
    const bounded = deadline([options.signal], LOOKUP_FINISH_STATE_MS)
    try {
      const st = await ctx.client.state(n, { signal: bounded.signal })
      ctx.silent?.clear(n)
      return st
    } catch (err) {
      if (bounded.signal.aborted && options.signal?.aborted !== true) ctx.silent?.mark(n)
      throw err
    } finally {
      bounded.dispose()
    }
  }
  let fresh = false // successors is the successor's own list
  if (options.verify === true) {
    const keyHex = toHex(key)
    for (let step = 0; step < MAX_FINISH_STEPS; step++) {
      let st
      try {
        st = await stateOf(successor)
      } catch (err) {
        throwIfAborted(options.signal)
        ctx.log.trace('lookup: could not verify %s: %s', describeNode(successor), (err as Error).message)
        break
      }
      // The check the successor applies to a key sent to it (RoutingTable.isResponsible, or
      // an unknown predecessor): it takes the key, or its predecessor is closer to the key.
      const pred = st.pred
      if (pred === undefined || sameNode(pred, successor) || betweenHex(keyHex, pred.hex, successor.hex, true)) {
        successors = [successor, ...st.succs.filter((n) => !sameNode(n, successor))]
        fresh = true
        break
      }
      ctx.log.trace('lookup: %s is preceded by %s, which is closer to %s', describeNode(successor), describeNode(pred), shortHex(key))
      successor = pred
      successors = [pred]
    }
  }
  const enough = (): boolean => successors.length >= wantNodes && endpointCount(successors) >= wantEndpoints
  for (let step = 0; !enough() && step < MAX_FINISH_STEPS && successors.length < MAX_SUCCESSORS; step++) {
    // First the successor's own list (fresher than the answering node's copy of it), then on
    // from the last node known, for endpoints.
    const from = fresh ? successors.at(-1) as NodeRef : successor
    let more: readonly NodeRef[]
    try {
      more = (await stateOf(from)).succs
    } catch (err) {
      throwIfAborted(options.signal)
      ctx.log.trace('lookup: successor list of %s unavailable: %s', describeNode(from), (err as Error).message)
      // The node that gave the answer knows the nodes after a silent successor too (its own
      // successor list, which starts there): without them a silent successor would be the
      // only holder a reader tries.
      const answerer = path.at(-1)
      if (fresh || answerer === undefined || sameNode(answerer, from)) break
      try {
        // Its list runs from its successor on, and then the ring comes back round to it.
        const succs = (await stateOf(answerer)).succs
        const at = succs.findIndex((n) => sameNode(n, successor))
        more = [...(at >= 0 ? succs.slice(at + 1) : succs.filter((n) => betweenHex(n.hex, successor.hex, answerer.hex))), answerer]
      } catch (err2) {
        throwIfAborted(options.signal)
        ctx.log.trace('lookup: successor list of %s unavailable: %s', describeNode(answerer), (err2 as Error).message)
        break
      }
    }
    const before = fresh ? successors.length : 0
    successors = appendSuccessors(fresh ? successors : [successor], more)
    fresh = true
    // Walked round the ring: nothing new, or a list cut short where it came back round to its
    // owner (mergeSuccessors), so a node further on knows no more.
    if (successors.length <= before || more.length < ctx.successorListSize) break
  }
  if (successors.length > ctx.successorListSize) successors = successors.slice(0, Math.max(ctx.successorListSize, endpointPrefix(successors, wantEndpoints)))
  return { key, successor, successors, path, hops }
}

/** `list` followed by the nodes of `more` not in it yet, up to where `more` comes back round to the list's start. */
function appendSuccessors (list: readonly NodeRef[], more: readonly NodeRef[]): NodeRef[] {
  const out = [...list]
  const seen = new Set(out.map((n) => n.hex))
  const start = out[0]
  for (const n of more) {
    if (out.length >= MAX_SUCCESSORS || sameNode(n, start)) break
    if (seen.has(n.hex)) continue
    seen.add(n.hex)
    out.push(n)
  }
  return out
}

/** Length of the shortest prefix of `nodes` naming `endpoints` distinct addresses (all of them if none is). */
function endpointPrefix (nodes: readonly NodeRef[], endpoints: number): number {
  const seen = new Set<string>()
  for (let i = 0; i < nodes.length; i++) {
    seen.add((nodes[i] as NodeRef).address)
    if (seen.size >= endpoints) return i + 1
  }
  return nodes.length
}
