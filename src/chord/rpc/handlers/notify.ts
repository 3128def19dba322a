import { notifyRequest, parseRequest } from '../../messages.js'
import { fromWire } from '../../node-ref.js'
import type { VnodeResolver } from '../server.js'

/** chord.notify: "I may be your predecessor". */
export function notify (resolve: VnodeResolver) {
  return async (body: unknown): Promise<unknown> => {
    const req = parseRequest(notifyRequest, body)
    await resolve(req.to).handleNotify(fromWire(req.node))
    return {}
  }
}
