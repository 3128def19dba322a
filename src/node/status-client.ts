import { z } from 'zod'
import { ProtocolError, isCfsError, toHex, type AbortOptions, type Key } from '../core/index.js'
import { TcpTransport } from '../net/index.js'
import { fromWire, nodeRefSchema, type NodeRefWire } from '../chord/index.js'
import { LOOKUP_METHOD, RING_METHOD, STATUS_METHOD } from './create-node.js'
import { linkTransportInit, type LinkInit } from './link.js'
import type { RingSnapshot } from './ring-snapshot.js'
import { RingView } from './ring-view.js'
import { parseNodeStatus, parseRingSnapshot, type NodeStatus, type PeerStatus } from './status.js'

/** Deadline of a `cfs lookup` query to a running node (the node looks the key up on the ring). */
export const DEFAULT_LOOKUP_QUERY_TIMEOUT_MS = 10_000
/** Deadline of a `cfs status` query to a running node. */
export const DEFAULT_STATUS_QUERY_TIMEOUT_MS = 5_000
/** Deadline of a node.ring query (the node may walk up to 64 endpoints, 8 at a time, each with a 2 s deadline). */
export const DEFAULT_RING_QUERY_TIMEOUT_MS = 20_000

/** A query's deadline, and how its link is made (a private ring's secret). */
export interface QueryOptions extends AbortOptions {
  timeoutMs?: number
  link?: LinkInit
}

/** A started client transport for one query: its deadline, its link. */
async function queryTransport (options: QueryOptions, defaultTimeoutMs: number): Promise<TcpTransport> {
  const transport = new TcpTransport({}, { rpcTimeoutMs: options.timeoutMs ?? defaultTimeoutMs, ...linkTransportInit(options.link) })
  await transport.start()
  return transport
}

const lookupSchema = z.object({ successor: nodeRefSchema, successors: z.array(nodeRefSchema), hops: z.number() })

export interface LookupAnswer { successor: PeerStatus, successors: PeerStatus[], hops: number }

/** Asks a running node to look a key up on the ring. */
export async function queryLookup (address: string, key: Key, options: QueryOptions = {}): Promise<LookupAnswer> {
  const transport = await queryTransport(options, DEFAULT_LOOKUP_QUERY_TIMEOUT_MS)
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
export async function queryStatus (address: string, options: QueryOptions = {}): Promise<NodeStatus> {
  const transport = await queryTransport(options, DEFAULT_STATUS_QUERY_TIMEOUT_MS)
  try {
    return parseNodeStatus(await transport.request(address, STATUS_METHOD, {}, options), address)
  } finally {
    await transport.stop()
  }
}

/**
 * The ring's health as a running node sees it (node.ring): the dashboard's snapshot when the
 * node serves one, else a walk the node makes for this call, remembering what earlier calls
 * saw. A node older than node.ring is walked from here instead (one round, no history).
 */
export async function queryRing (address: string, options: QueryOptions = {}): Promise<RingSnapshot> {
  const transport = await queryTransport(options, DEFAULT_RING_QUERY_TIMEOUT_MS)
  try {
    try {
      return parseRingSnapshot(await transport.request(address, RING_METHOD, {}, options), address)
    } catch (err) {
      if (!isCfsError(err, 'UNKNOWN_METHOD')) throw err
    }
    const view = new RingView({
      status: async (a, o) => parseNodeStatus(await transport.request(a, STATUS_METHOD, {}, o), a),
      seeds: () => [address],
    }, { intervalMs: 0 })
    return await view.refreshOnce(options)
  } finally {
    await transport.stop()
  }
}
