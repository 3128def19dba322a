import {
  Listeners, QuotaExceededError, RootConflictError, RootStaleError, StorageFullError, createLogger, isCfsError, keysEqual, shortHex, toHex,
  type ComponentLogger, type Key, type Logger,
} from '../core/index.js'
import { BlockKind } from './block.js'
import type { BlockCache, BlockMeta, BlockStore, StoredBlock } from './store/block-store.js'
import { KeyedLock } from './store/keyed-lock.js'
import { verifyBlock, type VerifiedBlock } from './verify.js'

export const DAY_MS = 24 * 60 * 60 * 1000
/** Longest lease a node grants; longer requests are cut to it. */
export const DEFAULT_MAX_LEASE_MS = 30 * DAY_MS
/** The window of the per-source put quota. */
export const DEFAULT_SOURCE_WINDOW_MS = 60 * 60 * 1000
/** How long a cached root may be served after it was cached. */
export const DEFAULT_ROOT_CACHE_FRESH_MS = 5_000
/**
 * Content blocks this size or smaller (a file's first bytes, directory nodes, inodes, indirect
 * blocks) may use the space held back at the end of a node's limit; larger ones may not.
 */
export const SMALL_BLOCK_BYTES = 64 * 1024
/** Share of --max-storage-mb held back for roots and small blocks: 2%, at least 1 MiB, at most 1 GiB and a quarter of the limit. */
export const RESERVED_FRACTION = 0.02
export const MIN_RESERVED_BYTES = 1024 * 1024
export const MAX_RESERVED_BYTES = 1024 * 1024 * 1024
/** Expired blocks one collectExpired() (one maintenance round) deletes at most. */
export const DEFAULT_COLLECT_LIMIT = 10_000

export interface ReplicaStoreInit {
  /** Longest lease a node grants; longer requests are cut to it. @default DEFAULT_MAX_LEASE_MS (30 days) */
  maxLeaseMs?: number
  /** Bytes one owner (publishing key) may store on this node. @default unlimited */
  maxBytesPerOwner?: number
  /**
   * Bytes one source may put on this node per window, charged to each source a put names:
   * its host address and, on an authenticated link, its identity. @default unlimited
   */
  maxBytesPerSource?: number
  /** The window for maxBytesPerSource. @default DEFAULT_SOURCE_WINDOW_MS (1 hour) */
  sourceWindowMs?: number
  /** Replica bytes this node holds at most. @default unlimited */
  maxStorageBytes?: number
  /** How long a cached root may be served after it was cached. @default DEFAULT_ROOT_CACHE_FRESH_MS */
  rootCacheFreshMs?: number
  now?: () => number
}

export interface AcceptOptions {
  expiresAt: number
  /** The owner the sender claims (hex public key); a root's owner is always its signer. */
  owner: string
  /** Roots: accept only if the stored sequence number is this (0: none stored). */
  expectSeq?: number
  /**
   * Who is putting the block, for the source quota: each is charged the block and each must
   * stay within maxBytesPerSource (the putter's host address and its proven identity, so that
   * changing one of them does not reset the count). Absent for node-to-node copies.
   */
  sources?: readonly string[]
  /**
   * A copy from another node (repair, replication, hand-off): a root older than or equal to the
   * stored one is ignored quietly instead of refused, since the stored one is the newer truth.
   */
  replica?: boolean
  /**
   * The sender read bad bytes from this node: check the stored copy and replace it if it no
   * longer verifies (a content block already held is otherwise left alone unread).
   */
  repair?: boolean
}

export interface ReplicaStoreStats {
  corruptDropped: number
}

/**
 * The rules every stored block passes, in one place: verified before it is kept, roots only
 * move forward, leases are capped, quotas and capacity are checked before anything is written.
 * A corrupt stored copy (disk rot, tampering) is dropped on read, never served.
 */
