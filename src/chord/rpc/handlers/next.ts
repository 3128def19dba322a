import { nextRequest, parseRequest } from '../../messages.js'
import { toWire } from '../../node-ref.js'
import type { VnodeResolver } from '../server.js'

/** chord.next: one step of an iterative lookup. */
export function next (resolve: VnodeResolver) {
  return async (body: unknown): Promise<unknown> => {
    const req = parseRequest(nextRequest, body)
    const hop = resolve(req.to).table.next(req.key, req.count ?? 3)
    return { done: hop.done, nodes: hop.nodes.slice(0, hop.done ? Math.min(64, req.succs ?? 64) : 64).map(toWire) }
  }
}
