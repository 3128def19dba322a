import { toHex } from '../core/index.js'
import type { ChordNode, NodeRef } from '../chord/index.js'
import type { DHashStats } from '../dhash/index.js'

/** What `cfs status` shows, as served by the node.status method (JSON-friendly: hex ids). */
export interface NodeStatus {
  address: string
  vnodes: VnodeStatus[]
  /** The block layer: replicas held, cache, last repair. */
  blocks?: DHashStats
}

export interface VnodeStatus {
  id: string
  vnode: number
  predecessor: PeerStatus | null
  successors: PeerStatus[]
  fingers: Array<PeerStatus & { index: number }>
}

export interface PeerStatus { id: string, address: string, vnode: number }

function peer (n: NodeRef): PeerStatus {
  return { id: toHex(n.id), address: n.address, vnode: n.vnode }
}

export function vnodeStatus (node: ChordNode): VnodeStatus {
  const info = node.info()
  return {
    id: toHex(info.self.id),
    vnode: info.self.vnode,
    predecessor: info.predecessor === undefined ? null : peer(info.predecessor),
    successors: info.successors.map(peer),
    fingers: info.fingers.map((f) => ({ index: f.index, ...peer(f.node) })),
  }
}
