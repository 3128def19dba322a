import { KEY_BITS, addPowerOfTwo, betweenHex, distance, toHex, type Key } from '../core/index.js'
import { sameNode, type NodeRef } from './node-ref.js'

/** One distinct finger: `node` is the successor of self + 2^index (and of the starts up to the next entry's). */
export interface Finger { readonly index: number, readonly node: NodeRef }

/**
 * Finger i is the successor of self + 2^i. Most of the 256 starts share a node, so only the
 * distinct fingers are kept, in increasing index order (increasing distance from self).
 */
export class FingerTable {
  private entries: Finger[] = []
  // Starts are computed on first use: a rebuild needs only the dozen or so that begin a
  // distinct finger, and a ring of thousands of simulated nodes cannot afford 256 each.
  private readonly starts: Array<Key | undefined> = []
  private readonly startHexes: Array<string | undefined> = []

  constructor (private readonly self: NodeRef) {}

  /** self + 2^i, computed once. */
  start (i: number): Key {
    let s = this.starts[i]
    if (s === undefined) {
      s = addPowerOfTwo(this.self.id, i)
      this.starts[i] = s
    }
    return s
  }

  /** start(i) in hex. */
  startHex (i: number): string {
    let h = this.startHexes[i]
    if (h === undefined) {
      h = toHex(this.start(i))
      this.startHexes[i] = h
    }
    return h
  }

  get fingers (): readonly Finger[] { return this.entries }

  nodes (): NodeRef[] { return this.entries.map((f) => f.node) }

  replaceAll (fingers: Finger[]): boolean {
    const changed = fingers.length !== this.entries.length ||
      fingers.some((f, i) => f.index !== this.entries[i]?.index || !sameNode(f.node, this.entries[i]?.node))
    this.entries = fingers
    return changed
  }

  /** Drops a dead node; its starts fall to the next finger until the next fix. */
  remove (node: NodeRef): boolean {
    const before = this.entries.length
    this.entries = this.entries.filter((f) => !sameNode(f.node, node))
    return this.entries.length !== before
  }

  /** Whether start i is already covered by `node` (start in (self, node]). */
  covers (i: number, node: NodeRef): boolean {
    return betweenHex(this.startHex(i), this.self.hex, node.hex, true)
  }

  /**
   * The first index whose start `node` does not cover (KEY_BITS if it covers them all). Start i
   * lies in (self, node] exactly when 2^i <= distance(self, node), so this is the bit length of
   * that distance; a rebuild jumps there instead of testing every index.
   */
  firstUncovered (node: NodeRef): number {
    if (sameNode(node, this.self)) return KEY_BITS
    return distance(this.self.id, node.id).toString(2).length
  }
}
