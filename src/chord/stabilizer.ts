/*
 * DEV DOCS: ring maintenance.
 *
 * Chord's correctness rests on successor pointers; fingers only make lookups fast. Three rounds,
 * each a public ...Once() method so tests drive them without timers:
 *
 * - stabilizeOnce: find the first successor that answers (dropping dead ones), ask it for its
 *   predecessor x; if x sits between us and it, x is our better successor. Adopt that node's
 *   successor list behind it (mergeSuccessors), then notify it that we may be its predecessor.
 *   A node that has lost every successor falls back to its predecessor and fingers to rejoin.
 * - checkPredecessorOnce: ask the predecessor for its state (chord.state, no successors); if it
 *   is gone, forget it so the next notify from the true predecessor is accepted. Its answer
 *   carries its predecessor list, which behind it becomes ours: the nodes that send us
 *   replicas, whose identities the block layer lets in (Router.knowsPeer). Then probe one node that failed earlier
 *   (probeFailedOnce): if it is back, look ourselves up through it and adopt a closer
 *   successor. This is what merges two rings after a partition heals.
 * - fixFingersOnce: recompute every distinct finger. Starts covered by the successor list are
 *   read from it. Each remaining distinct finger (about log2(N) - log2(r)) is first taken from
 *   the predecessor's fingers (chord.fingers) and checked with one RPC; a hint that does not
 *   check out costs a full lookup, as every finger did before hints.
 *
 * Failure detection is by RPC failure (refused, reset, timed out): the node is dropped from
 * every table on the spot (RoutingTable.remove) and stabilization re-learns live ones.
 */
import {
  KEY_BITS, addPowerOfTwo, betweenHex, isUnreachable, throwIfAborted, toHex, type AbortOptions, type Key, type Logger,
} from '../core/index.js'
import type { ChordClient, RemoteState } from './chord-client.js'
import type { Finger } from './finger-table.js'
import type { LookupOptions, LookupResult } from './lookup.js'
import { describeNode, sameNode, type NodeRef } from './node-ref.js'
import type { RoutingTable } from './routing-table.js'
import { MAX_SUCCESSORS, mergeSuccessors } from './successor-list.js'

export interface StabilizerContext {
  readonly table: RoutingTable
  readonly client: ChordClient
  readonly successorListSize: number
  /** Distinct endpoints the successor list reaches (mergeSuccessors); the predecessor list reaches as many. */
  readonly successorEndpoints: number
  readonly log: Logger
  readonly lookup: (key: Key, options?: LookupOptions) => Promise<LookupResult>
  /** Lookup that starts at a given node rather than at our own tables (used to rejoin). */
  readonly lookupVia: (start: NodeRef, key: Key, options?: LookupOptions) => Promise<LookupResult>
}

/** A neighbour's fingers, as it reported them: hints, not facts. */
interface FingerHints { readonly pred: NodeRef, readonly fingers: readonly NodeRef[] }

export class Stabilizer {
  constructor (private readonly ctx: StabilizerContext) {}

  async stabilizeOnce (options: AbortOptions = {}): Promise<void> {
    const { table, client, log } = this.ctx
    const self = table.self
    let found = await this.firstLiveSuccessor(options)
    if (found === undefined) found = await this.recoverSuccessor(options)
    if (found === undefined) return // alone on the ring
    let { node: succ, state } = found
    // A successor first known by its address alone (a --join) is pinned from its own record.
    if (succ.key === undefined && state.self.key !== undefined) succ = state.self
    const x = state.pred
    if (x !== undefined && !sameNode(x, self) && betweenHex(x.hex, self.hex, succ.hex)) {
      try {
        state = await client.state(x, options)
        succ = x
      } catch (err) {
        throwIfAborted(options.signal)
        log('stabilize: candidate successor %s unreachable: %s', describeNode(x), (err as Error).message)
      }
    }
    table.setSuccessors(mergeSuccessors(self, succ, state.succs, this.ctx.successorListSize, this.ctx.successorEndpoints))
    try {
      await client.notify(succ, self, options)
    } catch (err) {
      throwIfAborted(options.signal)
      log('stabilize: notify of %s failed: %s', describeNode(succ), (err as Error).message)
      if (isUnreachable(err)) table.remove(succ)
    }
  }

  async checkPredecessorOnce (options: AbortOptions = {}): Promise<void> {
    const { table, successorEndpoints } = this.ctx
    const pred = table.predecessor
    if (pred !== undefined) {
      try {
        // As a ping (the answer is checked to come from the predecessor's id), plus its list.
        const state = await this.ctx.client.state(pred, options, 0, MAX_SUCCESSORS)
        table.setPredecessors(mergeSuccessors(table.self, pred, state.preds, successorEndpoints, successorEndpoints))
      } catch (err) {
        throwIfAborted(options.signal)
        this.ctx.log('predecessor %s failed: %s', describeNode(pred), (err as Error).message)
        this.ctx.table.remove(pred)
      }
    }
    await this.probeFailedOnce(options)
  }

  /**
   * Pings one node that failed earlier. If it answers, look ourselves up through it: after a
   * partition heals, that finds our successor on the other side and the rings merge.
   */
  async probeFailedOnce (options: AbortOptions = {}): Promise<void> {
    const { table, client } = this.ctx
    const node = table.nextFailedToProbe()
    if (node === undefined) return
    try {
      await client.ping(node, options)
    } catch {
      throwIfAborted(options.signal)
      return
    }
    table.revived(node)
    try {
      const r = await this.ctx.lookupVia(node, table.self.id, options)
      const succ = r.successors.find((n) => !sameNode(n, table.self))
      const current = table.successor
      if (succ !== undefined && (current === undefined || betweenHex(succ.hex, table.self.hex, current.hex))) {
        this.ctx.log('%s is back; adopting %s as successor', describeNode(node), describeNode(succ))
        table.setSuccessors(mergeSuccessors(table.self, succ, table.successors, this.ctx.successorListSize, this.ctx.successorEndpoints))
      }
    } catch (err) {
      throwIfAborted(options.signal)
      this.ctx.log.trace('probe via %s failed: %s', describeNode(node), (err as Error).message)
    }
  }

