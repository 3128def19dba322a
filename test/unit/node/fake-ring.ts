import type { NodeStatus, PeerStatus, VolumeStatus } from '../../../src/node/index.js'

/** A 64-digit hex id whose first digits are `prefix` (the rest zeros). */
export const id = (prefix: string): string => prefix.padEnd(64, '0')

/**
 * The statuses a correct ring of these endpoints would report: each vnode's predecessor and
 * `successors` successors are its neighbours in id order, and its fingers are its successors.
 */
export function ringStatuses (endpoints: Record<string, string[]>, successors = 3): Map<string, NodeStatus> {
  const all: PeerStatus[] = Object.entries(endpoints)
    .flatMap(([address, ids]) => ids.map((i, vnode) => ({ id: i, address, vnode })))
    .sort((a, b) => (a.id < b.id ? -1 : 1))
  const at = (i: number): PeerStatus => all[((i % all.length) + all.length) % all.length] as PeerStatus
  const out = new Map<string, NodeStatus>()
  for (const [address, ids] of Object.entries(endpoints)) {
    out.set(address, {
      address,
      vnodes: ids.map((vid, vnode) => {
        const i = all.findIndex((p) => p.id === vid)
        const succ = Array.from({ length: Math.min(successors, all.length - 1) }, (_, j) => at(i + 1 + j))
        return { id: vid, vnode, predecessor: all.length === 1 ? null : at(i - 1), successors: succ, fingers: succ.map((p, index) => ({ ...p, index })) }
      }),
    })
  }
  return out
}

/** A status with a block layer: blocks, bytes, and a last repair with these counts. */
export function withBlocks (s: NodeStatus, blocks: number, underReplicated: number, backlog: number, volumes: VolumeStatus[] = []): NodeStatus {
  return {
    ...s,
    blocks: {
      replicas: 3,
      store: { blocks, bytes: blocks * 1000 },
      cache: { entries: 0, bytes: 0, hits: 0, misses: 0, hitRate: 0 },
      corruptDropped: 0,
      watching: 0,
      maxBytes: null,
      lastRepair: { pushed: 0, pulled: 0, handedOff: 0, backlog, underReplicated, collected: 0, scrubbed: 0, corrupt: 0, finishedAt: 1_000, durationMs: 5 },
    },
    volumes,
  }
}
