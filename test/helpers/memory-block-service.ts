import {
  BlockNotFoundError, RootConflictError, RootStaleError, toHex, type AbortOptions, type Key,
} from '../../src/core/index.js'
import {
  BlockKind, DEFAULT_LEASE_MS, DEFAULT_REPLICAS, decodeRoot, encodeRoot, generateSecretKey, publicKeyOf, rootKey, signMessage, verifyBlock,
  type BlockService, type PutOptions, type PutResult, type RefreshOptions, type RefreshResult, type ReleaseOptions, type ReleaseResult, type WatchOptions,
} from '../../src/dhash/index.js'
import { RootWatchers } from '../../src/dhash/root-watch.js'
import type { RootSigner, RootVerifier } from '../../src/fs/index.js'

interface Stored { kind: BlockKind, bytes: Uint8Array, seq: number, expiresAt: number, owner?: string }

export interface MemoryBlockServiceInit {
  /** @default Date.now */
  now?: () => number
  /** Lease when a put or refresh asks for none. @default DEFAULT_LEASE_MS (the DHash client's) */
  leaseMs?: number
  /** Replicas every put reports as wanted. @default DEFAULT_REPLICAS */
  wanted?: number
  /** Replicas every put reports as reached (fewer than wanted: degraded). @default wanted */
  replicas?: number
  /** Milliseconds each put and get waits (simulates the round trip to the replicas). @default 0 */
  latencyMs?: number
}

export interface Counts {
  puts: number
  contentPuts: number
  rootPuts: number
  putBytes: number
  gets: number
  refreshed: number
  /** Blocks dropped by release. */
  released: number
}

/**
 * A BlockService over a Map, for tests and benches: verifies every block on put and get
 * (verifyBlock), keeps the root rules of the real replicas (expectSeq gives
 * RootConflictError, an older sequence RootStaleError), has leases, and counts puts so a
 * test can assert how many blocks an operation wrote. `failNextPuts` and `forget` inject
 * faults.
 */
export class MemoryBlockService implements BlockService {
  readonly blocks = new Map<string, Stored>()
  counts: Counts = zero()
  /** Hex keys of content blocks put since the last resetCounts, in order. */
  putKeys: string[] = []
  /** The next n puts fail with this error. */
  private failures: { n: number, error: Error } | undefined
  private readonly now: () => number
  private readonly watchers = new RootWatchers()

  constructor (private readonly init: MemoryBlockServiceInit = {}) {
    this.now = init.now ?? Date.now
  }

  resetCounts (): void {
    this.counts = zero()
    this.putKeys = []
  }

  failNextPuts (n: number, error: Error): void {
    this.failures = { n, error }
  }

  /** Loses a block (as if every replica had dropped it). */
  forget (key: Key): void {
    this.blocks.delete(toHex(key))
  }

  /** Bytes of a stored block, or undefined. */
  peek (key: Key): Uint8Array | undefined {
    return this.live(toHex(key))?.bytes
  }

  async put (kind: BlockKind, key: Key, bytes: Uint8Array, options: PutOptions = {}): Promise<PutResult> {
    await this.delay(options)
    if (this.failures !== undefined && this.failures.n > 0) {
      this.failures.n--
      throw this.failures.error
    }
    const verified = verifyBlock(key, kind, bytes)
    const hex = toHex(key)
    const existing = this.live(hex)
    if (kind === BlockKind.ROOT) {
      const current = existing?.seq ?? 0
      if (options.expectSeq !== undefined && options.expectSeq !== current) {
        throw new RootConflictError(`root is at sequence ${current}, not ${options.expectSeq}`)
      }
      if (existing !== undefined && verified.seq < current) throw new RootStaleError(`sequence ${verified.seq} is older than ${current}`)
      if (existing !== undefined && verified.seq === current && Buffer.compare(existing.bytes, bytes) !== 0) {
        throw new RootConflictError(`sequence ${current} already holds other content`)
      }
    }
    // A block another owner put too is shared: no owner's release drops it.
    const owner = existing !== undefined && (existing.owner ?? '') !== (options.owner ?? '') ? '' : options.owner ?? ''
    this.blocks.set(hex, { kind, bytes: bytes.slice(), seq: verified.seq, expiresAt: this.now() + (options.leaseMs ?? this.leaseMs), owner })
    this.counts.puts++
    this.counts.putBytes += bytes.length
    if (kind === BlockKind.ROOT) {
      this.counts.rootPuts++
      this.watchers.notify(key, verified.seq, bytes)
    } else {
      this.counts.contentPuts++
      this.putKeys.push(hex)
    }
    const wanted = this.init.wanted ?? DEFAULT_REPLICAS
    const replicas = this.init.replicas ?? wanted
    return { key, replicas, wanted, degraded: replicas < wanted }
  }

