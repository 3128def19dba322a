import { leaveRequest, parseRequest } from '../../messages.js'
import { fromWire } from '../../node-ref.js'
import type { VnodeResolver } from '../server.js'

/** chord.leave: a neighbour is leaving gracefully and hands over its predecessor or successors. */
export function leave (resolve: VnodeResolver) {
  return async (body: unknown): Promise<unknown> => {
    const req = parseRequest(leaveRequest, body)
    resolve(req.to).handleLeave(
      fromWire(req.leaving),
      req.pred == null ? undefined : fromWire(req.pred),
      req.succs?.map(fromWire),
    )
    return {}
  }
}
