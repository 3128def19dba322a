import { z } from 'zod'
import { ProtocolError, type AbortOptions } from '../core/index.js'
import { TcpTransport } from '../net/index.js'
import { STATUS_METHOD } from './create-node.js'
import type { NodeStatus } from './status.js'

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
})

/** Asks a running node for its status over a short-lived client connection. */
export async function queryStatus (address: string, options: AbortOptions & { timeoutMs?: number } = {}): Promise<NodeStatus> {
  const transport = new TcpTransport({}, { rpcTimeoutMs: options.timeoutMs ?? 5_000 })
  await transport.start()
  try {
    const r = statusSchema.safeParse(await transport.request(address, STATUS_METHOD, {}, options))
    if (!r.success) throw new ProtocolError(`malformed status from ${address}`)
    return r.data
  } finally {
    await transport.stop()
  }
}