export class ReplicaStore {
  readonly blocks: BlockStore
  readonly cache: BlockCache
  private readonly log: Logger
  readonly now: () => number
  /** Bytes of writes between their capacity check and the store's totals. */
  private writing = 0
  private readonly init: Required<Omit<ReplicaStoreInit, 'now'>>
  private readonly sourceBytes = new Map<string, number>()
  private windowStart = 0
  private corruptDropped = 0
  private readonly lock = new KeyedLock()
  private readonly stored = new Listeners<[Key, BlockMeta, Uint8Array]>()

  constructor (components: { blocks: BlockStore, cache: BlockCache, logger?: ComponentLogger }, init: ReplicaStoreInit = {}) {
    this.blocks = components.blocks
    this.cache = components.cache
    this.log = (components.logger ?? createLogger()).forComponent('dhash:store')
    this.now = init.now ?? Date.now
    this.init = {
      maxLeaseMs: init.maxLeaseMs ?? DEFAULT_MAX_LEASE_MS,
      maxBytesPerOwner: init.maxBytesPerOwner ?? Infinity,
      maxBytesPerSource: init.maxBytesPerSource ?? Infinity,
      sourceWindowMs: init.sourceWindowMs ?? DEFAULT_SOURCE_WINDOW_MS,
      maxStorageBytes: init.maxStorageBytes ?? Infinity,
      rootCacheFreshMs: init.rootCacheFreshMs ?? DEFAULT_ROOT_CACHE_FRESH_MS,
    }
  }

  get maxLeaseMs (): number { return this.init.maxLeaseMs }
  /** Replica bytes this node holds at most (Infinity: no limit but the disk's). */
  get maxStorageBytes (): number { return this.init.maxStorageBytes }

  /** Of maxStorageBytes, what only roots and small blocks may use (RESERVED_FRACTION, within its bounds). */
  get reservedBytes (): number {
    const max = this.init.maxStorageBytes
    if (!Number.isFinite(max)) return 0
    return Math.floor(Math.min(max / 4, MAX_RESERVED_BYTES, Math.max(MIN_RESERVED_BYTES, max * RESERVED_FRACTION)))
  }

  /**
   * Upcall after every write of a block's bytes (a new block, a newer root, a replaced bad
   * copy), with the metadata written; not for lease extensions or deletes. Returns unsubscribe.
   */
  onStored (listener: (key: Key, meta: BlockMeta, bytes: Uint8Array) => void): () => void {
    return this.stored.add(listener)
  }

  /** Expiry for a lease of `leaseMs` starting now, capped. */
  leaseEnd (leaseMs: number): number {
    return this.now() + Math.min(leaseMs, this.init.maxLeaseMs)
  }

  /**
   * Verifies and stores a block. Returns false when nothing changed because this node already
   * holds the same or a newer version (a replica copy of an older root).
   * Throws BlockInvalidError, BlockTooLargeError, RootStaleError, RootConflictError,
   * QuotaExceededError or StorageFullError; nothing is written then.
   */
  async accept (key: Key, kind: BlockKind, bytes: Uint8Array, options: AcceptOptions): Promise<boolean> {
    return this.acceptVerified(key, kind, bytes, verifyBlock(key, kind, bytes), options)
  }

  /** `accept` for bytes the caller has just checked with verifyBlock (it throws nothing else). */
  async acceptVerified (key: Key, kind: BlockKind, bytes: Uint8Array, verified: VerifiedBlock, options: AcceptOptions): Promise<boolean> {
    // Check-then-write per key, one at a time: two writers racing on one root must not both
    // pass the sequence check.
    return this.lock.run(toHex(key), async () => this.write(key, kind, bytes, verified, options))
  }

