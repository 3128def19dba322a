export { BlockKind, MAX_BLOCK_BYTES, contentKey, verifyContentBlock, isBlockKind } from './block.js'
export { rootKey, encodeRoot, decodeRoot, generateSecretKey, publicKeyOf, ROOT_FORMAT_VERSION, type RootBlock } from './root-block.js'
export { verifyBlock, type VerifiedBlock } from './verify.js'
export type { BlockService, PutOptions, PutResult, RefreshOptions, RefreshResult } from './block-service.js'
export { DHash, type DHashComponents, type DHashInit, type DHashStats } from './dhash.js'
export { DHashClient, DEFAULT_LEASE_MS, type DHashClientInit, type DHashClientStats } from './dhash-client.js'
export { DHashRpc, DEFAULT_DHASH_RPC_TIMEOUT_MS } from './dhash-rpc.js'
export { DHashMethod } from './messages.js'
export { DEFAULT_REPLICAS, replicaSet } from './replica-set.js'
export {
  checkReplicas, replicaHealth, DEFAULT_CHECK_CONCURRENCY, DEFAULT_CHECK_TIMEOUT_MS,
  type CheckReplicasOptions, type HolderAnswer, type HolderState, type ReplicaCheck, type ReplicaCheckComponents, type ReplicaHealth,
} from './replica-check.js'
export { ReplicaStore, DAY_MS, DEFAULT_MAX_LEASE_MS, type ReplicaStoreInit } from './replica-store.js'
export { DEFAULT_REPAIR_INTERVAL_MS, type RepairReport } from './maintenance.js'
export type { BlockStore, BlockCache, StoredBlock, BlockMeta, KeyInterval } from './store/block-store.js'
export { MemoryBlockStore } from './store/memory-block-store.js'
export { MemoryBlockCache } from './store/memory-block-cache.js'
export { LevelBlockStore, LevelBlockCache, type LevelBlockStoreInit, type LevelBlockCacheInit } from './store/index.js'
