import { TooFewReplicasError, shortHex, toHex, type AbortOptions, type Key } from '../core/index.js'
import type { BlockService, PutResult } from '../dhash/index.js'
import { CONTENT_BLOCK } from './format.js'

/**
 * Puts in flight at once, and their bytes. Many small blocks in flight let the block layer
 * batch them (one RPC, one replica store and one LevelDB batch for many blocks); the byte bound
 * keeps large blocks to a window the holders keep busy with.
 */
export const DEFAULT_UPLOADS_IN_FLIGHT = 256
export const DEFAULT_UPLOAD_BYTES_IN_FLIGHT = 16 * 1024 * 1024

export interface WriteBufferInit {
  /** Puts in flight at once. @default DEFAULT_UPLOADS_IN_FLIGHT */
  uploadsInFlight?: number
  /** Bytes of the puts in flight (a lone put of any size may go). @default DEFAULT_UPLOAD_BYTES_IN_FLIGHT */
  uploadBytesInFlight?: number
  /** Lease asked for on every put. @default the BlockService's */
  leaseMs?: number
  /** Hex public key the blocks are accounted to. */
  owner?: string
  /** Holders a put must reach to count as done; fewer fail it (TooFewReplicasError). @default minReplicasFor (a majority of k) */
  minReplicas?: number
  /** Told of every block the buffer takes (the volume's journal). */
  onAdd?: (key: Key, bytes: Uint8Array) => void
  /** Told of every put it starts: acknowledged or not, holders may keep a copy (the volume's release of orphans). */
  onPut?: (key: Key) => void
}

/** The holders a block must reach by default: a majority of the k wanted (2 of 3). */
export function minReplicasFor (wanted: number): number {
  return Math.floor(wanted / 2) + 1
}

/** Fails a put or root put that reached fewer than `min` holders (min undefined: a majority of those wanted). */
export function checkReplicas (result: PutResult, min: number | undefined, what: string): void {
  const need = Math.min(min ?? minReplicasFor(result.wanted), result.wanted)
  if (result.replicas < need) {
    throw new TooFewReplicasError(`${what} ${shortHex(result.key)} reached ${result.replicas} of ${result.wanted} holders; ${need} needed`)
  }
}

/** Counts of what the buffer sent. */
export interface UploadStats {
  /** Blocks acknowledged. */
  readonly puts: number
  readonly bytes: number
  /** Acknowledged puts that reached fewer replicas than wanted. */
  readonly degraded: number
  /** Puts that failed, short of the minimum of holders included (the block stays buffered and is tried again). */
  readonly failures: number
}

/** A put waiting for a slot. */
interface Waiter { readonly bytes: number, readonly start: () => void }

interface Pending {
  readonly key: Key
  readonly bytes: Uint8Array
  upload?: Promise<void>
  /** Acknowledged, but kept until `settle` (its parent's upload must not treat it as gone yet). */
  retained?: boolean
}

export interface UploadOptions extends AbortOptions {
  /**
   * Keep acknowledged blocks buffered until `settle` is called for them, so a caller can put a
   * whole tree at once and still let blocks leave the buffer children first.
   */
  retain?: boolean
}

/**
 * Blocks written but not yet acknowledged by the BlockService, by key. Uploads run with a
 * bounded number in flight; `startUpload` waits for a free slot, which is how a long write
 * is slowed to the network's pace instead of filling memory. An acknowledged block leaves
 * the buffer; a failed one stays for the next try.
 */
export class WriteBuffer {
  private readonly pending = new Map<string, Pending>()
  private pendingBytes = 0
  private active = 0
  private activeBytes = 0
  /** Puts waiting for a slot, first come first served. */
  private readonly waiters: Waiter[] = []
  private readonly inFlight: number
  private readonly bytesInFlight: number
  private counts = { puts: 0, bytes: 0, degraded: 0, failures: 0 }

  constructor (private readonly components: { blocks: Pick<BlockService, 'put'> }, private readonly init: WriteBufferInit = {}) {
    this.inFlight = Math.max(1, init.uploadsInFlight ?? DEFAULT_UPLOADS_IN_FLIGHT)
    this.bytesInFlight = Math.max(1, init.uploadBytesInFlight ?? DEFAULT_UPLOAD_BYTES_IN_FLIGHT)
  }

  get stats (): UploadStats { return { ...this.counts } }
  /** Bytes buffered (including those being uploaded). */
  get bytes (): number { return this.pendingBytes }
  get blocks (): number { return this.pending.size }

  /** `hex`: the key's, when the caller has it already (a hot path turns each key to hex once). */
  add (key: Key, bytes: Uint8Array, hex = toHex(key)): void {
    if (this.pending.has(hex)) return
    this.pending.set(hex, { key, bytes })
    this.pendingBytes += bytes.length
    this.init.onAdd?.(key, bytes)
  }

