import { pingRequest, parseRequest } from '../../messages.js'
import type { VnodeResolver } from '../server.js'

/** chord.ping: proves that the endpoint hosts the vnode id it was asked for. */
export function ping (resolve: VnodeResolver) {
  return async (body: unknown): Promise<unknown> => {
    const req = parseRequest(pingRequest, body)
    return { id: resolve(req.to).self.id }
  }
}
