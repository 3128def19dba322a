import { UnknownTargetError, toHex, type Key } from '../../core/index.js'
import type { Transport } from '../../net/index.js'
import { ChordMethod } from '../messages.js'
import type { NodeRef } from '../node-ref.js'
import type { RoutingTable } from '../routing-table.js'
import { fingers } from './handlers/fingers.js'
import { leave } from './handlers/leave.js'
import { next } from './handlers/next.js'
import { notify } from './handlers/notify.js'
import { ping } from './handlers/ping.js'
import { state } from './handlers/state.js'

/** What the RPC handlers need from a virtual node. */
export interface ChordVnode {
  readonly self: NodeRef
  readonly table: RoutingTable
  handleNotify: (node: NodeRef) => Promise<void>
  handleLeave: (leaving: NodeRef, pred: NodeRef | undefined, succs: NodeRef[] | undefined) => void
}

export type VnodeResolver = (id: Key) => ChordVnode

/**
 * Serves the Chord methods for every virtual node on one transport endpoint, routing each
 * request to the vnode named by its `to` field.
 */
export class ChordRpcServer {
  private readonly vnodes = new Map<string, ChordVnode>()

  constructor (private readonly transport: Transport) {
    const resolve: VnodeResolver = (id) => {
      const v = this.vnodes.get(toHex(id))
      if (v === undefined) throw new UnknownTargetError(`no node ${toHex(id).slice(0, 8)} at this address`)
      return v
    }
    transport.handle(ChordMethod.PING, ping(resolve))
    transport.handle(ChordMethod.STATE, state(resolve))
    transport.handle(ChordMethod.NOTIFY, notify(resolve))
    transport.handle(ChordMethod.NEXT, next(resolve))
    transport.handle(ChordMethod.LEAVE, leave(resolve))
    transport.handle(ChordMethod.FINGERS, fingers(resolve))
  }

  add (vnode: ChordVnode): void { this.vnodes.set(toHex(vnode.self.id), vnode) }
  remove (vnode: ChordVnode): void { this.vnodes.delete(toHex(vnode.self.id)) }
  get size (): number { return this.vnodes.size }

  close (): void {
    for (const m of Object.values(ChordMethod)) this.transport.unhandle(m)
    this.vnodes.clear()
  }
}
