import type { AbortOptions, Key } from '../core/index.js'
import type { BlockKind } from './block.js'

export interface PutOptions extends AbortOptions {
  /** Lease length asked for, in milliseconds from now. @default the service's default lease */
  leaseMs?: number
  /** Hex public key the block is accounted to (quotas). */
  owner?: string
  /** Roots: the put succeeds only if the stored sequence number is this (0: none yet). */
  expectSeq?: number
}

export interface PutResult {
  readonly key: Key
  /** Nodes that hold the block now. */
  readonly replicas: number
  /** Nodes that should (k). */
  readonly wanted: number
  /** Fewer replicas than wanted: too few nodes reachable. */
  readonly degraded: boolean
}

export interface RefreshOptions extends AbortOptions {
  /** Lease length asked for, in milliseconds from now. @default the service's default lease */
  leaseMs?: number
}

export interface RefreshResult {
  /** Keys no replica holds any more: the owner must put them again. */
  readonly missing: Key[]
}

export interface ReleaseOptions extends AbortOptions {
  /** The owner's public key: only blocks accounted to it are dropped. */
  owner: Uint8Array
  /** Signs a release message with the owner's secret key (release.ts gives the message). */
  sign: (message: Uint8Array) => Uint8Array
  /** The lease the owner puts and refreshes with (copies with a later lease end are kept). @default the service's */
  leaseMs?: number
}

export interface ReleaseResult {
  /** Copies dropped, over every holder. */
  readonly released: number
  /** Holders that could not be asked (their copies go when their leases end). */
  readonly failed: number
}

export interface WatchOptions extends AbortOptions {
  /** How long the holders hold one watch before answering "nothing newer". @default the service's */
  waitMs?: number
}

/**
 * The narrow interface the file tree sees: verified blocks by key. Every block returned has
 * been checked against its key (content hash, or root signature and key).
 */
export interface BlockService {
  put: (kind: BlockKind, key: Key, bytes: Uint8Array, options?: PutOptions) => Promise<PutResult>
  get: (kind: BlockKind, key: Key, options?: AbortOptions) => Promise<Uint8Array>
  has: (key: Key, options?: AbortOptions) => Promise<boolean>
  refresh: (keys: readonly Key[], options?: RefreshOptions) => Promise<RefreshResult>
  /**
   * Waits for a root of `key` newer than sequence number `after`: its bytes (verified: key,
   * signature, a higher sequence number) as soon as one of its holders stores one, or
   * undefined when the wait ends first. Throws when no holder would take the watch (BusyError
   * when all refused it). Absent where nothing pushes: callers poll `get` instead.
   */
  watchRoot?: (key: Key, after: number, options?: WatchOptions) => Promise<Uint8Array | undefined>
  /**
   * The owner's early release of content blocks it no longer reaches (dhash.release): each
   * holder drops its copy if the block is accounted to the owner alone. Absent where blocks
   * only go when their leases end.
   */
  release?: (keys: readonly Key[], options: ReleaseOptions) => Promise<ReleaseResult>
  /**
   * Gives back the memory of bytes `get` returned: the caller no longer uses them and has
   * kept no view of them, and the service may write other blocks into that memory. Absent, or
   * doing nothing, where the memory is simply left to the collector.
   */
  recycle?: (bytes: Uint8Array) => void
}
