import type { AbortOptions, Key } from '../core/index.js'
import type { Transport } from '../net/index.js'
import { parseResponse, type NodeRef } from '../chord/index.js'
import type { BlockKind } from './block.js'
import {
  DHashMethod, digestResponse, emptyResponse, extendResponse, getResponse, hasResponse, keysResponse, putResponse,
  refreshResponse, storeResponse,
} from './messages.js'

export interface RpcOptions extends AbortOptions {
  timeoutMs?: number
}

/** Outgoing DHash RPCs, every reply schema-checked. Block bytes are verified by the callers. */
export class DHashRpc {
  constructor (private readonly transport: Transport, private readonly rpcTimeoutMs: number) {}

  private async call (address: string, method: string, body: Record<string, unknown>, options: RpcOptions): Promise<unknown> {
    return this.transport.request(address, method, body, { signal: options.signal, timeoutMs: options.timeoutMs ?? this.rpcTimeoutMs })
  }

  async put (primary: NodeRef, req: { key: Key, kind: BlockKind, bytes: Uint8Array, ttlMs: number, owner?: string, expectSeq?: number }, options: RpcOptions = {}): Promise<{ replicas: number, wanted: number }> {
    const body = { to: primary.id, ...req }
    return parseResponse(putResponse, await this.call(primary.address, DHashMethod.PUT, body, options), DHashMethod.PUT)
  }

  async store (address: string, req: { key: Key, kind: BlockKind, bytes: Uint8Array, expiresAt: number, owner: string }, options: RpcOptions = {}): Promise<boolean> {
    return parseResponse(storeResponse, await this.call(address, DHashMethod.STORE, req, options), DHashMethod.STORE).stored
  }

  async get (address: string, key: Key, cache: boolean, options: RpcOptions = {}): Promise<{ kind: BlockKind, bytes: Uint8Array }> {
    return parseResponse(getResponse, await this.call(address, DHashMethod.GET, { key, cache }, options), DHashMethod.GET)
  }

  async has (address: string, keys: readonly Key[], options: RpcOptions = {}): Promise<boolean[]> {
    const r = parseResponse(hasResponse, await this.call(address, DHashMethod.HAS, { keys }, options), DHashMethod.HAS)
    if (r.have.length !== keys.length) throw new TypeError('dhash.has: answer length differs from the question')
    return r.have
  }

  async refresh (primary: NodeRef, keys: readonly Key[], ttlMs: number, options: RpcOptions = {}): Promise<{ missing: Key[], replicas: number }> {
    const body = { to: primary.id, keys, ttlMs }
    return parseResponse(refreshResponse, await this.call(primary.address, DHashMethod.REFRESH, body, options), DHashMethod.REFRESH)
  }

  async extend (address: string, keys: readonly Key[], expiresAt: number, options: RpcOptions = {}): Promise<Key[]> {
    return parseResponse(extendResponse, await this.call(address, DHashMethod.EXTEND, { keys, expiresAt }, options), DHashMethod.EXTEND).missing
  }

  async cache (address: string, key: Key, kind: BlockKind, bytes: Uint8Array, options: RpcOptions = {}): Promise<void> {
    parseResponse(emptyResponse, await this.call(address, DHashMethod.CACHE, { key, kind, bytes }, options), DHashMethod.CACHE)
  }

  async digest (address: string, from: Key, to: Key, options: RpcOptions = {}): Promise<Array<[number, Key]>> {
    return parseResponse(digestResponse, await this.call(address, DHashMethod.DIGEST, { from, to }, options), DHashMethod.DIGEST).buckets
  }

  async keys (address: string, from: Key, to: Key, limit: number, options: RpcOptions = {}): Promise<{ keys: Key[], more: boolean }> {
    return parseResponse(keysResponse, await this.call(address, DHashMethod.KEYS, { from, to, limit }, options), DHashMethod.KEYS)
  }
}
