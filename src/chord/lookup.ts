import {
  LookupFailedError, betweenHex, closerTo, shortHex, toHex, isUnreachable, throwIfAborted, type AbortOptions, type Key, type Logger,
} from '../core/index.js'
import type { ChordClient } from './chord-client.js'
import { describeNode, sameNode, type NodeRef } from './node-ref.js'
import type { NextHop, RoutingTable } from './routing-table.js'

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
}

export interface LookupContext {
  readonly table: RoutingTable
  readonly client: ChordClient
  readonly maxHops: number
  readonly successorListSize: number
  readonly log: Logger
}

/**
 * Iterative lookup: ask the closest known predecessor of the key for a closer one, until some
 * node's successor list covers the key. Each reply brings several candidates, so a node that
 * dies mid-lookup is skipped (and dropped from the tables) and the next best one is asked.
 */
export async function iterativeLookup (ctx: LookupContext, key: Key, start: NextHop, options: LookupOptions = {}): Promise<LookupResult> {
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
    const c = candidates.shift()
    if (c === undefined || hops >= ctx.maxHops) {
      throw new LookupFailedError(`lookup of ${shortHex(key)} failed after ${hops} hops`, { cause: lastError })
    }
    hops++
    let reply: NextHop
    try {
      reply = await ctx.client.next(c, key, 3, options, succsWanted)
    } catch (err) {
      throwIfAborted(options.signal)
      lastError = err
      failed.add(c.hex)
      if (isUnreachable(err)) ctx.table.remove(c)
      ctx.log.trace('lookup: %s failed: %s', describeNode(c), (err as Error).message)
      continue
    }
    path.push(c)
    if (reply.done && reply.nodes.length > 0) return finish(ctx, key, reply.nodes, path, hops, options)
    if (lastLive === undefined || betweenHex(c.hex, lastLive.hex, keyHex)) {
      lastLive = c
      expanded = false
    }
    consider(reply.nodes, c)
  }
}

async function finish (ctx: LookupContext, key: Key, nodes: readonly NodeRef[], path: NodeRef[], hops: number, options: LookupOptions): Promise<LookupResult> {
  const successor = nodes[0] as NodeRef
  let successors = nodes
  const want = Math.min(options.minSuccessors ?? 1, ctx.successorListSize)
  if (successors.length < want) {
    if (sameNode(successor, ctx.table.self)) {
      successors = [successor, ...ctx.table.successors]
    } else {
      try {
        const state = await ctx.client.state(successor, options)
        successors = [successor, ...state.succs.filter((n) => !sameNode(n, successor))].slice(0, ctx.successorListSize)
      } catch (err) {
        throwIfAborted(options.signal)
        ctx.log.trace('lookup: successor list of %s unavailable: %s', describeNode(successor), (err as Error).message)
      }
    }
  }
  return { key, successor, successors, path, hops }
}
