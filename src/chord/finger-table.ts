import { KEY_BITS, addPowerOfTwo, betweenHex, toHex, type Key } from '../core/index.js'
import { sameNode, type NodeRef } from './node-ref.js'

/** One distinct finger: `node` is the successor of self + 2^index (and of the starts up to the next entry's). */
export interface Finger { readonly index: number, readonly node: NodeRef }

/**
 * Finger i is the successor of self + 2^i. Most of the 256 starts share a node, so only the
 * distinct fingers are kept, in increasing index order (increasing distance from self).
 */
export class FingerTable {
  private entries: Finger[] = []
  private starts: Key[] | undefined
  private startHexes: string[] | undefined

  constructor (private readonly self: NodeRef) {}

  /** self + 2^i, computed once. */
  start (i: number): Key {
    this.starts ??= Array.from({ length: KEY_BITS }, (_, j) => addPowerOfTwo(this.self.id, j))
    return this.starts[i] as Key
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
    this.startHexes ??= Array.from({ length: KEY_BITS }, (_, j) => toHex(this.start(j)))
    return betweenHex(this.startHexes[i] as string, this.self.hex, node.hex, true)
  }
}
