import { raceSignal, toHex, type AbortOptions, type Key } from '../core/index.js'
import { errorForStatus, statusForError, type Transport } from '../net/index.js'
import { parseResponse, type NodeRef } from '../chord/index.js'
import type { BlockKind } from './block.js'
import { Coalescer } from './coalescer.js'
import type { ReleaseGrant } from './release.js'
import {
  DHashMethod, MAX_BATCH_BLOCKS, digestResponse, emptyResponse, extendResponse, getResponse, hasResponse, keysResponse,
  putResponse, refreshResponse, releaseResponse, storeResponse, watchResponse, type PutItem, type StoreItem,
} from './messages.js'

/** Deadline of one DHash RPC (a batch of blocks may be several MiB). */
export const DEFAULT_DHASH_RPC_TIMEOUT_MS = 10_000

export interface RpcOptions extends AbortOptions {
  timeoutMs?: number
}

/**
 * Who a call goes to: an endpoint's address and the key its ring record pins, which the link
 * must prove (`RequestOptions.peerKey`). A node of the ring is given as its NodeRef; an address
 * an operator gave has no key (first contact takes any).
 */
export type Peer = Pick<NodeRef, 'address' | 'key'>

/** One batching lane per endpoint and pin: calls to one address pinned to different keys never share a request. */
function laneOf (peer: Peer): string {
  return peer.key === undefined ? peer.address : `${peer.address}#${toHex(peer.key)}`
}

/** One item's outcome on the wire: [0, value] or [status, message]. */
export type Outcome<T> = [0, T] | [number, string]

export function toOutcome<T> (settled: PromiseSettledResult<T>): Outcome<T> {
  if (settled.status === 'fulfilled') return [0, settled.value]
  const err = settled.reason as Error
  return [statusForError(err), String(err?.message ?? err)]
}

function fromOutcome<T> (o: Outcome<T>, method: string): T | Error {
  return o[0] === 0 ? o[1] as T : errorForStatus(o[0], o[1] as string, method)
}

/**
 * Outgoing DHash RPCs, every call pinned to its peer's key and every reply schema-checked.
 * Block bytes are verified by the callers. Puts and stores go through coalescers: concurrent
 * calls to one node share batch requests.
 */
export class DHashRpc {
  private readonly puts: Coalescer<{ primary: NodeRef, item: PutItem }, { replicas: number, wanted: number }>
  private readonly stores: Coalescer<{ peer: Peer, item: StoreItem }, boolean>

  constructor (private readonly transport: Transport, private readonly rpcTimeoutMs: number = DEFAULT_DHASH_RPC_TIMEOUT_MS) {
    this.puts = new Coalescer(async (_dest, batch, options) => {
      const primary = (batch[0] as { primary: NodeRef }).primary
      const body = { to: primary.id, items: batch.map((b) => b.item) }
      const r = parseResponse(putResponse, await this.call(primary, DHashMethod.PUT, body, options), DHashMethod.PUT)
      return r.results.map((o) => {
        const v = fromOutcome(o as Outcome<number>, DHashMethod.PUT)
        return v instanceof Error ? v : { replicas: v, wanted: r.wanted }
      })
    }, { maxItems: MAX_BATCH_BLOCKS })
    this.stores = new Coalescer(async (_lane, batch, options) => {
      const peer = (batch[0] as { peer: Peer }).peer
      const body = { items: batch.map((b) => b.item) }
      const r = parseResponse(storeResponse, await this.call(peer, DHashMethod.STORE, body, options), DHashMethod.STORE)
      return r.results.map((o) => fromOutcome(o as Outcome<boolean>, DHashMethod.STORE))
    }, { maxItems: MAX_BATCH_BLOCKS })
  }

  /** Accepts puts and stores again after stop(); a new DHashRpc is open already. */
  start (): void {
    this.puts.start()
    this.stores.start()
  }

  /**
   * Shutdown: puts and stores still queued for a batch fail with ShuttingDownError instead of
   * being sent, and batches on the wire are aborted; resolves once they have settled.
   */
  async stop (): Promise<void> {
    await Promise.all([this.puts.stop(), this.stores.stop()])
  }

  private async call (peer: Peer, method: string, body: Record<string, unknown>, options: RpcOptions): Promise<unknown> {
    return this.transport.request(peer.address, method, body, {
      signal: options.signal, timeoutMs: options.timeoutMs ?? this.rpcTimeoutMs, ...(peer.key === undefined ? {} : { peerKey: peer.key }),
    })
  }

