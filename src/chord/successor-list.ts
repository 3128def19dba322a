import type { NodeRef } from './node-ref.js'
import { sameNode } from './node-ref.js'

/**
 * A node's successor list after hearing from its first live successor `first`: `first` then
 * that node's own list, without the node itself, without duplicates, at most `size` long.
 */
export function mergeSuccessors (self: NodeRef, first: NodeRef, theirs: readonly NodeRef[], size: number): NodeRef[] {
  const out: NodeRef[] = []
  const seen = new Set<string>([self.hex])
  for (const n of [first, ...theirs]) {
    if (out.length >= size) break
    const h = n.hex
    if (seen.has(h)) continue
    seen.add(h)
    out.push(n)
  }
  return out
}

export function sameNodeList (a: readonly NodeRef[], b: readonly NodeRef[]): boolean {
  return a.length === b.length && a.every((n, i) => sameNode(n, b[i]))
}
