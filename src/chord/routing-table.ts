import { betweenHex, closerTo, keysEqual, toHex, type Key } from '../core/index.js'
import { FingerTable, type Finger } from './finger-table.js'
import { DEFAULT_NEXT_COUNT } from './messages.js'
import { sameNode, type NodeRef } from './node-ref.js'
import { MAX_SUCCESSORS, sameNodeList } from './successor-list.js'

/** What a node can say about a key from its own tables (the answer to chord.next). */
export interface NextHop {
  /** True when `nodes[0]` is the key's successor and the rest follow it on the ring. */
  done: boolean
  /** done: the successor and its successors; otherwise candidates closer to the key, best first. */
  nodes: NodeRef[]
}

/**
 * One virtual node's view of the ring: predecessor (and the list behind it), successor list,
 * fingers. Pure state and local decisions, no I/O, so lookups and stabilization can be
 * unit-tested against it.
 */
export class RoutingTable {
  private pred: NodeRef | undefined
  private preds: NodeRef[] = []
  private succs: NodeRef[] = []
  readonly fingers: FingerTable
  /** Called after the successor list changes. */
  onSuccessorsChanged: (succs: readonly NodeRef[]) => void = () => {}
  /** Called after the predecessor changes (the node's key range changed). */
  onPredecessorChanged: (pred: NodeRef | undefined) => void = () => {}

  constructor (readonly self: NodeRef) {
    this.fingers = new FingerTable(self)
  }

  get predecessor (): NodeRef | undefined { return this.pred }
  get successors (): readonly NodeRef[] { return this.succs }
  get successor (): NodeRef | undefined { return this.succs[0] }

  /**
   * The predecessor and the nodes before it, nearest first, as the predecessor last reported
   * its own list (checkPredecessorOnce): with the successor list, the nodes that send this one
   * replicas (a key's primary is up to k - 1 endpoints back). Only for knowsKey: lookups never
   * use it, and only its first entry, the predecessor, is checked for liveness.
   */
  get predecessors (): readonly NodeRef[] { return this.preds }

  setPredecessor (pred: NodeRef | undefined): void {
    if (pred !== undefined && sameNode(pred, this.self)) pred = undefined
    if (pred !== undefined && this.pred !== undefined && sameNode(pred, this.pred)) {
      if (pinsUnpinned(pred, this.pred)) {
        this.preds = this.preds.map((n) => (n === this.pred ? pred : n))
        this.pred = pred
      }
      return
    }
    if (pred === undefined && this.pred === undefined) return
    const old = this.pred
    this.pred = pred
    // The rest of the list stays until the next checkPredecessorOnce replaces it.
    const rest = this.preds.filter((n) => !sameNode(n, old) && !sameNode(n, pred))
    this.preds = pred === undefined ? rest : [pred, ...rest].slice(0, MAX_SUCCESSORS)
    this.onPredecessorChanged(pred)
  }

  /** The predecessor list as the predecessor reported it; ignored unless it starts at the current predecessor. */
  setPredecessors (preds: NodeRef[]): void {
    if (this.pred === undefined || !sameNode(preds[0], this.pred)) return
    this.preds = preds.filter((n) => !sameNode(n, this.self)).slice(0, MAX_SUCCESSORS)
  }

  setSuccessors (succs: NodeRef[]): void {
    const clean = succs.filter((n) => !sameNode(n, this.self))
    if (sameNodeList(clean, this.succs)) {
      // The same nodes, no event; but a record that names a key replaces one that named none.
      const held = this.succs
      const upgrade = (n: NodeRef, i: number): boolean => pinsUnpinned(n, held[i] as NodeRef)
      if (clean.some(upgrade)) this.succs = clean.map((n, i) => (upgrade(n, i) ? n : held[i] as NodeRef))
      return
    }
    this.succs = clean
    this.onSuccessorsChanged(clean)
  }

