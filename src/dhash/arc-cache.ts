import { betweenHex, toHex, type Key } from '../core/index.js'
import type { NodeRef } from '../chord/index.js'
import type { KeyInterval } from './store/block-store.js'

/** How long a lookup answer is reused. */
export const DEFAULT_ARC_TTL_MS = 2_000
/** Arcs remembered at most. */
export const DEFAULT_ARC_ENTRIES = 256

interface Entry {
  /** The arc (from, to] as lowercase hex: compared in JS, with no native call per entry. */
  readonly from: string
  readonly to: string
  readonly successors: readonly NodeRef[]
  readonly until: number
}

/**
 * Recent lookup answers by arc: every key in (from, to] has the same successor list, so a burst
 * of puts or gets skips most lookups. Entries live briefly and are dropped when a node says it
 * is not responsible, so churn costs a retry, never a wrong placement for long.
 *
 * Answers that end at the same node with the same successor list are one entry: their arcs
 * share an end, so the wider holds the other. A lookup the successor answered itself covers
 * only (key - 1, successor], and a burst of those would otherwise fill the list with slivers
 * of one arc that every `find` scans.
 */
export class ArcCache {
  private entries: Entry[] = []

  constructor (private readonly ttlMs = DEFAULT_ARC_TTL_MS, private readonly maxEntries = DEFAULT_ARC_ENTRIES, private readonly now: () => number = Date.now) {}

  /** How many arcs are remembered (expired ones included until the next `add`). */
  get size (): number { return this.entries.length }

  find (key: Key): readonly NodeRef[] | undefined {
    const t = this.now()
    const hex = toHex(key)
    for (const e of this.entries) {
      if (e.until > t && inArc(hex, e.from, e.to)) return e.successors
    }
    return undefined
  }

  add (arc: KeyInterval, successors: readonly NodeRef[]): void {
    const t = this.now()
    const to = toHex(arc.to)
    let from = toHex(arc.from)
    let until = t + this.ttlMs
    this.entries = this.entries.filter((e) => {
      if (e.until <= t) return false
      if (e.to !== to) return true
      // Same end: the older answer is either part of this one (same holders) or stale. Its
      // part of a widened arc is not vouched for longer than it was.
      if (sameNodes(e.successors, successors) && from !== to && (e.from === to || !inArc(e.from, from, to))) {
        from = e.from
        until = e.until
      }
      return false
    })
    this.entries.unshift({ from, to, successors, until })
    if (this.entries.length > this.maxEntries) this.entries.length = this.maxEntries
  }

  /** Forgets every arc whose successor list starts at `node`. */
  forget (node: NodeRef): void {
    this.entries = this.entries.filter((e) => e.successors[0]?.hex !== node.hex)
  }
}

/** True when `hex` lies in (from, to]; from == to is the whole ring. */
function inArc (hex: string, from: string, to: string): boolean {
  return from === to || betweenHex(hex, from, to, true)
}

function sameNodes (a: readonly NodeRef[], b: readonly NodeRef[]): boolean {
  return a.length === b.length && a.every((n, i) => n.hex === b[i]?.hex && n.address === b[i]?.address)
}