  /** Drops the owner's content blocks among `keys` (the signature is the real nodes' to check). */
  async release (keys: readonly Key[], options: ReleaseOptions): Promise<ReleaseResult> {
    const owner = toHex(options.owner)
    let released = 0
    for (const key of keys) {
      const hex = toHex(key)
      const b = this.blocks.get(hex)
      if (b === undefined || b.kind !== BlockKind.CONTENT || b.owner !== owner) continue
      this.blocks.delete(hex)
      this.counts.released++
      released++
    }
    return { released, failed: 0 }
  }

  async get (kind: BlockKind, key: Key, options: AbortOptions = {}): Promise<Uint8Array> {
    await this.delay(options)
    this.counts.gets++
    const stored = this.live(toHex(key))
    if (stored === undefined || stored.kind !== kind) throw new BlockNotFoundError(`no block ${toHex(key).slice(0, 8)}`)
    verifyBlock(key, kind, stored.bytes)
    return stored.bytes
  }

  /** As DHashClient.watchRoot, with this map as the only holder. */
  async watchRoot (key: Key, after: number, options: WatchOptions = {}): Promise<Uint8Array | undefined> {
    const held = async (): Promise<{ seq: number, bytes: Uint8Array } | undefined> => {
      const stored = this.live(toHex(key))
      return stored?.kind === BlockKind.ROOT ? { seq: stored.seq, bytes: stored.bytes } : undefined
    }
    return this.watchers.wait(key, after, options.waitMs ?? 60_000, held, options.signal)
  }

  async has (key: Key): Promise<boolean> {
    return this.live(toHex(key)) !== undefined
  }

  async refresh (keys: readonly Key[], options: RefreshOptions = {}): Promise<RefreshResult> {
    const missing: Key[] = []
    for (const key of keys) {
      const stored = this.live(toHex(key))
      if (stored === undefined) {
        missing.push(key)
        continue
      }
      stored.expiresAt = Math.max(stored.expiresAt, this.now() + (options.leaseMs ?? this.leaseMs))
      this.counts.refreshed++
    }
    return { missing }
  }

  /** Total bytes stored. */
  get storedBytes (): number {
    let n = 0
    for (const b of this.blocks.values()) n += b.bytes.length
    return n
  }

  private get leaseMs (): number { return this.init.leaseMs ?? DEFAULT_LEASE_MS }

  private live (hex: string): Stored | undefined {
    const stored = this.blocks.get(hex)
    if (stored === undefined || stored.expiresAt <= this.now()) return undefined
    return stored
  }

  private async delay (options: AbortOptions): Promise<void> {
    const ms = this.init.latencyMs ?? 0
    if (ms > 0) await new Promise((resolve) => setTimeout(resolve, ms))
    options.signal?.throwIfAborted()
  }
}

function zero (): Counts {
  return { puts: 0, contentPuts: 0, rootPuts: 0, putBytes: 0, gets: 0, refreshed: 0, released: 0 }
}

/** dhash's root functions as the fs ports; the node layer wires the same. */
export const rootVerifier: RootVerifier = { rootKey, decodeRoot }

export function rootSigner (secretKey: Uint8Array): RootSigner {
  return {
    publicKey: publicKeyOf(secretKey),
    sign: (seq, payload) => encodeRoot(secretKey, seq, payload),
    signMessage: (message) => signMessage(secretKey, message),
  }
}

/** A fresh key pair as the fs sees it. */
export function newOwner (): { secretKey: Uint8Array, signer: RootSigner, verifier: RootVerifier } {
  const secretKey = generateSecretKey()
  return { secretKey, signer: rootSigner(secretKey), verifier: rootVerifier }
}