  /**
   * Nodes dropped after failing, oldest first, kept (bounded) so they can be probed later: a
   * partition that heals must not leave two rings that no longer know of each other, however
   * long it lasted. A node is probed again and again, each time a little later (its n-th probe
   * n rounds after the last, at most MAX_PROBE_GAP), so a node gone for good costs a ping a
   * minute and a partition of hours still heals within about a minute of its end.
   */
  private readonly failed = new Map<string, { node: NodeRef, probes: number, due: number }>()
  /** Calls of nextFailedToProbe so far: the clock of the probes' backoff. */
  private probeRound = 0
  static readonly MAX_FAILED = 32
  /** Most rounds between two probes of one failed node. */
  static readonly MAX_PROBE_GAP = 60

  /** The failed node to probe now (the longest waiting of those due), or undefined. */
  nextFailedToProbe (): NodeRef | undefined {
    this.probeRound++
    for (const [hex, entry] of this.failed) {
      if (entry.due > this.probeRound) continue
      this.failed.delete(hex) // back in at the end: round robin among the due
      entry.probes++
      entry.due = this.probeRound + Math.min(entry.probes, RoutingTable.MAX_PROBE_GAP)
      this.failed.set(hex, entry)
      return entry.node
    }
    return undefined
  }

  /** A failed node answered again. */
  revived (node: NodeRef): void { this.failed.delete(node.hex) }

  /** Forgets a node that failed to answer: from the successor list, the fingers and as predecessor. */
  remove (node: NodeRef): void {
    if (!this.failed.has(node.hex)) {
      this.failed.set(node.hex, { node, probes: 0, due: 0 })
      if (this.failed.size > RoutingTable.MAX_FAILED) this.failed.delete(this.failed.keys().next().value as string)
    }
    if (sameNode(node, this.pred)) this.setPredecessor(undefined)
    else this.preds = this.preds.filter((n) => !sameNode(n, node))
    if (this.succs.some((n) => sameNode(n, node))) this.setSuccessors(this.succs.filter((n) => !sameNode(n, node)))
    this.fingers.remove(node)
  }

  /** Whether this node is the key's successor: key in (predecessor, self]. Unknown predecessor: only when alone. */
  isResponsible (key: Key): boolean {
    return this.isResponsibleHex(toHex(key))
  }

  private isResponsibleHex (keyHex: string): boolean {
    if (this.pred === undefined) return this.succs.length === 0
    return betweenHex(keyHex, this.pred.hex, this.self.hex, true)
  }

  /**
   * The key's successor if it lies between this node and its first successor, else up to
   * `count` known nodes that precede the key, closest to it first. Only the first successor
   * is authoritative: entries further down the list are as fresh as the last stabilization,
   * and a node that joined since would be skipped. They still serve as next-hop candidates.
   */
  next (key: Key, count = DEFAULT_NEXT_COUNT): NextHop {
    const keyHex = toHex(key)
    if (this.isResponsibleHex(keyHex)) return { done: true, nodes: [this.self, ...this.succs] }
    const first = this.succs[0]
    if (first === undefined) return { done: true, nodes: [this.self] }
    if (betweenHex(keyHex, this.self.hex, first.hex, true)) return { done: true, nodes: [...this.succs] }
    return { done: false, nodes: this.closestPreceding(keyHex, count) }
  }

  /** Index in the successor list of the key's successor, or -1 when the list does not reach the key. */
  successorIndex (key: Key): number {
    return this.successorIndexHex(toHex(key))
  }

  private successorIndexHex (keyHex: string): number {
    let prev = this.self
    for (let j = 0; j < this.succs.length; j++) {
      const s = this.succs[j] as NodeRef
      if (betweenHex(keyHex, prev.hex, s.hex, true)) return j
      prev = s
    }
    return -1
  }

