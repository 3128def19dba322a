import { ChordMethod, notifyRequest, parseRequest } from '../../messages.js'
import type { RequestContext } from '../../../net/index.js'
import type { RecordCheck, VnodeResolver } from '../server.js'

/** chord.notify: "I may be your predecessor", from the node itself (its record pinned to its proven key). */
export function notify (resolve: VnodeResolver, records: RecordCheck) {
  return async (body: unknown, ctx: RequestContext): Promise<unknown> => {
    const req = parseRequest(notifyRequest, body)
    const node = records.sender(req.node, ctx, ChordMethod.NOTIFY)
    await resolve(req.to).handleNotify(node)
    return {}
  }
}
