import { ChordMethod, leaveRequest, parseRequest } from '../../messages.js'
import type { RequestContext } from '../../../net/index.js'
import type { RecordCheck, VnodeResolver } from '../server.js'

/** chord.leave: a neighbour is leaving gracefully (its record pinned to its proven key) and hands over its predecessor or successors. */
export function leave (resolve: VnodeResolver, records: RecordCheck) {
  return async (body: unknown, ctx: RequestContext): Promise<unknown> => {
    const req = parseRequest(leaveRequest, body)
    const m = ChordMethod.LEAVE
    resolve(req.to).handleLeave(
      records.sender(req.leaving, ctx, m),
      req.pred == null ? undefined : records.other(req.pred, ctx, m),
      req.succs?.map((w) => records.other(w, ctx, m)),
    )
    return {}
  }
}
