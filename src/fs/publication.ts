import {
  Mutex, PeriodicTask, RootConflictError, hashKey, isCfsError, keysEqual, secondsSince,
  type AbortOptions, type Counter, type Histogram, type Key, type Logger, type Metrics,
} from '../core/index.js'
import type { BlockService, PutOptions, PutResult } from '../dhash/index.js'
import type { BufferFlusher } from './buffer-flush.js'
import { ROOT_BLOCK } from './format.js'
import type { JournalBase } from './journal.js'
import type { RootSigner } from './ports.js'
import { rootRecordCodec, type RootRecord } from './root-record.js'
import type { VersionInfo } from './snapshot.js'
import { versionOf, type SignedRoot } from './versions.js'
import type { VolumeReleaser } from './volume-release.js'
import { checkReplicas, type WriteBuffer } from './write-buffer.js'

/** Changes are published at most this often (the mount's --publish-ms). */
export const DEFAULT_PUBLISH_INTERVAL_MS = 1_000

/** Buckets of a publication's duration in seconds: it uploads every block changed since the last. */
export const PUBLICATION_SECONDS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

/** What publication needs of its volume (volume.ts). */
export interface PublicationComponents {
  blocks: Pick<BlockService, 'put'>
  signer: Pick<RootSigner, 'sign'>
  /** Where the signed root is put (the verifier's key for the signer's public key). */
  rootKey: Key
  log: Logger
  metrics: Metrics
  /** Milliseconds since the epoch: a record's time. */
  now: () => number
  /** The current tree (unpublished changes included); undefined until the volume starts. */
  top: () => Key | undefined
  /** Brings into the tree what waits outside it (a file staged in its open file), before each round. */
  settle: (options: AbortOptions) => Promise<void>
  /** The root record is buffered with the tree it names, and uploaded with it. */
  buffer: Pick<WriteBuffer, 'add'>
  flusher: Pick<BufferFlusher, 'upload'>
  releaser: Pick<VolumeReleaser, 'failed' | 'published'>
  /** A version is published: the volume prunes its buffer and tells its journal (under its change mutex). */
  onPublished: (version: JournalBase, options: AbortOptions) => Promise<void>
  /** The volume's shutdown signal: a publication that callers share stops with the volume, not with one caller. */
  signal: () => AbortSignal
}

export interface PublicationInit {
  /** Hex public key the root is accounted to. */
  owner: string
  /** Lease asked for on the root put. @default the BlockService's */
  leaseMs?: number
  /** Holders the signed root must reach. @default a majority of the k wanted (minReplicasFor) */
  minReplicas?: number
  /** Changes are published at most this often; 0 = no timer. @default DEFAULT_PUBLISH_INTERVAL_MS */
  publishIntervalMs?: number
}

/**
 * Turns the volume's current tree into a published signed root. A publication takes the tree
 * of that moment, uploads every new block it reaches, waits for all acks, stores the root
 * record as a content block, and only then puts the signed root, conditional on the previous
 * sequence number: if another writer got there first the put fails, the volume keeps its tree
 * and every later publication throws RootConflictError.
 *
 * A publication holds its own lock, not the volume's change mutex: writes go on while it
 * uploads, and what they change is published by the next one. Concurrent commit() calls share
 * one publication (group commit): a caller that arrives while one is uploading waits for the
 * next, which takes every change made until it begins. The publish timer goes through the same
 * queue.
 */
export class Publication {
  /** One publication at a time (sequence numbers); changes do not wait for it. */
  private readonly lock = new Mutex()
  /** The next publication, while it has not begun. */
  private queued: Promise<VersionInfo | undefined> | undefined
  private latest: SignedRoot | undefined
  /** The top being published: its buffered blocks are kept from pruning until it is stored. */
  private inFlight: Key | undefined
  /** The published root reached fewer holders than the minimum: put it again before anything else. */
  private rootShort = false
  private conflictError: RootConflictError | undefined
  private publishCount = 0
  private degradedCount = 0
  /** The publish timer: armed by a change, re-armed while changes are pending (no jitter). */
  private readonly timer: PeriodicTask
  private readonly metrics: { ok: Counter, conflict: Counter, failed: Counter, seconds: Histogram }

