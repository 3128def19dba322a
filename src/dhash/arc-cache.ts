import type { Key } from '../core/index.js'
import type { NodeRef } from '../chord/index.js'
import type { KeyInterval } from './store/block-store.js'
import { inInterval } from './store/interval.js'

/** How long a lookup answer is reused. */
export const DEFAULT_ARC_TTL_MS = 2_000
/** Arcs remembered at most. */
export const DEFAULT_ARC_ENTRIES = 256

interface Entry { arc: KeyInterval, successors: readonly NodeRef[], until: number }

/**
 * Recent lookup answers by arc: every key in (from, to] has the same successor list, so a burst
 * of puts or gets skips most lookups. Entries live briefly and are dropped when a node says it
 * is not responsible, so churn costs a retry, never a wrong placement for long.
 */
export class ArcCache {
  private entries: Entry[] = []

  constructor (private readonly ttlMs = DEFAULT_ARC_TTL_MS, private readonly maxEntries = DEFAULT_ARC_ENTRIES, private readonly now: () => number = Date.now) {}

  find (key: Key): readonly NodeRef[] | undefined {
    const t = this.now()
    for (const e of this.entries) {
      if (e.until > t && inInterval(key, e.arc)) return e.successors
    }
    return undefined
  }

  add (arc: KeyInterval, successors: readonly NodeRef[]): void {
    const t = this.now()
    this.entries = this.entries.filter((e) => e.until > t)
    this.entries.unshift({ arc, successors, until: t + this.ttlMs })
    if (this.entries.length > this.maxEntries) this.entries.length = this.maxEntries
  }

  /** Forgets every arc whose successor list starts at `node`. */
  forget (node: NodeRef): void {
    this.entries = this.entries.filter((e) => e.successors[0]?.hex !== node.hex)
  }
}
