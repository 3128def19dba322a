import type { NodeRef } from './node-ref.js'
import { sameNode } from './node-ref.js'

/** Successors a node remembers for fault tolerance (r), unless told otherwise. */
export const DEFAULT_SUCCESSOR_LIST_SIZE = 16

/** Longest successor list kept or sent: the wire's limit on a list of nodes (messages.ts). */
export const MAX_SUCCESSORS = 64

/**
 * Distinct endpoints a successor list reaches at least, besides the node's own, when the ring
 * has them. With virtual nodes, r successors can name fewer than r endpoints (several vnodes
 * of one process follow each other), yet the block layer places its k replicas on distinct
 * endpoints, found in this list: 3 replicas and one spare for a graceful leave.
 */
export const DEFAULT_SUCCESSOR_ENDPOINTS = 4

/**
 * A node's successor list after hearing from its first live successor `first`: `first` then
 * that node's own list, without duplicates, and ending where the list comes back round to the
 * node itself. What follows self there is a full circle away: on a ring smaller than the list,
 * copying it would pass each node's stale tail on to the next one round and round, so a
 * crashed node would stay in every list for ever (only first entries are ever checked).
 *
 * The list is `size` long, or longer when it takes more nodes to reach `minEndpoints` distinct
 * endpoints other than self's (vnodes; at most MAX_SUCCESSORS). Each node's list then reaches
 * that many, and so does its predecessor's: `first` adds its own endpoint, and leaving out
 * the predecessor's own endpoint takes at most one away.
 */
export function mergeSuccessors (self: NodeRef, first: NodeRef, theirs: readonly NodeRef[], size: number, minEndpoints = 0): NodeRef[] {
  const out: NodeRef[] = []
  const seen = new Set<string>()
  const endpoints = new Set<string>()
  for (const n of [first, ...theirs]) {
    if ((out.length >= size && endpoints.size >= minEndpoints) || out.length >= MAX_SUCCESSORS) break
    const h = n.hex
    if (h === self.hex) {
      if (out.length === 0) continue // a leading self: not a successor
      break
    }
    if (seen.has(h)) continue
    seen.add(h)
    out.push(n)
    if (n.address !== self.address) endpoints.add(n.address)
  }
  return out
}

/** Distinct endpoints (addresses) among `nodes`. */
export function endpointCount (nodes: readonly NodeRef[]): number {
  return new Set(nodes.map((n) => n.address)).size
}

export function sameNodeList (a: readonly NodeRef[], b: readonly NodeRef[]): boolean {
  return a.length === b.length && a.every((n, i) => sameNode(n, b[i]))
}