  constructor (private readonly components: PublicationComponents, private readonly init: PublicationInit) {
    this.metrics = this.registerMetrics(components.metrics)
    this.timer = new PeriodicTask({ round: async () => this.publishInBackground(), log: components.log }, {
      name: 'publish', intervalMs: init.publishIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS, mode: 'debounce',
    })
  }

  private registerMetrics (metrics: Metrics): Publication['metrics'] {
    const publications = metrics.counter({
      name: 'cfs_volume_publications_total', help: 'Publications of a new signed root, by outcome (ok; conflict: another writer published first; failed)', labelNames: ['outcome'],
    })
    metrics.collect({ name: 'cfs_volume_published_seq', help: 'Sequence number of the last version published (0: none)', type: 'gauge', collect: (r) => { r(this.latest?.record.seq ?? 0) } })
    return {
      ok: publications.labels('ok'),
      conflict: publications.labels('conflict'),
      failed: publications.labels('failed'),
      seconds: metrics.histogram({ name: 'cfs_volume_publication_duration_seconds', help: 'Duration of successful publications (uploads and the root put)', buckets: PUBLICATION_SECONDS_BUCKETS }),
    }
  }

  /** The last version published (or found on the ring at start). */
  get published (): SignedRoot | undefined { return this.latest }
  /** The last version published, as the journal records it. */
  get base (): JournalBase | undefined {
    const p = this.latest
    return p === undefined ? undefined : { seq: p.record.seq, recordKey: p.recordKey, top: p.record.top }
  }

  /** The top being published, if one is. */
  get publishing (): Key | undefined { return this.inFlight }
  /** Set once another writer published: nothing more is published. */
  get conflict (): RootConflictError | undefined { return this.conflictError }
  get publishes (): number { return this.publishCount }
  /** Root puts acknowledged by fewer replicas than wanted. */
  get degradedRoots (): number { return this.degradedCount }

  /** Whether the current tree has changes not yet published. */
  get dirty (): boolean {
    const top = this.components.top()
    return top !== undefined && (this.latest === undefined || !keysEqual(top, this.latest.record.top))
  }

  /** The volume's latest version as the ring has it at start: the next publication follows it. */
  adopt (root: SignedRoot): void {
    this.latest = root
  }

  /** Lets the timer run, and arms it if changes already wait (taken up from a journal). */
  start (): void {
    this.timer.start()
    if (this.dirty) this.schedule()
  }

  /** Disarms the timer and waits for a background publication to end (the volume's signal aborts it). */
  async stop (): Promise<void> {
    await this.timer.stop()
  }

  /** Arms the publish timer unless it is armed, stopped, or the volume is in conflict. */
  schedule (): void {
    if (this.conflictError === undefined) this.timer.trigger()
  }

  /**
   * One publication round now (after any in flight): returns the new version, or undefined
   * when nothing changed.
   */
  async publishOnce (options: AbortOptions = {}): Promise<VersionInfo | undefined> {
    return this.lock.run(async () => this.publishTree(options))
  }

  /** The publication that has not begun yet, or a new one queued behind the one in flight. */
  async commit (): Promise<VersionInfo | undefined> {
    if (this.queued !== undefined) return this.queued
    // Mutex.run starts the task on a later tick, never inside this call: the queue is set first.
    const done = this.lock.run(async () => {
      this.queued = undefined
      return this.publishTree({ signal: this.components.signal() })
    })
    this.queued = done
    return done
  }