  private async write (key: Key, kind: BlockKind, bytes: Uint8Array, verified: VerifiedBlock, options: AcceptOptions): Promise<boolean> {
    const expiresAt = Math.min(options.expiresAt, this.now() + this.init.maxLeaseMs)
    const owner = kind === BlockKind.ROOT ? verified.owner : options.owner
    // Metadata only: a 1 MiB block is read back just for a root at an equal sequence number.
    const existing = await this.blocks.getMeta(key)
    if (existing !== undefined && existing.kind !== kind) {
      // Keys of the two kinds are domain-separated, so this is a hash collision or an attack.
      throw new RootConflictError(`${shortHex(key)} holds a block of another kind`)
    }
    if (kind === BlockKind.ROOT) {
      const current = existing?.seq ?? 0
      if (options.expectSeq !== undefined && options.expectSeq !== current) {
        throw new RootConflictError(`root ${shortHex(key)} is at sequence ${current}, not ${options.expectSeq}`)
      }
      if (existing !== undefined && verified.seq <= current) {
        const same = verified.seq === current && keysEqual((await this.blocks.get(key))?.bytes ?? new Uint8Array(), bytes)
        if (same || options.replica === true) {
          await this.extendTo(key, existing, expiresAt)
          return false
        }
        if (verified.seq < current) throw new RootStaleError(`root ${shortHex(key)} sequence ${verified.seq} is older than ${current}`)
        throw new RootConflictError(`root ${shortHex(key)} sequence ${current} already holds other content`)
      }
    } else if (existing !== undefined && (options.repair !== true || await this.read(key, true) !== undefined)) {
      await this.extendTo(key, existing, expiresAt)
      // Another owner puts the same bytes: the copy is shared, accounted to nobody, and no
      // owner's release drops it (release.ts).
      if (owner !== '' && existing.owner !== '' && existing.owner !== owner) await this.blocks.setOwner(key, '')
      return false
    }
    const growth = bytes.length - (existing?.size ?? 0)
    this.checkCapacity(key, owner, growth, options.sources ?? [], kind === BlockKind.ROOT || bytes.length <= SMALL_BLOCK_BYTES)
    // Counted from the check until the store's totals include it: writes of other keys run
    // meanwhile, and each must see this one, or together they overrun the limit.
    const held = Math.max(0, growth)
    this.writing += held
    try {
      await this.blocks.put(key, { kind, bytes, expiresAt, owner, seq: verified.seq, size: bytes.length })
    } finally {
      this.writing -= held
    }
    for (const source of options.sources ?? []) this.chargeSource(source, bytes.length)
    this.stored.emit(key, { kind, expiresAt, owner, seq: verified.seq, size: bytes.length }, bytes)
    return true
  }

  /**
   * The stored copy, unless its lease has run out. Roots, and content blocks when `verify` is
   * set, are checked again: a copy that no longer verifies is deleted and reported as missing,
   * so repair fetches a good one.
   * Content blocks served to readers are not re-hashed here (readers verify every block, and
   * report bad copies with a repair store); maintenance scrubs stored blocks in the background.
   */
  async read (key: Key, verify = true): Promise<StoredBlock | undefined> {
    const block = await this.blocks.get(key)
    // A copy whose lease ran out is gone, whether or not collectExpired has deleted it yet: a
    // primary that had collected its own copy would otherwise pull this one back (maintenance
    // sync) with a fresh lease, and the block would outlive its lease again and again.
    if (block === undefined || block.expiresAt <= this.now()) return undefined
    if (!verify && block.kind === BlockKind.CONTENT) return block
    try {
      verifyBlock(key, block.kind, block.bytes)
      return block
    } catch (err) {
      if (!isCfsError(err)) throw err
      this.corruptDropped++
      this.log.error('dropping corrupt copy of %s: %s', shortHex(key), err.message)
      await this.blocks.delete(key)
      return undefined
    }
  }

  /** A cached copy that still verifies; roots only while fresh. */
  async readCached (key: Key): Promise<{ kind: BlockKind, bytes: Uint8Array } | undefined> {
    const c = await this.cache.get(key)
    if (c === undefined) return undefined
    if (c.kind === BlockKind.ROOT && this.now() - c.cachedAt > this.init.rootCacheFreshMs) return undefined
    try {
      verifyBlock(key, c.kind, c.bytes)
      return c
    } catch {
      await this.cache.delete(key)
      return undefined
    }
  }

