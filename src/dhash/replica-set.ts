import type { NodeRef } from '../chord/index.js'

/** Replicas per block (k) unless configured (`--replicas`). */
export const DEFAULT_REPLICAS = 3

/**
 * The k nodes that hold a key's replicas: its successor and the nodes after it, one per
 * endpoint (two vnodes of one process are one failure, so they count once).
 */
export function replicaSet (successors: readonly NodeRef[], k: number): NodeRef[] {
  const out: NodeRef[] = []
  const seen = new Set<string>()
  for (const n of successors) {
    if (out.length >= k) break
    if (seen.has(n.address)) continue
    seen.add(n.address)
    out.push(n)
  }
  return out
}
