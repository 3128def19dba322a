import { LRUCache } from 'lru-cache'
import { raceSignal, toHex, type AbortOptions, type Key } from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import { CONTENT_BLOCK } from './format.js'
import type { BorrowedData, NodeCodec } from './tree-store.js'

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

/** A data block in the cache, and who may still refer to its bytes. */
interface DataEntry {
  readonly bytes: Uint8Array
  /** Borrows not yet released. */
  holds: number
  /**
   * Handed out by getData (or never cached): someone may keep a view of it for as long as it
   * likes, so its memory is never given back.
   */
  escaped: boolean
  /** Out of the cache (read past, evicted or forgotten). */
  gone: boolean
  /** Given back to the BlockService: its memory now belongs to other blocks. */
  recycled: boolean
}

/**
 * Reads content blocks through the BlockService (which verifies them) with a cache of
 * decoded metadata and of recent data blocks. Blocks are immutable, so nothing is ever stale.
 * Concurrent reads of one key share one fetch.
 *
 * A data block's memory is given back to the BlockService (recycle: the frame it arrived in
 * is read into again) once it has left the cache and nobody can still refer to it: only
 * borrowers (borrowData) had it, and all of them released it. getData hands out bytes for
 * good, so a block anyone got that way is left to the collector.
 */
export class BlockReader {
  /** By key (hex), with the codec it was decoded by: a block asked for as another kind is a miss. */
  private readonly meta: LRUCache<string, { codec: string, value: unknown }>
  private readonly data: LRUCache<string, DataEntry>
  private readonly inflight = new Map<string, Promise<Uint8Array>>()
  /** Data fetches, apart from metadata's: bytes a metadata decoding may keep views of are never recycled. */
  private readonly dataInflight = new Map<string, Promise<DataEntry>>()

  constructor (private readonly blocks: Pick<BlockService, 'get' | 'recycle'>, init: BlockReaderInit = {}) {
    // Decoded sizes are not known; the encoded size given to remember() stands in for them.
    this.meta = new LRUCache({ maxSize: Math.max(1, init.metaCacheBytes ?? DEFAULT_META_CACHE_BYTES) })
    this.data = new LRUCache({
      maxSize: Math.max(1, init.dataCacheBytes ?? DEFAULT_DATA_CACHE_BYTES),
      sizeCalculation: (e) => Math.max(1, e.bytes.length),
      dispose: (e) => {
        e.gone = true
        this.recycleIfFree(e)
      },
    })
  }

  /** A decoded metadata block from the cache, if it is there. `hex`, here and below: the key's, when the caller has it. */
  cached<T> (key: Key, codec: NodeCodec<T>, hex = toHex(key)): T | undefined {
    const hit = this.meta.get(hex)
    return hit?.codec === codec.name ? hit.value as T : undefined
  }

  /** A data block from the cache, if it is there (the caller's for good, as getData's). */
  cachedData (key: Key): Uint8Array | undefined {
    const hit = this.data.get(toHex(key))
    if (hit === undefined) return undefined
    hit.escaped = true
    return hit.bytes
  }

  /** Puts a decoded block in the cache (a writer primes it with what it just encoded). */
  remember<T> (key: Key, codec: NodeCodec<T>, value: T, encodedBytes: number, hex = toHex(key)): void {
    this.meta.set(hex, { codec: codec.name, value }, { size: Math.max(1, encodedBytes) })
  }

  /**
   * Drops a data block a sequential reader has read past. Kept for the reads of the cache's
   * size (32 blocks of 1 MiB), every streamed block outlived a scavenge or two and was promoted
   * to V8's old generation: a cold read then made the mount's collector run every few hundred
   * milliseconds. Dropped here, a block lives from its read-ahead to its last read, and its
   * memory is given back once no borrower holds it.
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

  /** A data block's bytes, the caller's to keep (they are never given back). */
  async getData (key: Key, options: AbortOptions = {}): Promise<Uint8Array> {
    const entry = await this.dataEntry(key, options, (e) => { e.escaped = true })
    return entry.bytes
  }

  /**
   * A data block's bytes, lent: they stay this block's until `release`, which the caller
   * calls once it has copied what it needs and keeps no view of them. After that, and once
   * the block has left the cache, its memory may hold other blocks.
   */
  async borrowData (key: Key, options: AbortOptions = {}): Promise<BorrowedData> {
    const entry = await this.dataEntry(key, options, (e) => { e.holds++ })
    let released = false
    return {
      bytes: entry.bytes,
      release: () => {
        if (released) return
        released = true
        entry.holds--
        this.recycleIfFree(entry)
      },
    }
  }

  /** Fetches a data block into the cache, if it is not there, without handing it out (read-ahead). */
  prefetchData (key: Key): void {
    this.dataEntry(key, {}, undefined).catch(() => {}) // the read that needs it meets the failure again
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

  /**
   * The cache's entry for a data block, fetched (once, however many ask) if it is not there,
   * with `take` (a hold, or the escape) applied to it in the same turn that checked it still
   * holds the block. An entry is never recycled while cached, but one may leave the cache and
   * be recycled before a caller that waited for its fetch gets its turn: that caller has it
   * fetched again for itself alone, kept for good (a read-ahead, which takes nothing, does not).
   */
  private async dataEntry (key: Key, options: AbortOptions, take: ((e: DataEntry) => void) | undefined, hex = toHex(key)): Promise<DataEntry> {
    const hit = this.data.get(hex)
    if (hit !== undefined) {
      take?.(hit)
      return hit
    }
    let pending = this.dataInflight.get(hex)
    if (pending === undefined) {
      const fetched: Promise<DataEntry> = this.blocks.get(CONTENT_BLOCK, key).then((bytes) => this.cache(hex, bytes))
      pending = fetched
      this.dataInflight.set(hex, fetched)
      const clear = (): void => { if (this.dataInflight.get(hex) === fetched) this.dataInflight.delete(hex) }
      fetched.then(clear, clear)
    }
    const entry = await raceSignal(pending, options.signal)
    if (!entry.recycled || take === undefined) {
      take?.(entry)
      return entry
    }
    const own: DataEntry = { bytes: await this.fetch(key, options, hex), holds: 0, escaped: true, gone: true, recycled: false }
    take(own)
    return own
  }

  /** A new cache entry for fetched bytes; one the cache would not take (larger than it) is never recycled. */
  private cache (hex: string, bytes: Uint8Array): DataEntry {
    const entry: DataEntry = { bytes, holds: 0, escaped: true, gone: false, recycled: false }
    this.data.set(hex, entry)
    if (this.data.peek(hex) === entry) entry.escaped = false
    else entry.gone = true
    return entry
  }

  private recycleIfFree (e: DataEntry): void {
    if (!e.gone || e.holds > 0 || e.escaped || e.recycled || this.blocks.recycle === undefined) return
    e.recycled = true
    this.blocks.recycle(e.bytes)
  }
}
