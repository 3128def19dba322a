import { Level } from 'level'
import { LRUCache } from 'lru-cache'
import { createLogger, keyFromHex, toHex, type ComponentLogger, type Key, type Logger } from '../../core/index.js'
import { isBlockKind } from '../block.js'
import { DEFAULT_CACHE_BYTES, type BlockCache, type BlockCacheStats, type CachedBlock } from './block-store.js'
import { KeyedLock } from './keyed-lock.js'
import { mapStorageError } from './level-encoding.js'

export interface LevelBlockCacheComponents {
  logger?: ComponentLogger
}

export interface LevelBlockCacheInit {
  /** Directory of the cache's own LevelDB (not the replica store's): emptied on every open. */
  location: string
  /** Bytes of blocks the cache may hold. @default DEFAULT_CACHE_BYTES (block-store.ts) */
  maxBytes?: number
  /** LevelDB's memtable size. @default DEFAULT_CACHE_WRITE_BUFFER_BYTES */
  writeBufferBytes?: number
}

/** The cache's LevelDB memtable size. */
export const DEFAULT_CACHE_WRITE_BUFFER_BYTES = 16 * 1024 * 1024
/** Record header: kind (1 byte), cachedAt (float64 big-endian). */
const HEADER_BYTES = 9

/**
 * The lookup-path cache on disk, so it can be larger than memory allows. An in-memory
 * lru-cache of key → size decides what stays; evicting from it deletes the record. The cache
 * does not survive a restart: open() empties it, since an index rebuilt from disk would have
 * lost the recency order anyway, and cached copies are cheap to lose.
 */
export class LevelBlockCache implements BlockCache {
  private readonly log: Logger
  private readonly location: string
  private readonly maxBytes: number
  private readonly db: Level<Uint8Array, Uint8Array>
  private readonly index: LRUCache<string, number>
  /** Orders each key's writes and deletes, so an eviction's delete never lands after a newer put. */
  private readonly lock = new KeyedLock()
  private readonly evictions = new Set<Promise<void>>()
  private hits = 0
  private misses = 0

  constructor (components: LevelBlockCacheComponents, init: LevelBlockCacheInit) {
    this.log = (components.logger ?? createLogger()).forComponent('dhash:cache')
    this.location = init.location
    this.maxBytes = init.maxBytes ?? DEFAULT_CACHE_BYTES
    this.db = new Level<Uint8Array, Uint8Array>(init.location, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      writeBufferSize: init.writeBufferBytes ?? DEFAULT_CACHE_WRITE_BUFFER_BYTES,
    })
    this.index = new LRUCache<string, number>({
      maxSize: this.maxBytes,
      sizeCalculation: (size) => Math.max(1, size),
      // Only evictions delete here: replace ('set') has already written the new record, and
      // delete() removes its own.
      dispose: (_size, hex, reason) => { if (reason === 'evict') this.evict(hex) },
    })
  }

  async open (): Promise<void> {
    try {
      await this.db.open()
      await this.db.clear()
    } catch (err) {
      throw mapStorageError(err, this.location)
    }
    this.index.clear()
  }

  async close (): Promise<void> {
    this.index.clear()
    await Promise.allSettled([...this.evictions])
    await this.db.close()
  }

  async get (key: Key): Promise<CachedBlock | undefined> {
    if (this.index.get(toHex(key)) === undefined) {
      this.misses++
      return undefined
    }
    const record = await this.db.get(key)
    const block = record === undefined ? undefined : decodeRecord(record)
    if (block === undefined) {
      // Indexed but gone or unreadable (an eviction raced a re-put): drop it, count a miss.
      await this.delete(key)
      this.misses++
      return undefined
    }
    this.hits++
    return block
  }

  async put (key: Key, block: CachedBlock): Promise<void> {
    const hex = toHex(key)
    const size = Math.max(1, block.bytes.length)
    // lru-cache refuses an entry larger than the whole cache; so do we, without writing it.
    if (size > this.maxBytes) {
      await this.delete(key)
      return
    }
    await this.lock.run(hex, async () => {
      try {
        await this.db.put(key, encodeRecord(block))
      } catch (err) {
        throw mapStorageError(err, this.location)
      }
    })
    this.index.set(hex, size)
  }

  async delete (key: Key): Promise<void> {
    const hex = toHex(key)
    this.index.delete(hex)
    await this.lock.run(hex, async () => { await this.db.del(key) })
  }

  stats (): BlockCacheStats {
    return { entries: this.index.size, bytes: this.index.calculatedSize, hits: this.hits, misses: this.misses }
  }

  private evict (hex: string): void {
    const done = this.lock.run(hex, async () => { await this.db.del(keyFromHex(hex)) })
      .catch((err: unknown) => { this.log.error('evicting %s: %s', hex.slice(0, 8), err) })
    this.evictions.add(done)
    void done.finally(() => { this.evictions.delete(done) })
  }
}

function encodeRecord (block: CachedBlock): Uint8Array {
  const record = Buffer.allocUnsafe(HEADER_BYTES + block.bytes.length)
  record[0] = block.kind
  record.writeDoubleBE(block.cachedAt, 1)
  record.set(block.bytes, HEADER_BYTES)
  return record
}

/** undefined for a record this code did not write: a cache may drop what it cannot read. */
function decodeRecord (record: Uint8Array): CachedBlock | undefined {
  const kind = record[0]
  if (record.length < HEADER_BYTES || !isBlockKind(kind)) return undefined
  const cachedAt = Buffer.from(record.buffer, record.byteOffset, record.byteLength).readDoubleBE(1)
  return { kind, cachedAt, bytes: new Uint8Array(record.subarray(HEADER_BYTES)) }
}
