import { LRUCache } from 'lru-cache'
import { toHex, type Key } from '../../core/index.js'
import { DEFAULT_CACHE_BYTES, type BlockCache, type BlockCacheStats, type CachedBlock } from './block-store.js'

export interface MemoryBlockCacheInit {
  /** Bytes the cache may hold. @default DEFAULT_CACHE_BYTES (block-store.ts) */
  maxBytes?: number
}

/** The lookup-path cache in memory (lru-cache, bounded by bytes). */
export class MemoryBlockCache implements BlockCache {
  private readonly lru: LRUCache<string, CachedBlock>
  private hits = 0
  private misses = 0

  constructor (init: MemoryBlockCacheInit = {}) {
    this.lru = new LRUCache({ maxSize: init.maxBytes ?? DEFAULT_CACHE_BYTES, sizeCalculation: (b) => Math.max(1, b.bytes.length) })
  }

  async open (): Promise<void> {}
  async close (): Promise<void> { this.lru.clear() }

  async get (key: Key): Promise<CachedBlock | undefined> {
    const b = this.lru.get(toHex(key))
    if (b === undefined) {
      this.misses++
      return undefined
    }
    this.hits++
    return { ...b, bytes: new Uint8Array(b.bytes) }
  }

  async put (key: Key, block: CachedBlock): Promise<void> {
    this.lru.set(toHex(key), { ...block, bytes: new Uint8Array(block.bytes) })
  }

  async delete (key: Key): Promise<void> {
    this.lru.delete(toHex(key))
  }

  stats (): BlockCacheStats {
    return { entries: this.lru.size, bytes: this.lru.calculatedSize, hits: this.hits, misses: this.misses }
  }
}