  async putCached (key: Key, kind: BlockKind, bytes: Uint8Array): Promise<void> {
    verifyBlock(key, kind, bytes)
    await this.cache.put(key, { kind, bytes, cachedAt: this.now() })
  }

  /** Extends the leases of the keys held; returns the keys not held. */
  async extend (keys: readonly Key[], expiresAt: number): Promise<Key[]> {
    const capped = Math.min(expiresAt, this.now() + this.init.maxLeaseMs)
    const missing: Key[] = []
    for (const key of keys) {
      const meta = await this.blocks.getMeta(key)
      if (meta === undefined) missing.push(key)
      else if (meta.expiresAt < capped) await this.blocks.setExpiry(key, capped)
    }
    return missing
  }

  /**
   * An owner's release (release.ts, checked by the caller): drops each key whose copy is a
   * content block accounted to `owner` with a lease ending by `notAfter`. Returns how many.
   */
  async release (keys: readonly Key[], owner: string, notAfter: number): Promise<number> {
    let released = 0
    for (const key of keys) {
      await this.lock.run(toHex(key), async () => {
        const meta = await this.blocks.getMeta(key)
        if (meta === undefined || meta.kind !== BlockKind.CONTENT || meta.owner !== owner || meta.expiresAt > notAfter) return
        await this.blocks.delete(key)
        released++
      })
    }
    if (released > 0) this.log('released %d block(s) of %s', released, owner.slice(0, 16))
    return released
  }

  /** Deletes blocks whose lease ran out; returns how many. */
  async collectExpired (limit = DEFAULT_COLLECT_LIMIT): Promise<number> {
    const keys = await this.blocks.expired(this.now(), limit)
    for (const key of keys) await this.blocks.delete(key)
    if (keys.length > 0) this.log('collected %d expired block(s)', keys.length)
    return keys.length
  }

  stats (): ReplicaStoreStats {
    return { corruptDropped: this.corruptDropped }
  }

  private async extendTo (key: Key, existing: BlockMeta, expiresAt: number): Promise<void> {
    if (existing.expiresAt < expiresAt) await this.blocks.setExpiry(key, expiresAt)
  }

  /**
   * Refuses what would not fit. Large content blocks (file data) may not use the last
   * `reservedBytes` of the node's limit: roots and small blocks (directories, inodes, indirect
   * blocks) may, so an owner whose data filled the ring can still publish a deletion.
   */
  private checkCapacity (key: Key, owner: string, growth: number, sources: readonly string[], small: boolean): void {
    if (growth <= 0) return
    const limit = this.init.maxStorageBytes - (small ? 0 : this.reservedBytes)
    if (this.blocks.stats().bytes + this.writing + growth > limit) {
      throw new StorageFullError(`node storage is full (${this.init.maxStorageBytes} bytes${small ? '' : `, the last ${this.reservedBytes} held for roots and small blocks`}); ${shortHex(key)} not stored`)
    }
    if (owner !== '' && this.blocks.bytesByOwner(owner) + growth > this.init.maxBytesPerOwner) {
      throw new QuotaExceededError(`owner ${owner.slice(0, 8)} is over its quota of ${this.init.maxBytesPerOwner} bytes on this node`)
    }
    for (const source of sources) {
      if (this.sourceUsage(source) + growth > this.init.maxBytesPerSource) {
        throw new QuotaExceededError(`source ${source} is over its quota of ${this.init.maxBytesPerSource} bytes per ${this.init.sourceWindowMs} ms`)
      }
    }
  }

  private sourceUsage (source: string): number {
    if (this.now() - this.windowStart >= this.init.sourceWindowMs) {
      this.sourceBytes.clear()
      this.windowStart = this.now()
    }
    return this.sourceBytes.get(source) ?? 0
  }

  private chargeSource (source: string, n: number): void {
    this.sourceBytes.set(source, this.sourceUsage(source) + n)
  }
}