  /** Stores a block through its primary, which replicates it; answers how many hold it. */
  async put (primary: NodeRef, item: PutItem, options: RpcOptions = {}): Promise<{ replicas: number, wanted: number }> {
    return raceSignal(this.puts.submit(`${laneOf(primary)}#${primary.hex}`, { primary, item }, item.bytes.length), options.signal)
  }

  /** Asks a node to keep a replica; false when it already held the same or a newer version. Ring nodes only (FORBIDDEN otherwise). */
  async store (peer: Peer, item: StoreItem, options: RpcOptions = {}): Promise<boolean> {
    return raceSignal(this.stores.submit(laneOf(peer), { peer, item }, item.bytes.length), options.signal)
  }

  async get (peer: Peer, key: Key, cache: boolean, options: RpcOptions = {}): Promise<{ kind: BlockKind, bytes: Uint8Array }> {
    return parseResponse(getResponse, await this.call(peer, DHashMethod.GET, { key, cache }, options), DHashMethod.GET)
  }

  async has (peer: Peer, keys: readonly Key[], options: RpcOptions = {}): Promise<boolean[]> {
    const r = parseResponse(hasResponse, await this.call(peer, DHashMethod.HAS, { keys }, options), DHashMethod.HAS)
    if (r.have.length !== keys.length) throw new TypeError('dhash.has: answer length differs from the question')
    return r.have
  }

  async refresh (primary: NodeRef, keys: readonly Key[], leaseMs: number, options: RpcOptions = {}): Promise<{ missing: Key[], replicas: number }> {
    const body = { to: primary.id, keys, leaseMs }
    return parseResponse(refreshResponse, await this.call(primary, DHashMethod.REFRESH, body, options), DHashMethod.REFRESH)
  }

  /** Ring nodes only (FORBIDDEN otherwise). */
  async extend (peer: Peer, keys: readonly Key[], expiresAt: number, options: RpcOptions = {}): Promise<Key[]> {
    return parseResponse(extendResponse, await this.call(peer, DHashMethod.EXTEND, { keys, expiresAt }, options), DHashMethod.EXTEND).missing
  }

  async cache (peer: Peer, key: Key, kind: BlockKind, bytes: Uint8Array, options: RpcOptions = {}): Promise<void> {
    parseResponse(emptyResponse, await this.call(peer, DHashMethod.CACHE, { key, kind, bytes }, options), DHashMethod.CACHE)
  }

  /** Ring nodes only (FORBIDDEN otherwise). */
  async digest (peer: Peer, from: Key, to: Key, options: RpcOptions = {}): Promise<Array<[number, Key]>> {
    return parseResponse(digestResponse, await this.call(peer, DHashMethod.DIGEST, { from, to }, options), DHashMethod.DIGEST).buckets
  }

  /**
   * A long poll for a root newer than `after` (dhash.watch): its bytes, unverified, or
   * undefined once `waitMs` passed. The RPC's deadline is `waitMs` plus the usual one.
   */
  async watch (peer: Peer, key: Key, after: number, waitMs: number, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    const answer = await this.call(peer, DHashMethod.WATCH, { key, after, waitMs }, { ...options, timeoutMs: waitMs + this.rpcTimeoutMs })
    return parseResponse(watchResponse, answer, DHashMethod.WATCH).bytes
  }

  /** An owner's signed release of `keys` at one holder (release.ts): how many it dropped. */
  async release (peer: Peer, keys: readonly Key[], grant: ReleaseGrant, options: RpcOptions = {}): Promise<number> {
    const body = { keys, owner: grant.owner, time: grant.time, leaseMs: grant.leaseMs, sig: grant.sig }
    return parseResponse(releaseResponse, await this.call(peer, DHashMethod.RELEASE, body, options), DHashMethod.RELEASE).released
  }

  /** Ring nodes only (FORBIDDEN otherwise). */
  async keys (peer: Peer, from: Key, to: Key, limit: number, options: RpcOptions = {}): Promise<{ keys: Key[], more: boolean }> {
    return parseResponse(keysResponse, await this.call(peer, DHashMethod.KEYS, { from, to, limit }, options), DHashMethod.KEYS)
  }
}
