import { z } from 'zod'
import { ProtocolError, toHex, type AbortOptions, type Key } from '../core/index.js'
import { TcpTransport } from '../net/index.js'
import { fromWire, nodeRefSchema, type NodeRefWire } from '../chord/index.js'
import { LOOKUP_METHOD, STATUS_METHOD } from './create-node.js'
import type { NodeStatus, PeerStatus } from './status.js'

const peer = z.object({ id: z.string(), address: z.string(), vnode: z.number() })
const statusSchema = z.object({
  address: z.string(),
  vnodes: z.array(z.object({
    id: z.string(),
    vnode: z.number(),
    predecessor: peer.nullable(),
    successors: z.array(peer),
    fingers: z.array(peer.extend({ index: z.number() })),
  })),
  blocks: z.object({
    replicas: z.number(),
    store: z.object({ blocks: z.number(), bytes: z.number() }),
    cache: z.object({ entries: z.number(), bytes: z.number(), hits: z.number(), misses: z.number(), hitRate: z.number() }),
    corruptDropped: z.number(),
    lastRepair: z.object({
      pushed: z.number(), pulled: z.number(), handedOff: z.number(), backlog: z.number(), collected: z.number(), scrubbed: z.number(), corrupt: z.number(),
      // Absent in the answers of nodes older than the field: read as none found.
      underReplicated: z.number().default(0),
      finishedAt: z.number(), durationMs: z.number(),
    }).optional(),
  }).optional(),
})

/** Deadline of a `cfs lookup` query to a running node (the node looks the key up on the ring). */
export const DEFAULT_LOOKUP_QUERY_TIMEOUT_MS = 10_000
/** Deadline of a `cfs status` query to a running node. */
export const DEFAULT_STATUS_QUERY_TIMEOUT_MS = 5_000

const lookupSchema = z.object({ successor: nodeRefSchema, successors: z.array(nodeRefSchema), hops: z.number() })

export interface LookupAnswer { successor: PeerStatus, successors: PeerStatus[], hops: number }

/** Asks a running node to look a key up on the ring. */
export async function queryLookup (address: string, key: Key, options: AbortOptions & { timeoutMs?: number } = {}): Promise<LookupAnswer> {
  const transport = new TcpTransport({}, { rpcTimeoutMs: options.timeoutMs ?? DEFAULT_LOOKUP_QUERY_TIMEOUT_MS })
  await transport.start()
  try {
    const r = lookupSchema.safeParse(await transport.request(address, LOOKUP_METHOD, { key }, options))
    if (!r.success) throw new ProtocolError(`malformed lookup answer from ${address}`)
    const peer = (n: NodeRefWire): PeerStatus => { const ref = fromWire(n); return { id: toHex(ref.id), address: ref.address, vnode: ref.vnode } }
    return { successor: peer(r.data.successor), successors: r.data.successors.map(peer), hops: r.data.hops }
  } finally {
    await transport.stop()
  }
}

/** Asks a running node for its status over a short-lived client connection. */
export async function queryStatus (address: string, options: AbortOptions & { timeoutMs?: number } = {}): Promise<NodeStatus> {
  const transport = new TcpTransport({}, { rpcTimeoutMs: options.timeoutMs ?? DEFAULT_STATUS_QUERY_TIMEOUT_MS })
  await transport.start()
  try {
    const r = statusSchema.safeParse(await transport.request(address, STATUS_METHOD, {}, options))
    if (!r.success) throw new ProtocolError(`malformed status from ${address}`)
    return r.data
  } finally {
    await transport.stop()
  }
}