  /** Every block held, acknowledged or not. */
  * entries (): Iterable<readonly [Key, Uint8Array]> {
    for (const { key, bytes } of this.pending.values()) yield [key, bytes]
  }

  get (key: Key, hex = toHex(key)): Uint8Array | undefined {
    return this.pending.get(hex)?.bytes
  }

  has (key: Key): boolean {
    return this.pending.has(toHex(key))
  }

  /**
   * Starts uploading a buffered block once a slot is free and returns when it has started
   * (or at once if it is already under way or gone). Its outcome is seen by `upload`.
   */
  async startUpload (key: Key, options: AbortOptions = {}): Promise<void> {
    await this.begin(key, options)
  }

  /**
   * Uploads these blocks if still buffered (the others are stored) and waits for every ack.
   * Throws the first failure once all have settled; failed blocks stay buffered.
   */
  async upload (keys: readonly Key[], options: UploadOptions = {}): Promise<void> {
    const results = await Promise.allSettled(keys.map(async (key) => {
      const started = await this.begin(key, options)
      await started.upload
    }))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  /**
   * The upload of a buffered block: the one under way, or a new one once a slot is free
   * (undefined when the block is no longer buffered). Wrapped, so that awaiting this waits
   * for the start and not for the ack.
   */
  private async begin (key: Key, options: UploadOptions): Promise<{ upload: Promise<void> | undefined }> {
    const hex = toHex(key)
    const entry = this.pending.get(hex)
    if (entry === undefined || entry.upload !== undefined) return { upload: entry?.upload }
    await this.acquire(entry.bytes.length)
    if (entry.upload !== undefined || this.pending.get(hex) !== entry) {
      this.release(entry.bytes.length)
      return { upload: entry.upload }
    }
    const upload = this.put(entry, options)
    entry.upload = upload
    upload.catch(() => {}) // seen by upload(); a background failure leaves the block buffered
    return { upload }
  }

  /** Lets an acknowledged block that was uploaded with `retain` leave the buffer. */
  settle (key: Key): void {
    const hex = toHex(key)
    const entry = this.pending.get(hex)
    if (entry?.retained !== true) return
    this.pending.delete(hex)
    this.pendingBytes -= entry.bytes.length
  }

  /** Drops buffered blocks that are not in `keep` (hex keys) and not in flight. */
  prune (keep: ReadonlySet<string>): void {
    for (const [hex, entry] of this.pending) {
      // An acknowledged (retained) block may go; one still in flight stays until its ack.
      if (keep.has(hex) || (entry.upload !== undefined && entry.retained !== true)) continue
      this.pending.delete(hex)
      this.pendingBytes -= entry.bytes.length
    }
  }

  private async put (entry: Pending, options: UploadOptions): Promise<void> {
    let result: PutResult
    this.init.onPut?.(entry.key)
    try {
      result = await this.components.blocks.put(CONTENT_BLOCK, entry.key, entry.bytes, {
        ...(this.init.leaseMs === undefined ? {} : { leaseMs: this.init.leaseMs }),
        ...(this.init.owner === undefined ? {} : { owner: this.init.owner }),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      })
      // Too few holders: the block stays buffered and the next publication puts it again.
      checkReplicas(result, this.init.minReplicas, 'block')
    } catch (err) {
      this.counts.failures++
      entry.upload = undefined
      throw err
    } finally {
      this.release(entry.bytes.length)
    }
    this.counts.puts++
    this.counts.bytes += entry.bytes.length
    if (result.degraded) this.counts.degraded++
    const hex = toHex(entry.key)
    if (options.retain === true) entry.retained = true
    else if (this.pending.get(hex) === entry) {
      this.pending.delete(hex)
      this.pendingBytes -= entry.bytes.length
    }
  }

  private fits (bytes: number): boolean {
    return this.active < this.inFlight && (this.active === 0 || this.activeBytes + bytes <= this.bytesInFlight)
  }

  /** Takes a slot for a put of `bytes`, waiting behind earlier puts until one fits. */
  private async acquire (bytes: number): Promise<void> {
    if (this.waiters.length === 0 && this.fits(bytes)) {
      this.take(bytes)
      return
    }
    // The slot is taken on this put's behalf by release(), in arrival order.
    await new Promise<void>((resolve) => this.waiters.push({ bytes, start: resolve }))
  }

  private release (bytes: number): void {
    this.active--
    this.activeBytes -= bytes
    for (let next = this.waiters[0]; next !== undefined && this.fits(next.bytes); next = this.waiters[0]) {
      this.waiters.shift()
      this.take(next.bytes)
      next.start()
    }
  }

  private take (bytes: number): void {
    this.active++
    this.activeBytes += bytes
  }
}
