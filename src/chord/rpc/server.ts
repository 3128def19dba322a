import {
  BadRequestError, ForbiddenError, LogThrottle, UnknownTargetError, createLogger, keysEqual, peerLabel, shortHex, toHex,
  type ComponentLogger, type Key, type Logger,
} from '../../core/index.js'
import { REFUSAL_LOG_INTERVAL_MS, type RequestContext, type Transport } from '../../net/index.js'
import { ChordMethod } from '../messages.js'
import { fromWire, toWire, type NodeRef, type NodeRefWire } from '../node-ref.js'
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

/** How handlers take the node records a request carries. */
export interface RecordCheck {
  /**
   * The sender's own record (chord.notify's `node`, chord.leave's `leaving`): id-checked, and,
   * when the link proved who the sender is, pinned to that same key. Throws BadRequestError
   * (a forged record) or ForbiddenError (another node's record), both logged.
   */
  sender: (w: NodeRefWire, ctx: RequestContext, method: string) => NodeRef
  /** A record of some other node (a leaver's hand-over): id-checked; a forged one is logged and refused (BadRequestError). */
  other: (w: NodeRefWire, ctx: RequestContext, method: string) => NodeRef
}

/**
 * Serves the Chord methods for every virtual node on one transport endpoint, routing each
 * request to the vnode named by its `to` field.
 */
export class ChordRpcServer {
  private readonly vnodes = new Map<string, ChordVnode>()
  private readonly log: Logger
  /** Refused records are logged at most once per peer per REFUSAL_LOG_INTERVAL_MS. */
  private readonly refusals = new LogThrottle(REFUSAL_LOG_INTERVAL_MS)

  constructor (private readonly transport: Transport, logger?: ComponentLogger) {
    this.log = (logger ?? createLogger()).forComponent('chord:server')
    const resolve: VnodeResolver = (id) => {
      const v = this.vnodes.get(toHex(id))
      if (v === undefined) throw new UnknownTargetError(`no node ${toHex(id).slice(0, 8)} at this address`)
      return v
    }
    const records: RecordCheck = {
      sender: (w, ctx, method) => this.senderRecord(w, ctx, method),
      other: (w, ctx, method) => this.record(w, ctx, method),
    }
    transport.handle(ChordMethod.PING, ping(resolve))
    transport.handle(ChordMethod.STATE, state(resolve))
    transport.handle(ChordMethod.NOTIFY, notify(resolve, records))
    transport.handle(ChordMethod.NEXT, next(resolve))
    transport.handle(ChordMethod.LEAVE, leave(resolve, records))
    transport.handle(ChordMethod.FINGERS, fingers(resolve))
    // Asked by whoever knows this endpoint by an address other than the one it advertises
    // (127.0.0.1 on its own machine, a port mapping): its vnodes as the ring knows them.
    transport.handle(ChordMethod.VNODES, async () => Promise.resolve({ nodes: [...this.vnodes.values()].map((v) => toWire(v.self)) }))
  }

  add (vnode: ChordVnode): void { this.vnodes.set(toHex(vnode.self.id), vnode) }
  remove (vnode: ChordVnode): void { this.vnodes.delete(toHex(vnode.self.id)) }
  get size (): number { return this.vnodes.size }

  close (): void {
    for (const m of Object.values(ChordMethod)) this.transport.unhandle(m)
    this.vnodes.clear()
  }

  private record (w: NodeRefWire, ctx: RequestContext, method: string): NodeRef {
    try {
      return fromWire(w)
    } catch (err) {
      if (err instanceof BadRequestError) this.refused(ctx, `${method}: forged node record ${w.addr}/${w.v}: ${err.message}`)
      throw err
    }
  }

  private senderRecord (w: NodeRefWire, ctx: RequestContext, method: string): NodeRef {
    const ref = this.record(w, ctx, method)
    const proven = ctx.peerKey
    if (proven !== undefined && (w.k === undefined || !keysEqual(w.k, proven))) {
      const claimed = w.k === undefined ? 'no key' : `key ${shortHex(w.k)}`
      const message = `${method}: the record of ${w.addr}/${w.v} names ${claimed}, not the ${shortHex(proven)} its sender proved`
      this.refused(ctx, message)
      throw new ForbiddenError(message)
    }
    return ref
  }

  private refused (ctx: RequestContext, message: string): void {
    const peer = peerLabel(ctx.remoteAddress, ctx.peerKey)
    const more = this.refusals.admit(peer)
    if (more !== undefined) this.log.error('refused %s from %s%s', message, peer, more)
  }
}
