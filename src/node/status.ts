import { z } from 'zod'
import { ProtocolError, toHex } from '../core/index.js'
import type { ChordNode, NodeRef } from '../chord/index.js'
import type { DHashStats } from '../dhash/index.js'
import type { RingSnapshot } from './ring-snapshot.js'

/** What `cfs status` shows, as served by the node.status method (JSON-friendly: hex ids). */
export interface NodeStatus {
  address: string
  vnodes: VnodeStatus[]
  /** The block layer: replicas held, cache, last repair. */
  blocks?: DHashStats
  /** Volumes whose signed roots this node holds (newest publication first, at most MAX_STATUS_VOLUMES). */
  volumes?: VolumeStatus[]
  /** The file system of its data directory, as last sampled; absent for a node without one. */
  disk?: DiskStatus
}

/** Size and free space of the file system a node keeps its replicas on. */
export interface DiskStatus { totalBytes: number, freeBytes: number }

export interface VnodeStatus {
  id: string
  vnode: number
  predecessor: PeerStatus | null
  successors: PeerStatus[]
  fingers: Array<PeerStatus & { index: number }>
}

export interface PeerStatus { id: string, address: string, vnode: number }

/** One volume root held by a node. */
export interface VolumeStatus {
  /** The root block's key (hex): where the volume's signed root lives on the ring. */
  key: string
  /** The owner's public key (hex), which names the volume. */
  owner: string
  /** The root's sequence number. */
  seq: number
  /** Publication time from the file system's root record (the owner's clock, ms since the epoch); null if the payload is not one. */
  publishedAt: number | null
  /** When this node's copy expires unless refreshed (ms since the epoch). */
  expiresAt: number
}

/** Volumes listed in one status answer at most (the rest are left out, newest kept). */
export const MAX_STATUS_VOLUMES = 256

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

const peerSchema = z.object({ id: z.string(), address: z.string(), vnode: z.number() })
const statusSchema = z.object({
  address: z.string(),
  vnodes: z.array(z.object({
    id: z.string(),
    vnode: z.number(),
    predecessor: peerSchema.nullable(),
    successors: z.array(peerSchema),
    fingers: z.array(peerSchema.extend({ index: z.number() })),
  })),
  blocks: z.object({
    replicas: z.number(),
    store: z.object({ blocks: z.number(), bytes: z.number() }),
    cache: z.object({ entries: z.number(), bytes: z.number(), hits: z.number(), misses: z.number(), hitRate: z.number() }),
    corruptDropped: z.number(),
    watching: z.number().int().min(0).default(0),
    maxBytes: z.number().nullable().default(null),
    lastRepair: z.object({
      pushed: z.number(), pulled: z.number(), handedOff: z.number(), backlog: z.number(), collected: z.number(), scrubbed: z.number(), corrupt: z.number(),
      // Absent in the answers of nodes older than the field: read as none found.
      underReplicated: z.number().default(0),
      finishedAt: z.number(), durationMs: z.number(),
    }).optional(),
  }).optional(),
  volumes: z.array(z.object({
    key: z.string(), owner: z.string(), seq: z.number(), publishedAt: z.number().nullable(), expiresAt: z.number(),
  })).optional(),
  disk: z.object({ totalBytes: z.number(), freeBytes: z.number() }).optional(),
})

/** Checks the types of a node.status answer (ids are not checked); throws ProtocolError. */
export function parseNodeStatus (body: unknown, from: string): NodeStatus {
  const r = statusSchema.safeParse(body)
  if (!r.success) throw new ProtocolError(`malformed status from ${from}`)
  return r.data
}

const nodeState = z.enum(['live', 'failed'])
const ms = z.number().nullable()
const ringSchema = z.object({
  at: z.number(),
  from: z.string(),
  summary: z.object({
    live: z.number(), failed: z.number(), vnodes: z.number(), blocks: z.number(), bytes: z.number(), capacity: z.number().default(0),
    underReplicated: z.number(), backlog: z.number(), volumes: z.number(),
  }),
  nodes: z.array(z.object({
    address: z.string(), state: nodeState, lastSeen: ms, failedSince: ms, vnodes: z.number(), owns: z.number(),
    blocks: ms, bytes: ms, capacity: ms.default(null), underReplicated: ms, backlog: ms, lastRepairAt: ms, volumes: z.number(),
  })),
  vnodes: z.array(z.object({ id: z.string(), address: z.string(), vnode: z.number(), state: nodeState, at: z.number(), from: z.number(), owns: z.number() })),
  volumes: z.array(z.object({
    key: z.string(), owner: z.string(), seq: z.number(), publishedAt: ms, holders: z.array(z.object({ address: z.string(), seq: z.number() })),
  })),
})

/** Checks the types of a node.ring answer; throws ProtocolError. */
export function parseRingSnapshot (body: unknown, from: string): RingSnapshot {
  const r = ringSchema.safeParse(body)
  if (!r.success) throw new ProtocolError(`malformed ring snapshot from ${from}`)
  return r.data
}
