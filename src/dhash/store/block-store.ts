import type { Key } from '../../core/index.js'
import type { BlockKind } from '../block.js'

/** What a node keeps about a stored replica, beside its bytes. */
export interface BlockMeta {
  readonly kind: BlockKind
  /** Milliseconds since the epoch after which the block may be garbage-collected. */
  readonly expiresAt: number
  /** Hex public key the block is accounted to ('' when unknown): quotas and status. */
  readonly owner: string
  /** A root's sequence number; 0 for content blocks. */
  readonly seq: number
  /** Bytes of the block. */
  readonly size: number
}

export interface StoredBlock extends BlockMeta {
  readonly bytes: Uint8Array
}

/**
 * An arc of the ring: keys k with from < k <= to, clockwise, wrapping past the top.
 * from == to is the whole ring.
 */
export interface KeyInterval {
  readonly from: Key
  readonly to: Key
}

export interface BlockStoreStats {
  readonly blocks: number
  readonly bytes: number
}

/**
 * A node's replica storage: blocks it is one of the k holders of. Keys iterate in ring (byte)
 * order. Implementations: MemoryBlockStore (simulation, tests) and LevelBlockStore (nodes).
 * Both pass test/contracts/block-store-contract.ts. The store trusts its caller: blocks are
 * verified before they reach it.
 */
export interface BlockStore {
  open: () => Promise<void>
  close: () => Promise<void>
  /** The block with bytes the caller owns (a plain Uint8Array shared with nothing). */
  get: (key: Key) => Promise<StoredBlock | undefined>
  getMeta: (key: Key) => Promise<BlockMeta | undefined>
  has: (key: Key) => Promise<boolean>
  /** Stores or replaces the block at `key`; the store keeps its own copy of the bytes. */
  put: (key: Key, block: StoredBlock) => Promise<void>
  delete: (key: Key) => Promise<void>
  /** Changes a stored block's expiry; false when the key is not stored. */
  setExpiry: (key: Key, expiresAt: number) => Promise<boolean>
  /** Changes the owner a stored block is accounted to; false when the key is not stored. */
  setOwner: (key: Key, owner: string) => Promise<boolean>
  /**
   * Keys in the interval, in ring order starting just after `from`. Puts and deletes during
   * the iteration do not break it; a key deleted meanwhile may or may not still be yielded.
   */
  keys: (interval: KeyInterval) => AsyncIterable<Key>
  /** Keys whose expiry is at or before `now`, at most `limit`: earliest expiry first, ties in key order. */
  expired: (now: number, limit: number) => Promise<Key[]>
  /** Totals, kept incrementally (cheap to call). */
  stats: () => BlockStoreStats
  /** Bytes accounted to each owner, for quotas (rebuilt on open). */
  bytesByOwner: (owner: string) => number
}

export interface CachedBlock {
  readonly kind: BlockKind
  readonly bytes: Uint8Array
  /** When this copy entered the cache (ms since the epoch): cached roots go stale. */
  readonly cachedAt: number
}

export interface BlockCacheStats {
  readonly entries: number
  readonly bytes: number
  readonly hits: number
  readonly misses: number
}

/** Bytes of blocks a lookup-path cache holds, unless told otherwise (memory and LevelDB caches alike). */
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024

/**
 * Copies of blocks pushed along lookup paths (CFS caching), apart from replica storage: bounded
 * by bytes, least recently used evicted first, never counted as a replica.
 */
export interface BlockCache {
  open: () => Promise<void>
  close: () => Promise<void>
  /** A copy the caller owns; counts a hit or a miss and makes the entry most recently used. */
  get: (key: Key) => Promise<CachedBlock | undefined>
  /** A block larger than the whole cache is not kept. */
  put: (key: Key, block: CachedBlock) => Promise<void>
  delete: (key: Key) => Promise<void>
  stats: () => BlockCacheStats
}
