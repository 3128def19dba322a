import type { NodeRef } from './node-ref.js'
import { sameNode } from './node-ref.js'

/**
 * A node's successor list after hearing from its first live successor `first`: `first` then
 * that node's own list, without duplicates, at most `size` long, and ending where the list
 * comes back round to the node itself. What follows self there is a full circle away: on a
 * ring smaller than the list, copying it would pass each node's stale tail on to the next one
 * round and round, so a crashed node would stay in every list for ever (only first entries
 * are ever checked).
 */
export function mergeSuccessors (self: NodeRef, first: NodeRef, theirs: readonly NodeRef[], size: number): NodeRef[] {
  const out: NodeRef[] = []
  const seen = new Set<string>()
  for (const n of [first, ...theirs]) {
    if (out.length >= size) break
    const h = n.hex
    if (h === self.hex) {
      if (out.length === 0) continue // a leading self: not a successor
      break
    }
    if (seen.has(h)) continue
    seen.add(h)
    out.push(n)
  }
  return out
}

export function sameNodeList (a: readonly NodeRef[], b: readonly NodeRef[]): boolean {
  return a.length === b.length && a.every((n, i) => sameNode(n, b[i]))
}