  private async publishTree (options: AbortOptions): Promise<VersionInfo | undefined> {
    if (this.conflictError !== undefined) throw this.conflictError
    await this.components.settle(options)
    // The tree of this moment: a change in progress assigns the volume's top only once it is whole.
    const top = this.components.top()
    if (top === undefined) throw new TypeError('the volume is not started')
    const put = this.putOptions(options)
    // Holders that missed the last root would refuse the next one (its expectSeq): they get it first.
    if (this.rootShort && this.latest !== undefined) await this.putRoot(this.latest.bytes, undefined, put)
    if (!this.dirty) return undefined
    const started = performance.now()
    let v: VersionInfo
    try {
      v = await this.publishTop(top, started, put, options)
      this.metrics.ok.inc()
      this.metrics.seconds.observe(secondsSince(started))
    } catch (err) {
      if (err === this.conflictError) this.metrics.conflict.inc()
      else if (options.signal?.aborted !== true) this.metrics.failed.inc()
      this.components.releaser.failed(err)
      throw err
    }
    await this.components.releaser.published(options)
    return v
  }

  private async publishTop (top: Key, started: number, put: PutOptions, options: AbortOptions): Promise<VersionInfo> {
    const seq = (this.latest?.record.seq ?? 0) + 1
    const record: RootRecord = { seq, timeMs: this.components.now(), top, prev: this.latest?.recordKey ?? null }
    const recordBytes = rootRecordCodec.encode(record)
    const recordKey = hashKey(recordBytes)
    this.components.buffer.add(recordKey, recordBytes)
    this.inFlight = top
    try {
      // The record goes out with the tree: the signed root below names it only once all are stored.
      await this.components.flusher.upload([{ key: top, role: 'inode' }], options, [recordKey])
      const bytes = this.components.signer.sign(seq, recordBytes)
      await this.putRoot(bytes, seq - 1, put, () => {
        // Some holders took it: this sequence number is used, whether or not enough did.
        this.latest = { record, recordKey, bytes }
        this.publishCount++
      })
    } finally {
      this.inFlight = undefined
    }
    await this.components.onPublished({ seq, recordKey, top }, options)
    this.components.log('published version %d in %d ms', seq, Math.round(performance.now() - started))
    return versionOf(record, recordKey)
  }

  private putOptions (options: AbortOptions): PutOptions {
    return {
      owner: this.init.owner,
      ...(this.init.leaseMs === undefined ? {} : { leaseMs: this.init.leaseMs }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }
  }

  /**
   * Puts a signed root (`expectSeq`: only over that sequence number). `stored` runs once any
   * holder has it. Reaching fewer holders than the minimum is TooFewReplicasError, and the
   * root is put again (without expectSeq) before the next publication; another writer's root
   * is RootConflictError, from then on.
   */
  private async putRoot (bytes: Uint8Array, expectSeq: number | undefined, put: PutOptions, stored?: () => void): Promise<void> {
    let result: PutResult
    try {
      result = await this.components.blocks.put(ROOT_BLOCK, this.components.rootKey, bytes, { ...put, ...(expectSeq === undefined ? {} : { expectSeq }) })
    } catch (err) {
      if (isCfsError(err, 'ROOT_CONFLICT') || isCfsError(err, 'ROOT_STALE')) {
        const seq = this.latest?.record.seq ?? 0
        this.conflictError = new RootConflictError(`another writer published this volume after version ${seq}; changes since are kept here, unpublished`, { cause: err })
        this.components.log.error('%s', this.conflictError.message)
        throw this.conflictError
      }
      throw err
    }
    stored?.()
    if (result.degraded) this.degradedCount++
    this.rootShort = true
    checkReplicas(result, this.init.minReplicas, 'root')
    this.rootShort = false
  }

  /** The publish timer's round: join the next publication, and arm again while changes are pending. */
  private async publishInBackground (): Promise<void> {
    try {
      await this.commit()
    } catch (err) {
      if (!isCfsError(err, 'ABORTED') && !isCfsError(err, 'SHUTTING_DOWN')) this.components.log.error('publish failed: %s', (err as Error).message)
    }
    if (this.dirty) this.schedule()
  }
}
