import { ProtocolError, keysEqual, type AbortOptions, type Key } from '../core/index.js'
import type { Transport } from '../net/index.js'
import {
  ChordMethod, emptyResponse, fingersResponse, nextResponse, parseResponse, pingResponse, stateResponse, vnodesResponse,
} from './messages.js'
import { fromWire, toWire, type NodeRef } from './node-ref.js'
import type { NextHop } from './routing-table.js'

/** `preds`: its predecessor list, when asked for (empty otherwise). */
export interface RemoteState { self: NodeRef, pred: NodeRef | undefined, succs: NodeRef[], preds: NodeRef[] }

/**
 * Outgoing Chord RPCs. Every call is pinned to the key in the target's record (a peer that
 * cannot prove it is refused by the transport, as unreachable); every reply is schema-checked
 * and every NodeRef in it id-checked.
 */
export class ChordClient {
  constructor (private readonly transport: Transport, private readonly rpcTimeoutMs: number) {}

  private async call (to: NodeRef, method: string, body: Record<string, unknown>, options: AbortOptions): Promise<unknown> {
    return this.transport.request(to.address, method, { to: to.id, ...body }, {
      signal: options.signal, timeoutMs: this.rpcTimeoutMs, ...(to.key === undefined ? {} : { peerKey: to.key }),
    })
  }

  /**
   * The records of the vnodes at `address` (chord.vnodes), for an address an operator gave:
   * their ids derive from the address the endpoint advertises, which may not be this one.
   */
  async vnodes (address: string, options: AbortOptions = {}, timeoutMs = this.rpcTimeoutMs): Promise<NodeRef[]> {
    const answer = await this.transport.request(address, ChordMethod.VNODES, {}, { signal: options.signal, timeoutMs })
    return parseResponse(vnodesResponse, answer, ChordMethod.VNODES).nodes.map(wireNode)
  }

  /** Resolves when `node` answers at its address as the id it claims. */
  async ping (node: NodeRef, options: AbortOptions = {}): Promise<void> {
    const r = parseResponse(pingResponse, await this.call(node, ChordMethod.PING, {}, options), ChordMethod.PING)
    if (!keysEqual(r.id, node.id)) throw new ProtocolError(`${node.address} answered as another node`)
  }

  /**
   * The node's predecessor and successor list; at most `maxSuccessors` of the list if given,
   * and with `maxPredecessors`, that much of its predecessor list.
   */
  async state (node: NodeRef, options: AbortOptions = {}, maxSuccessors?: number, maxPredecessors?: number): Promise<RemoteState> {
    const body = { ...(maxSuccessors === undefined ? {} : { succs: maxSuccessors }), ...(maxPredecessors === undefined ? {} : { preds: maxPredecessors }) }
    const r = parseResponse(stateResponse, await this.call(node, ChordMethod.STATE, body, options), ChordMethod.STATE)
    const self = wireNode(r.self)
    if (!keysEqual(self.id, node.id)) throw new ProtocolError(`${node.address} answered as another node`)
    return { self, pred: r.pred === null ? undefined : wireNode(r.pred), succs: r.succs.map(wireNode), preds: (r.preds ?? []).map(wireNode) }
  }

  async notify (node: NodeRef, self: NodeRef, options: AbortOptions = {}): Promise<void> {
    parseResponse(emptyResponse, await this.call(node, ChordMethod.NOTIFY, { node: toWire(self) }, options), ChordMethod.NOTIFY)
  }

  /** One lookup step; a done answer carries at most `maxSuccessors` nodes if given. */
  async next (node: NodeRef, key: Key, count: number, options: AbortOptions = {}, maxSuccessors?: number): Promise<NextHop> {
    const body = maxSuccessors === undefined ? { key, count } : { key, count, succs: maxSuccessors }
    const r = parseResponse(nextResponse, await this.call(node, ChordMethod.NEXT, body, options), ChordMethod.NEXT)
    return { done: r.done, nodes: r.nodes.map(wireNode) }
  }

  /** The node's distinct fingers, nearest first: unverified hints (see Stabilizer.fixFingersOnce). */
  async fingers (node: NodeRef, options: AbortOptions = {}): Promise<NodeRef[]> {
    const r = parseResponse(fingersResponse, await this.call(node, ChordMethod.FINGERS, {}, options), ChordMethod.FINGERS)
    return r.fingers.map(wireNode)
  }

  async leave (node: NodeRef, leaving: NodeRef, handover: { pred?: NodeRef, succs?: readonly NodeRef[] }, options: AbortOptions = {}): Promise<void> {
    const body = {
      leaving: toWire(leaving),
      ...(handover.pred === undefined ? {} : { pred: toWire(handover.pred) }),
      ...(handover.succs === undefined ? {} : { succs: handover.succs.map(toWire) }),
    }
    parseResponse(emptyResponse, await this.call(node, ChordMethod.LEAVE, body, options), ChordMethod.LEAVE)
  }
}

function wireNode (w: Parameters<typeof fromWire>[0]): NodeRef {
  try {
    return fromWire(w)
  } catch (err) {
    throw new ProtocolError(`peer sent a forged node reference: ${(err as Error).message}`, { cause: err })
  }
}
