import { parseRequest, stateRequest } from '../../messages.js'
import { toWire } from '../../node-ref.js'
import type { VnodeResolver } from '../server.js'

/** chord.state: the vnode's predecessor and successor list (stabilization reads this), and its predecessor list if asked. */
export function state (resolve: VnodeResolver) {
  return async (body: unknown): Promise<unknown> => {
    const req = parseRequest(stateRequest, body)
    const t = resolve(req.to).table
    const succs = req.succs === undefined ? t.successors : t.successors.slice(0, req.succs)
    const answer = { self: toWire(t.self), pred: t.predecessor === undefined ? null : toWire(t.predecessor), succs: succs.map(toWire) }
    return req.preds === undefined ? answer : { ...answer, preds: t.predecessors.slice(0, req.preds).map(toWire) }
  }
}
