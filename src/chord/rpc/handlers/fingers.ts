import { fingersRequest, parseRequest } from '../../messages.js'
import { toWire } from '../../node-ref.js'
import type { VnodeResolver } from '../server.js'

/** chord.fingers: the vnode's distinct fingers, which its successor uses as hints for its own. */
export function fingers (resolve: VnodeResolver) {
  return async (body: unknown): Promise<unknown> => {
    const req = parseRequest(fingersRequest, body)
    return { fingers: resolve(req.to).table.fingers.nodes().slice(0, 64).map(toWire) }
  }
}