  /**
   * Known nodes strictly between self and the key (hex), ordered by clockwise distance to the
   * key, at most `count`. Every lookup step runs this, so it avoids a sort: the fingers and the
   * successor list each run clockwise from self, so the nodes before the key are a prefix of
   * each (found by binary search), and merging the two prefixes from their far ends yields
   * them closest first. Lists out of order (a peer's odd successor list, say) take the sorting
   * path instead; which case holds is worked out once per change of either list.
   */
  closestPreceding (keyHex: string, count: number): NodeRef[] {
    const fingers = this.fingers.fingers
    const succs = this.succs
    if (!this.listsRunClockwise()) return this.closestPrecedingBySort(keyHex, count)
    const precedes = (n: NodeRef): boolean => betweenHex(n.hex, this.self.hex, keyHex)
    let i = prefixLength(fingers.length, (k) => precedes((fingers[k] as Finger).node)) - 1
    let j = prefixLength(succs.length, (k) => precedes(succs[k] as NodeRef)) - 1
    const out: NodeRef[] = []
    while (out.length < count && (i >= 0 || j >= 0)) {
      const f = i >= 0 ? (fingers[i] as Finger).node : undefined
      const s = j >= 0 ? succs[j] as NodeRef : undefined
      // Take the one farther from self, that is, closer to the key.
      const takeFinger = s === undefined || (f !== undefined && (f.hex === s.hex || betweenHex(s.hex, this.self.hex, f.hex)))
      const n = takeFinger ? f as NodeRef : s
      if (takeFinger) i--
      else j--
      if (out.length === 0 || (out[out.length - 1] as NodeRef).hex !== n.hex) out.push(n)
    }
    return out
  }

  private orderChecked: { fingers: readonly Finger[], succs: readonly NodeRef[], clockwise: boolean } | undefined

  /** Whether both lists run strictly clockwise from self (cached until either list is replaced). */
  private listsRunClockwise (): boolean {
    const fingers = this.fingers.fingers
    const succs = this.succs
    const c = this.orderChecked
    if (c !== undefined && c.fingers === fingers && c.succs === succs) return c.clockwise
    const clockwise = this.runsClockwise(fingers.map((f) => f.node)) && this.runsClockwise(succs)
    this.orderChecked = { fingers, succs, clockwise }
    return clockwise
  }

  private runsClockwise (nodes: readonly NodeRef[]): boolean {
    let prev = this.self
    for (const n of nodes) {
      if (!betweenHex(n.hex, prev.hex, this.self.hex)) return false // not farther from self than prev
      prev = n
    }
    return true
  }

  private closestPrecedingBySort (keyHex: string, count: number): NodeRef[] {
    const found = new Map<string, NodeRef>()
    for (const n of [...this.fingers.nodes(), ...this.succs]) {
      if (betweenHex(n.hex, this.self.hex, keyHex)) found.set(n.hex, n)
    }
    const closer = closerTo(keyHex)
    return [...found.values()].sort((a, b) => closer(a.hex, b.hex)).slice(0, count)
  }

  /**
   * Whether a node this table knows is pinned to `key`: itself, its predecessor list, its
   * successors or its fingers (Router.knowsPeer).
   */
  knowsKey (key: Uint8Array): boolean {
    const pinned = (n: NodeRef): boolean => n.key !== undefined && keysEqual(n.key, key)
    return pinned(this.self) || this.preds.some(pinned) || this.succs.some(pinned) || this.fingers.fingers.some((f) => pinned(f.node))
  }

  /** Every distinct node this table knows, for failure checks and status. */
  knownNodes (): NodeRef[] {
    const out = new Map<string, NodeRef>()
    for (const n of [...this.succs, ...this.fingers.nodes(), ...(this.pred === undefined ? [] : [this.pred])]) out.set(n.hex, n)
    return [...out.values()]
  }
}

/**
 * Whether `fresh` is the record of `held`'s node with a pin where `held` had none (an address
 * an operator gave, first taken without a key). A pin is never changed in place: a ref whose
 * key stops answering fails and is removed, and the node comes back with its new record.
 */
function pinsUnpinned (fresh: NodeRef, held: NodeRef): boolean {
  return held.key === undefined && fresh.key !== undefined
}

/** The length of the prefix of [0, length) on which `test` holds; `test` must hold on a prefix. */
function prefixLength (length: number, test: (i: number) => boolean): number {
  let lo = 0
  let hi = length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if (test(mid)) lo = mid + 1
    else hi = mid
  }
  return lo
}