  /**
   * Recomputes every distinct finger. Starts that the successor list covers are read from it.
   * For each other start the predecessor's matching finger is tried first (one RPC to verify
   * it, see verifiedHint); only when that fails does the finger cost a full lookup.
   */
  async fixFingersOnce (options: AbortOptions = {}): Promise<void> {
    const { table } = this.ctx
    const self = table.self
    const hints = await this.predecessorFingers(options)
    const fingers: Finger[] = []
    for (let i = 0; i < KEY_BITS;) {
      const start = table.fingers.start(i)
      const node = table.successors[table.successorIndex(start)] ?? await this.findFinger(i, hints, options)
      if (node === undefined) { i++; continue }
      if (sameNode(node, self)) break // the start wrapped around past us: no further fingers
      fingers.push({ index: i, node })
      i = Math.max(i + 1, table.fingers.firstUncovered(node))
    }
    table.fingers.replaceAll(fingers)
  }

  /**
   * The predecessor's fingers, as hints (Chord paper, SIGCOMM 2001, section 4.4: a node's
   * tables resemble its neighbour's). Unverified: each one is checked before use. Undefined
   * when unavailable.
   */
  private async predecessorFingers (options: AbortOptions): Promise<FingerHints | undefined> {
    const pred = this.ctx.table.predecessor
    if (pred === undefined) return undefined
    try {
      return { pred, fingers: await this.ctx.client.fingers(pred, options) }
    } catch (err) {
      throwIfAborted(options.signal)
      this.ctx.log.trace('fix fingers: no hints from %s: %s', describeNode(pred), (err as Error).message)
      return undefined
    }
  }

  /** The successor of start(i): the predecessor's hint if it checks out, else a lookup. */
  private async findFinger (i: number, hints: FingerHints | undefined, options: AbortOptions): Promise<NodeRef | undefined> {
    const start = this.ctx.table.fingers.start(i)
    const hinted = hints === undefined ? undefined : await this.verifiedHint(i, hints, options)
    if (hinted !== undefined) return hinted
    try {
      return (await this.ctx.lookup(start, { ...options, maxSuccessors: 1 })).successor
    } catch (err) {
      throwIfAborted(options.signal)
      this.ctx.log.trace('fix fingers: lookup of finger %d failed: %s', i, (err as Error).message)
      return undefined
    }
  }

  /**
   * The predecessor p sits just before us, so its finger i, q = successor(p + 2^i), sits at or
   * just before our start s = self + 2^i (nothing lies between p + 2^i and s more often than
   * not). One RPC settles it:
   * - q precedes s: ask q for s (chord.next); q's first successor answers, usually at once.
   * - q is at or past s: q is our finger if its predecessor comes before s (chord.state).
   * Anything else, or any failure, returns undefined and the caller falls back to a lookup.
   */
  private async verifiedHint (i: number, hints: FingerHints, options: AbortOptions): Promise<NodeRef | undefined> {
    const { table, client } = this.ctx
    const self = table.self
    const startHex = table.fingers.startHex(i)
    const theirStartHex = toHex(addPowerOfTwo(hints.pred.id, i))
    // q: the hint closest at or after p + 2^i.
    let q: NodeRef | undefined
    for (const h of hints.fingers) {
      if (sameNode(h, self) || q?.hex === theirStartHex) continue
      if (q === undefined || h.hex === theirStartHex || betweenHex(h.hex, theirStartHex, q.hex)) q = h
    }
    if (q === undefined) return undefined
    try {
      if (betweenHex(q.hex, self.hex, startHex)) {
        return (await this.ctx.lookupVia(q, table.fingers.start(i), { ...options, maxSuccessors: 1 })).successor
      }
      const { pred } = await client.state(q, options, 0)
      const closerExists = pred === undefined || pred.hex === startHex || betweenHex(pred.hex, startHex, q.hex)
      return closerExists ? undefined : q
    } catch (err) {
      throwIfAborted(options.signal)
      this.ctx.log.trace('fix fingers: hint %s for finger %d failed: %s', describeNode(q), i, (err as Error).message)
      return undefined
    }
  }

  private async firstLiveSuccessor (options: AbortOptions): Promise<{ node: NodeRef, state: RemoteState } | undefined> {
    const { table, client, log } = this.ctx
    for (let succ = table.successor; succ !== undefined; succ = table.successor) {
      try {
        return { node: succ, state: await client.state(succ, options) }
      } catch (err) {
        throwIfAborted(options.signal)
        log('successor %s failed: %s', describeNode(succ), (err as Error).message)
        table.remove(succ)
      }
    }
    return undefined
  }

  /** No successor answers: try the predecessor, then rejoin through any node we still know. */
  private async recoverSuccessor (options: AbortOptions): Promise<{ node: NodeRef, state: RemoteState } | undefined> {
    const { table, client } = this.ctx
    const self = table.self
    for (const n of table.knownNodes()) {
      try {
        if (sameNode(n, table.predecessor)) return { node: n, state: await client.state(n, options) }
        const r = await this.ctx.lookupVia(n, self.id, options)
        const succ = r.successors.find((s) => !sameNode(s, self))
        if (succ === undefined) continue
        return { node: succ, state: await client.state(succ, options) }
      } catch (err) {
        throwIfAborted(options.signal)
        if (isUnreachable(err)) table.remove(n)
      }
    }
    return undefined
  }
}
