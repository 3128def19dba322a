export type {
  BlockCache, BlockCacheStats, BlockMeta, BlockStore, BlockStoreStats, CachedBlock, KeyInterval, StoredBlock,
} from './block-store.js'
export { inInterval } from './interval.js'
export { MemoryBlockStore } from './memory-block-store.js'
export { MemoryBlockCache, type MemoryBlockCacheInit } from './memory-block-cache.js'
export { LevelBlockStore, type LevelBlockStoreComponents, type LevelBlockStoreInit } from './level-block-store.js'
export { LevelBlockCache, type LevelBlockCacheComponents, type LevelBlockCacheInit } from './level-block-cache.js'
