import { DEFAULT_NEXT_COUNT, nextRequest, parseRequest } from '../../messages.js'
import { toWire } from '../../node-ref.js'
import { MAX_SUCCESSORS } from '../../successor-list.js'
import type { VnodeResolver } from '../server.js'

/** chord.next: one step of an iterative lookup. */
export function next (resolve: VnodeResolver) {
  return async (body: unknown): Promise<unknown> => {
    const req = parseRequest(nextRequest, body)
    const hop = resolve(req.to).table.next(req.key, req.count ?? DEFAULT_NEXT_COUNT)
    return { done: hop.done, nodes: hop.nodes.slice(0, hop.done ? Math.min(MAX_SUCCESSORS, req.succs ?? MAX_SUCCESSORS) : MAX_SUCCESSORS).map(toWire) }
  }
}
