import { LRUCache } from 'lru-cache'
import { raceSignal, toHex, type AbortOptions, type Key } from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import { CONTENT_BLOCK } from './format.js'
import type { NodeCodec } from './tree-store.js'

/** Bytes of decoded metadata blocks a BlockReader keeps (counted at their encoded size). */
export const DEFAULT_META_CACHE_BYTES = 32 * 1024 * 1024
/** Bytes of data blocks a BlockReader keeps. */
export const DEFAULT_DATA_CACHE_BYTES = 32 * 1024 * 1024

export interface BlockReaderInit {
  /** Bytes of decoded metadata blocks kept (counted at their encoded size). @default DEFAULT_META_CACHE_BYTES */
  metaCacheBytes?: number
  /** Bytes of data blocks kept, so small reads within one block fetch it once. @default DEFAULT_DATA_CACHE_BYTES */
  dataCacheBytes?: number
}

/**
 * Reads content blocks through the BlockService (which verifies them) with a cache of
 * decoded metadata and of recent data blocks. Blocks are immutable, so nothing is ever stale.
 * Concurrent reads of one key share one fetch.
 */
export class BlockReader {
  /** By key (hex), with the codec it was decoded by: a block asked for as another kind is a miss. */
  private readonly meta: LRUCache<string, { codec: string, value: unknown }>
  private readonly data: LRUCache<string, Uint8Array>
  private readonly inflight = new Map<string, Promise<Uint8Array>>()

  constructor (private readonly blocks: Pick<BlockService, 'get'>, init: BlockReaderInit = {}) {
    // Decoded sizes are not known; the encoded size given to remember() stands in for them.
    this.meta = new LRUCache({ maxSize: Math.max(1, init.metaCacheBytes ?? DEFAULT_META_CACHE_BYTES) })
    this.data = new LRUCache({ maxSize: Math.max(1, init.dataCacheBytes ?? DEFAULT_DATA_CACHE_BYTES), sizeCalculation: (b) => Math.max(1, b.length) })
  }

  /** A decoded metadata block from the cache, if it is there. `hex`, here and below: the key's, when the caller has it. */
  cached<T> (key: Key, codec: NodeCodec<T>, hex = toHex(key)): T | undefined {
    const hit = this.meta.get(hex)
    return hit?.codec === codec.name ? hit.value as T : undefined
  }

  /** A data block from the cache, if it is there. */
  cachedData (key: Key): Uint8Array | undefined {
    return this.data.get(toHex(key))
  }

  /** Puts a decoded block in the cache (a writer primes it with what it just encoded). */
  remember<T> (key: Key, codec: NodeCodec<T>, value: T, encodedBytes: number, hex = toHex(key)): void {
    this.meta.set(hex, { codec: codec.name, value }, { size: Math.max(1, encodedBytes) })
  }

  /**
   * Drops a data block a sequential reader has read past. Kept for the reads of the cache's
   * size (32 blocks of 1 MiB), every streamed block outlived a scavenge or two and was promoted
   * to V8's old generation: a cold read then made the mount's collector run every few hundred
   * milliseconds. Dropped here, a block lives from its read-ahead to its last read.
   */
  readPast (key: Key): void {
    this.data.delete(toHex(key))
  }

  /** Drops blocks from the caches: the owner released them, and reads must not find them here either. */
  forget (keys: readonly Key[]): void {
    for (const key of keys) {
      const hex = toHex(key)
      this.data.delete(hex)
      this.meta.delete(hex)
    }
  }

  async load<T> (key: Key, codec: NodeCodec<T>, options: AbortOptions = {}, hex = toHex(key)): Promise<T> {
    const hit = this.cached(key, codec, hex)
    if (hit !== undefined) return hit
    const bytes = await this.fetch(key, options, hex)
    // Callers that shared the fetch find the first one's decoding here.
    return this.cached(key, codec, hex) ?? this.decode(key, codec, bytes, hex)
  }

  /** Decodes a block's bytes and caches the value. */
  decode<T> (key: Key, codec: NodeCodec<T>, bytes: Uint8Array, hex = toHex(key)): T {
    const value = codec.decode(bytes, `${codec.name} ${hex.slice(0, 8)}`)
    this.remember(key, codec, value, bytes.length, hex)
    return value
  }

  async getData (key: Key, options: AbortOptions = {}): Promise<Uint8Array> {
    const hex = toHex(key)
    const hit = this.data.get(hex)
    if (hit !== undefined) return hit
    const bytes = await this.fetch(key, options)
    this.data.set(hex, bytes)
    return bytes
  }

  /**
   * Raw bytes of a content block, fetched once however many ask at the same time. The shared
   * fetch runs without any one caller's signal (one reader giving up must not fail another);
   * each caller stops waiting when its own signal aborts.
   */
  async fetch (key: Key, options: AbortOptions = {}, hex = toHex(key)): Promise<Uint8Array> {
    let pending = this.inflight.get(hex)
    if (pending === undefined) {
      pending = this.blocks.get(CONTENT_BLOCK, key)
      this.inflight.set(hex, pending)
      const clear = (): void => { this.inflight.delete(hex) }
      pending.then(clear, clear)
    }
    return raceSignal(pending, options.signal)
  }
}
