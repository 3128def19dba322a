import {
  Mutex, NO_METRICS, PeriodicTask, ReadOnlyError, RootConflictError, createLogger, hashKey, isCfsError, keysEqual, lifetimeController, raceSignal, secondsSince,
  toHex, type AbortOptions, type ComponentLogger, type Counter, type Histogram, type Key, type Logger, type Metrics, type Startable,
} from '../core/index.js'
import type { BlockService, PutOptions, PutResult } from '../dhash/index.js'
import { BlockReader, type BlockReaderInit } from './block-reader.js'
import type { InodeEntry } from './dir-node.js'
import type { ListOptions } from './directory.js'
import * as fileData from './file-data.js'
import type { FileHandle, FileSystem, OpenOptions, OwnerOptions, ReadIntoOptions, ReadStreamOptions } from './file-system.js'
import { MAX_BLOCK_BYTES, ROOT_BLOCK } from './format.js'
import { inodeCodec, msToNs, type FileInode, type Owner, type SpecialType } from './inode.js'
import type { JournalBase, VolumeJournal } from './journal.js'
import { JournalKeeper } from './journal-keeper.js'
import { splitPath } from './names.js'
import type { RootSigner, RootVerifier } from './ports.js'
import { heldBytes, refreshBlocks, type RefreshReport } from './refresh.js'
import { rootRecordCodec, type RootRecord } from './root-record.js'
import { Snapshot, type VersionInfo } from './snapshot.js'
import * as tree from './tree.js'
import { resolve, statOf, type Stat } from './tree-read.js'
import { fetchRoot, findVersion, versionChain, versionOf } from './versions.js'
import { VolumeHandle, type HandleHost } from './volume-handle.js'
import { VolumeStore } from './volume-store.js'
import { walk, type WalkOptions, type WalkStart } from './walk.js'
import { writeStream, type StreamHost } from './stream-write.js'
import type { ReleaseReport } from './unreachable.js'
import { VolumeReleaser } from './volume-release.js'
import { WriteBuffer, checkReplicas, type UploadStats } from './write-buffer.js'

/**
 * Default data block size. On a real ring the cost per block dominates (docs/PROTOCOL.md,
 * "Block size"): 1 MiB blocks cost 30% less CPU per MB written than 256 KiB and half per MB
 * read, at the price of a whole-block rewrite for a small random write. It is also what the
 * mount gathers sequential FUSE writes into.
 */
export const DEFAULT_BLOCK_SIZE = 1024 * 1024
/** Changes are published at most this often (the mount's --publish-ms). */
export const DEFAULT_PUBLISH_INTERVAL_MS = 1_000
/** Unpublished bytes held before unreachable ones are dropped and the rest uploaded early. */
export const DEFAULT_WRITE_BUFFER_BYTES = 64 * 1024 * 1024
/** Past versions, besides the current one, whose blocks lease renewal keeps alive. */
export const DEFAULT_KEEP_VERSIONS = 8
/** Milliseconds between lease renewals of every block the kept versions reach: well under the lease (7 days). */
export const DEFAULT_LEASE_REFRESH_INTERVAL_MS = 6 * 60 * 60 * 1000
/** Data blocks a writeStream uploads between two updates of the tree. */
export const DEFAULT_STREAM_COMMIT_BLOCKS = 64

export interface VolumeComponents {
  blocks: BlockService
  signer: RootSigner
  verifier: RootVerifier
  logger?: ComponentLogger
  /** Milliseconds since the epoch. @default Date.now */
  now?: () => number
  /** Where publications are counted. @default NO_METRICS */
  metrics?: Metrics
  /**
   * Where changes are kept until the ring has them (journal.ts): each change is appended before
   * it is reported done, and a restarted volume publishes what its journal still holds.
   * @default none: unpublished changes live in memory only
   */
  journal?: VolumeJournal
}

/** Buckets of a publication's duration in seconds: it uploads every block changed since the last. */
export const PUBLICATION_SECONDS_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600]

export interface VolumeInit extends BlockReaderInit {
  /** Data block size of files created from now on (each file keeps its own). @default DEFAULT_BLOCK_SIZE */
  blockSizeBytes?: number
  /** Owner of inodes created without one (and of a new volume's top). @default this process's uid and gid */
  owner?: Owner
  /** Changes are published at most this often; 0 = no timer (call sync or publishOnce). @default DEFAULT_PUBLISH_INTERVAL_MS */
  publishIntervalMs?: number
  /** Unpublished bytes held before unreachable ones are dropped and the rest uploaded early. @default DEFAULT_WRITE_BUFFER_BYTES */
  writeBufferBytes?: number
  /** Block puts in flight at once. @default DEFAULT_UPLOADS_IN_FLIGHT (write-buffer.ts) */
  uploadsInFlight?: number
  /** Bytes of the block puts in flight. @default DEFAULT_UPLOAD_BYTES_IN_FLIGHT (write-buffer.ts) */
  uploadBytesInFlight?: number
  /** Data blocks fetched in parallel ahead of a read (CFS's prefetch window). @default DEFAULT_READ_AHEAD_BLOCKS (file-data.ts) */
  readAheadBlocks?: number
  /** Past versions (besides the current one) that refresh keeps alive. @default DEFAULT_KEEP_VERSIONS */
  keepVersions?: number
  /**
   * Milliseconds between lease renewals of every block the kept versions reach (refresh());
   * 0 = no timer. Keep it well under the lease. @default DEFAULT_LEASE_REFRESH_INTERVAL_MS (6 hours)
   */
  leaseRefreshIntervalMs?: number
  /** Lease asked for on put and refresh. @default the BlockService's */
  leaseMs?: number
  /** Data blocks a writeStream uploads between two updates of the tree. @default DEFAULT_STREAM_COMMIT_BLOCKS */
  streamCommitBlocks?: number
  /**
   * Holders every block and the signed root must reach for a publication (and so fsync) to
   * succeed; with fewer it fails (TooFewReplicasError) and the change waits for the next one.
   * @default a majority of the k the block layer wants (minReplicasFor: 2 of 3)
   */
  minReplicas?: number
}

export interface VolumeStats {
  /** Sequence number of the last published version (0: none). */
  readonly seq: number
  /** Changes not yet published. */
  readonly dirty: boolean
  readonly publishes: number
  readonly bufferedBytes: number
  readonly bufferedBlocks: number
  /** Content-block puts (degraded ones counted too). */
  readonly uploads: UploadStats
  /** Root puts acknowledged by fewer replicas than wanted. */
  readonly degradedRoots: number
  /** Set once another writer published: nothing more is published from this volume. */
  readonly conflict: RootConflictError | undefined
  /** When the oldest change not yet published was made (ms since the epoch); tracked with a journal only. */
  readonly waitingSinceMs: number | undefined
  /** Bytes in the journal's file (0 without one). */
  readonly journalBytes: number
}

interface Published { readonly record: RootRecord, readonly recordKey: Key, readonly bytes: Uint8Array }

/**
 * The owner's side of a volume: the current tree (published or not), one mutex over every
 * change to it, batched publication of signed roots, and lease renewal.
 *
 * Each operation is a pure function from one tree to the next (tree.ts); new blocks go to a
 * bounded write-back buffer and reads see them at once. Publishing takes the tree of that
 * moment, uploads every new block it reaches, waits for all acks, stores the root record as a
 * content block, and only then puts the signed root, conditional on the previous sequence
 * number: if another writer got there first the put fails, this volume keeps its tree and
 * every later sync() throws RootConflictError.
 *
 * A publication holds its own lock, not the change mutex: writes go on while it uploads, and
 * what they change is published by the next one. Concurrent sync() calls share one
 * publication (group commit): a caller that arrives while one is uploading waits for the next,
 * which takes every change made until it begins.
 */
export class Volume implements FileSystem, Startable, HandleHost {
  private readonly log: Logger
  private readonly now: () => number
  /** The last change time given out: every change gets a later one, so ctime always moves. */
  private lastNs = 0n
  private readonly defaultOwner: Owner
  private readonly mutex = new Mutex()
  /** One publication at a time (sequence numbers); changes do not wait for it. */
  private readonly publishLock = new Mutex()
  /** The next publication, while it has not begun. */
  private queued: Promise<VersionInfo | undefined> | undefined
  /** The top being published: its buffered blocks are kept from pruning until it is stored. */
  private publishing: Key | undefined
  private readonly reader: BlockReader
  private readonly buffer: WriteBuffer
  private readonly keeper: JournalKeeper | undefined
  private readonly store: VolumeStore
  private readonly rootKey: Key
  private readonly owner: string
  private readonly blockSize: number
  /** Buffered bytes above which a change first makes room (relieve). */
  private readonly writeBufferBytes: number
  /** Data blocks fetched ahead of a read (CFS's prefetch window). */
  readonly readAheadBlocks: number
  private readonly keepVersions: number
  private readonly streamCommitBlocks: number
  private readonly handles = new Set<VolumeHandle>()
  /** Buffered blocks a streaming write has put but not linked yet: kept from pruning. */
  private readonly pins = new Map<string, number>()
  private shutdown = lifetimeController()
  private started = false
  private top: Key | undefined
  private published: Published | undefined
  /** The published root reached fewer holders than the minimum: put it again before anything else. */
  private rootShort = false
  private readonly releaser: VolumeReleaser
  private conflict: RootConflictError | undefined
  private publishes = 0
  private degradedRoots = 0
  private readonly refresher: PeriodicTask
  /** The publish timer: armed by a change, re-armed while changes are pending (no jitter). */
  private readonly publisher: PeriodicTask
  private readonly metrics: { ok: Counter, conflict: Counter, failed: Counter, seconds: Histogram }

  constructor (private readonly components: VolumeComponents, private readonly init: VolumeInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('fs:volume')
    this.metrics = this.registerMetrics(components.metrics ?? NO_METRICS)
    this.now = components.now ?? Date.now
    this.defaultOwner = init.owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
    this.blockSize = init.blockSizeBytes ?? DEFAULT_BLOCK_SIZE
    this.writeBufferBytes = init.writeBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES
    this.readAheadBlocks = init.readAheadBlocks ?? fileData.DEFAULT_READ_AHEAD_BLOCKS
    this.keepVersions = init.keepVersions ?? DEFAULT_KEEP_VERSIONS
    this.streamCommitBlocks = init.streamCommitBlocks ?? DEFAULT_STREAM_COMMIT_BLOCKS
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 1 || this.blockSize > MAX_BLOCK_BYTES) throw new RangeError('block size out of range (1 B .. 1 MiB)')
    this.owner = toHex(components.signer.publicKey)
    this.rootKey = components.verifier.rootKey(components.signer.publicKey)
    this.reader = new BlockReader(components.blocks, init)
    const keeper = components.journal === undefined ? undefined : new JournalKeeper(components.journal, this.log, this.now)
    this.keeper = keeper
    this.buffer = new WriteBuffer(components, {
      onAdd: (key: Key, bytes: Uint8Array) => {
        keeper?.took(key, bytes)
        this.releaser.took(key)
      },
      onPut: (key: Key) => { this.releaser.put(key) },
      ...this.putOptions(),
      ...(init.uploadsInFlight === undefined ? {} : { uploadsInFlight: init.uploadsInFlight }),
      ...(init.uploadBytesInFlight === undefined ? {} : { uploadBytesInFlight: init.uploadBytesInFlight }),
      ...(init.minReplicas === undefined ? {} : { minReplicas: init.minReplicas }),
    })
    this.store = new VolumeStore(this.reader, this.buffer, this.blockSize, () => this.shutdown.signal)
    this.releaser = new VolumeReleaser({
      store: this.store,
      reader: this.reader,
      blocks: components.blocks,
      signer: components.signer,
      leaseMs: init.leaseMs,
      log: this.log,
      published: () => this.published,
      liveStarts: () => [
        { key: this.currentTop, role: 'inode' },
        ...(this.publishing === undefined ? [] : [{ key: this.publishing, role: 'inode' as const }]),
        ...[...this.handles].flatMap((h) => h.detached === undefined || h.detached.data === null ? [] : [fileStart(h.detached)]),
      ],
      held: () => [...this.pins.keys(), ...[...this.buffer.entries()].map(([key]) => toHex(key))],
    })
    // Lease renewal: blocks live only as long as their leases, so an owner that stays up
    // (a mount, cfs backup --every) renews them; a lost block is put back if still held here.
    this.refresher = new PeriodicTask({
      round: async (options) => {
        const report = await this.refresh(options)
        if (report.lost.length > 0) this.log.error('refresh: %d block(s) lost on every replica', report.lost.length)
        // Versions past those kept are no longer refreshed: their own blocks go now.
        await this.releaseOld(this.keepVersions, options)
      },
      log: this.log,
    }, { name: 'refresh', intervalMs: init.leaseRefreshIntervalMs ?? DEFAULT_LEASE_REFRESH_INTERVAL_MS, jitter: 0.2 })
    this.publisher = new PeriodicTask({ round: async () => this.publishInBackground(), log: this.log }, {
      name: 'publish', intervalMs: init.publishIntervalMs ?? DEFAULT_PUBLISH_INTERVAL_MS, mode: 'debounce',
    })
  }

  get publicKey (): Uint8Array { return this.components.signer.publicKey }

  private registerMetrics (metrics: Metrics): Volume['metrics'] {
    const publications = metrics.counter({
      name: 'cfs_volume_publications_total', help: 'Publications of a new signed root, by outcome (ok; conflict: another writer published first; failed)', labelNames: ['outcome'],
    })
    metrics.collect({ name: 'cfs_volume_published_seq', help: 'Sequence number of the last version published (0: none)', type: 'gauge', collect: (r) => { r(this.published?.record.seq ?? 0) } })
    metrics.collect({ name: 'cfs_volume_dirty', help: '1 while changes wait to be published', type: 'gauge', collect: (r) => { r(this.started && this.isDirty() ? 1 : 0) } })
    metrics.collect({ name: 'cfs_volume_buffered_bytes', help: 'Bytes of new blocks held until their upload is acknowledged', type: 'gauge', collect: (r) => { r(this.buffer.bytes) } })
    return {
      ok: publications.labels('ok'),
      conflict: publications.labels('conflict'),
      failed: publications.labels('failed'),
      seconds: metrics.histogram({ name: 'cfs_volume_publication_duration_seconds', help: 'Duration of successful publications (uploads and the root put)', buckets: PUBLICATION_SECONDS_BUCKETS }),
    }
  }

  get streamWindowBytes (): number { return this.readAheadBlocks * this.blockSize }

  /** Loads the latest published version, or starts an empty tree (published by the first sync). */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.started) return
    this.shutdown = lifetimeController()
    const root = await fetchRoot(this.components.blocks, this.components.verifier, this.publicKey, options)
    if (root !== undefined) {
      this.published = root
      this.top = root.record.top
    } else {
      this.top = await tree.emptyTree(this.context({}))
    }
    if (this.keeper !== undefined) await this.resume(this.keeper, options)
    this.started = true
    this.refresher.start()
    this.publisher.start()
    if (this.isDirty()) this.schedulePublish()
    this.log('started at version %d', this.published?.record.seq ?? 0)
  }

  /**
   * Takes up what the journal holds: changes that waited become the current tree (published
   * by the next round), or, if another writer published over them, are set aside.
   */
  private async resume (keeper: JournalKeeper, options: AbortOptions): Promise<void> {
    const resumed = await keeper.open(this.publishedBase())
    let since: number | undefined
    if (resumed.kind === 'resume') {
      for (const [key, bytes] of resumed.blocks) this.buffer.add(key, bytes)
      this.top = resumed.top
      since = resumed.sinceMs
      await this.prune(options)
      // Not an error, but always shown: the mount's log says what waits and since when.
      this.log.error('journal: changes made since %s wait to be published (%d blocks, %d bytes)', new Date(since).toISOString(), this.buffer.blocks, this.buffer.bytes)
    } else if (resumed.kind === 'conflict') {
      const aside = await keeper.setAside(resumed.seq)
      this.log.error('journal: another writer published version %d over the changes it held; they are kept in %s, not applied', resumed.seq, aside)
    }
    await keeper.restart(this.publishedBase(), this.buffer.entries(), this.currentTop, since)
  }

  private publishedBase (): JournalBase | undefined {
    const p = this.published
    return p === undefined ? undefined : { seq: p.record.seq, recordKey: p.recordKey, top: p.record.top }
  }

  /**
   * Stops the publish and refresh timers, aborts uploads in flight and waits for a background
   * publication or refresh to end. Call sync() first to keep changes (or have a journal keep them).
   */
  async stop (): Promise<void> {
    if (!this.started) return
    this.started = false
    // A background publication runs with the volume's signal (sync() callers may share it).
    this.shutdown.abort()
    await Promise.all([this.publisher.stop(), this.refresher.stop()])
    await this.mutex.run(async () => { await this.keeper?.close() })
  }

  get stats (): VolumeStats {
    return {
      seq: this.published?.record.seq ?? 0,
      dirty: this.isDirty(),
      publishes: this.publishes,
      bufferedBytes: this.buffer.bytes,
      bufferedBlocks: this.buffer.blocks,
      uploads: this.buffer.stats,
      degradedRoots: this.degradedRoots,
      conflict: this.conflict,
      waitingSinceMs: this.keeper?.since,
      journalBytes: this.keeper?.bytes ?? 0,
    }
  }

  /** Key of the current tree's top inode (unpublished changes included). */
  get currentTop (): Key {
    if (this.top === undefined) throw new TypeError('the volume is not started')
    return this.top
  }

  // ---- reads: the current tree, unpublished changes included ----

  /** A read-only view of the current tree (or of a published version by sequence number). */
  async snapshot (seq?: number, options: AbortOptions = {}): Promise<Snapshot> {
    if (seq === undefined) return this.view()
    const v = await findVersion(this.versions(options), seq)
    return new Snapshot(this.store, v.top, v, this.init)
  }

  /** Published versions, newest first, as far back as their records are still stored. */
  async * versions (options: AbortOptions = {}): AsyncGenerator<VersionInfo> {
    if (this.published === undefined) return
    yield * versionChain(this.store, this.published.record, this.published.recordKey, options)
  }

  async stat (path: string, options: AbortOptions = {}): Promise<Stat> {
    return this.view().stat(path, options)
  }

  readdir (path: string, options: ListOptions = {}): AsyncIterable<InodeEntry> {
    return this.view().readdir(path, options)
  }

  async getxattr (path: string, name: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    return this.view().getxattr(path, name, options)
  }

  async listxattr (path: string, options: AbortOptions = {}): Promise<string[]> {
    return this.view().listxattr(path, options)
  }

  async readlink (path: string, options: AbortOptions = {}): Promise<string> {
    return this.view().readlink(path, options)
  }

  async read (file: string | FileHandle, offset: number, length: number, options: AbortOptions = {}): Promise<Uint8Array> {
    if (typeof file !== 'string') return file.read(offset, length, options)
    return this.view().read(file, offset, length, options)
  }

  /** Streams a file of the current tree, a read-ahead window at a time, each from the tree of that moment. */
  async * readStream (path: string, options: ReadStreamOptions = {}): AsyncGenerator<Uint8Array> {
    const handle = await this.open(path, options.signal === undefined ? {} : { signal: options.signal })
    try {
      yield * handle.readStream(options)
    } finally {
      await handle.close()
    }
  }

  async open (path: string, options: OpenOptions & AbortOptions = {}): Promise<FileHandle> {
    const names = splitPath(path)
    const write = options.write === true
    if (options.create === true) {
      await this.mutate(options, async (ctx, top) => tree.createFile(ctx, top, names, {
        blockSize: this.blockSize, exclusive: options.exclusive === true, ...(options.mode === undefined ? {} : { mode: options.mode }),
      }))
    }
    const top = this.currentTop
    const { key, inode } = await resolve(this.store, top, names, options)
    const file = tree.asFile(inode, names)
    // O_TRUNC: the times change even when the file was empty (as on Linux).
    if (options.truncate === true) await this.mutate(options, async (ctx, top) => tree.truncate(ctx, top, names, 0, true))
    const handle = new VolumeHandle(this, names, write)
    handle.resolved = { top, names, file, key }
    this.handles.add(handle)
    return handle
  }

  // ---- changes ----

  async create (path: string, options: { mode?: number, exclusive?: boolean } & OwnerOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.createFile(ctx, top, names, {
      blockSize: this.blockSize,
      ...(options.exclusive === undefined ? {} : { exclusive: options.exclusive }),
      ...(options.mode === undefined ? {} : { mode: options.mode }),
    }))
  }

  async mkdir (path: string, options: { mode?: number } & OwnerOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.mkdir(ctx, top, names, options.mode))
  }

  async symlink (target: string, path: string, options: OwnerOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.symlink(ctx, top, target, names))
  }

  async mknod (path: string, type: SpecialType, options: { mode?: number, rdev?: number } & OwnerOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.mknod(ctx, top, names, type, options.mode ?? 0o644, options.rdev ?? 0))
  }

  async link (existing: string, path: string, options: AbortOptions = {}): Promise<void> {
    const from = splitPath(existing)
    const to = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.link(ctx, top, from, to))
  }

  async unlink (path: string, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => {
      const next = await tree.unlink(ctx, top, names)
      await this.detachHandles(top, names)
      return next
    })
  }

  async rmdir (path: string, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.rmdir(ctx, top, names))
  }

  async rename (from: string, to: string, options: { mode?: tree.RenameMode } & AbortOptions = {}): Promise<void> {
    const src = splitPath(from)
    const dst = splitPath(to)
    const mode = options.mode ?? 'replace'
    await this.mutate(options, async (ctx, top) => {
      const next = await tree.rename(ctx, top, src, dst, mode)
      if (next === top) return top
      if (mode !== 'exchange') await this.detachHandles(top, dst) // a file that was replaced
      for (const h of this.handles) {
        if (h.detached !== undefined) continue
        if (startsWith(h.names, src)) h.names = [...dst, ...h.names.slice(src.length)]
        else if (mode === 'exchange' && startsWith(h.names, dst)) h.names = [...src, ...h.names.slice(dst.length)]
      }
      return next
    })
  }

  async chmod (path: string, mode: number, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.chmod(ctx, top, names, mode))
  }

  async chown (path: string, uid: number | undefined, gid: number | undefined, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.chown(ctx, top, names, uid, gid))
  }

  async setTimes (path: string, times: tree.SetTimes, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.setTimes(ctx, top, names, times))
  }

  async setxattr (path: string, name: string, value: Uint8Array, mode: tree.XattrMode = 'either', options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.setXattr(ctx, top, names, name, value, mode))
  }

  async removexattr (path: string, name: string, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.removeXattr(ctx, top, names, name))
  }

  async truncate (path: string, size: number, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.truncate(ctx, top, names, size))
  }

  async write (file: string | FileHandle, offset: number, data: Uint8Array, options: AbortOptions = {}): Promise<number> {
    if (typeof file === 'string') {
      const names = splitPath(file)
      await this.mutate(options, async (ctx, top) => tree.write(ctx, top, names, offset, data))
      return data.length
    }
    const handle = this.ownHandle(file)
    if (!handle.writable) throw new ReadOnlyError('the file is open read-only')
    await this.mutate(options, async (ctx, top) => {
      if (handle.detached === undefined) return tree.write(ctx, top, handle.names, offset, data)
      handle.detached = tree.withContent(handle.detached, await fileData.writeRange(this.store, handle.detached, offset, data, options), ctx.nowNs)
      return top
    })
    return data.length
  }

  /**
   * Writes a stream into a file (created if missing; with `truncate`, cut at `offset`
   * first). Whole blocks are uploaded as they fill, a few in flight, and linked into the
   * tree every `streamCommitBlocks` blocks: memory holds one block plus the uploads.
   */
  async writeStream (
    path: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    options: { offset?: number, truncate?: boolean } & AbortOptions = {},
  ): Promise<number> {
    return writeStream(this.streamHost, splitPath(path), source, {
      ...options, blockSize: this.blockSize, commitBlocks: this.streamCommitBlocks,
    })
  }

  private readonly streamHost: StreamHost = {
    store: () => this.store,
    mutate: async (options, change) => this.mutate(options, change),
    pin: (key) => { this.pin(key) },
    unpin: (key) => { this.unpin(key) },
  }

  // ---- publishing ----

  /**
   * Publishes every change made before the call; throws RootConflictError once another writer
   * published. Calls that overlap share publications (group commit). The caller's signal
   * stops its wait, not the publication, which others may be waiting for.
   */
  async sync (options: AbortOptions = {}): Promise<void> {
    // On the local disk first: if the publication fails, the change still survives a crash.
    if (this.keeper !== undefined) await raceSignal(this.keeper.sync(), options.signal)
    await raceSignal(this.commit(), options.signal)
  }

  /**
   * One publication round now (after any in flight): returns the new version, or undefined
   * when nothing changed. Tests call it directly; fsync and the timer go through sync().
   */
  async publishOnce (options: AbortOptions = {}): Promise<VersionInfo | undefined> {
    return this.publishLock.run(async () => this.publishTree(options))
  }

  /** The publication that has not begun yet, or a new one queued behind the one in flight. */
  private async commit (): Promise<VersionInfo | undefined> {
    if (this.queued !== undefined) return this.queued
    // Mutex.run starts the task on a later tick, never inside this call: the queue is set first.
    const done = this.publishLock.run(async () => {
      this.queued = undefined
      return this.publishTree({ signal: this.shutdown.signal })
    })
    this.queued = done
    return done
  }

  private async publishTree (options: AbortOptions): Promise<VersionInfo | undefined> {
    if (this.conflict !== undefined) throw this.conflict
    // The tree of this moment: a change in progress assigns `top` only once it is whole.
    const top = this.currentTop
    const put = { ...this.putOptions(), ...(options.signal === undefined ? {} : { signal: options.signal }) }
    // Holders that missed the last root would refuse the next one (its expectSeq): they get it first.
    if (this.rootShort && this.published !== undefined) await this.putRoot(this.published.bytes, undefined, put)
    if (!this.isDirty()) return undefined
    const started = performance.now()
    let v: VersionInfo
    try {
      v = await this.publishTop(top, started, put, options)
      this.metrics.ok.inc()
      this.metrics.seconds.observe(secondsSince(started))
    } catch (err) {
      if (err === this.conflict) this.metrics.conflict.inc()
      else if (options.signal?.aborted !== true) this.metrics.failed.inc()
      this.releaser.failed(err)
      throw err
    }
    await this.releaser.published(options)
    return v
  }

  /**
   * Releases the blocks that only versions older than the newest `keepPast + 1` reach (the
   * block layer's early release, signed with the owner's key), so they leave the ring now
   * instead of when their leases end (volume-release.ts). The refresh round keeps
   * `keepVersions` past versions and releases the rest; after a publication was refused for
   * space, the next one releases every past version. The current tree, one being published,
   * open unlinked files and blocks the write buffer holds are never released.
   */
  async releaseOld (keepPast = this.keepVersions, options: AbortOptions = {}): Promise<ReleaseReport> {
    return this.releaser.releaseOld(keepPast, options)
  }

  private async publishTop (top: Key, started: number, put: PutOptions, options: AbortOptions): Promise<VersionInfo> {
    const seq = (this.published?.record.seq ?? 0) + 1
    const record: RootRecord = { seq, timeMs: this.now(), top, prev: this.published?.recordKey ?? null }
    const recordBytes = rootRecordCodec.encode(record)
    const recordKey = hashKey(recordBytes)
    this.buffer.add(recordKey, recordBytes)
    this.publishing = top
    try {
      // The record goes out with the tree: the signed root below names it only once all are stored.
      await this.uploadBelow([{ key: top, role: 'inode' }], options, [recordKey])
      const bytes = this.components.signer.sign(seq, recordBytes)
      await this.putRoot(bytes, seq - 1, put, () => {
        // Some holders took it: this sequence number is used, whether or not enough did.
        this.published = { record, recordKey, bytes }
        this.publishes++
      })
    } finally {
      this.publishing = undefined
    }
    await this.mutex.run(async () => {
      await this.prune(options)
      await this.keeper?.published({ seq, recordKey, top }, () => this.buffer.entries(), this.currentTop)
    })
    this.log('published version %d in %d ms', seq, Math.round(performance.now() - started))
    return versionOf(record, recordKey)
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
      result = await this.components.blocks.put(ROOT_BLOCK, this.rootKey, bytes, { ...put, ...(expectSeq === undefined ? {} : { expectSeq }) })
    } catch (err) {
      if (isCfsError(err, 'ROOT_CONFLICT') || isCfsError(err, 'ROOT_STALE')) {
        const seq = this.published?.record.seq ?? 0
        this.conflict = new RootConflictError(`another writer published this volume after version ${seq}; changes since are kept here, unpublished`, { cause: err })
        this.log.error('%s', this.conflict.message)
        throw this.conflict
      }
      throw err
    }
    stored?.()
    if (result.degraded) this.degradedRoots++
    this.rootShort = true
    checkReplicas(result, this.init.minReplicas, 'root')
    this.rootShort = false
  }

  /**
   * Extends the leases of every block of the current version and of `keepVersions` past
   * ones, and puts back what went missing if the volume still has the bytes.
   */
  async refresh (options: AbortOptions = {}): Promise<RefreshReport> {
    const published = this.published
    if (published === undefined) return { refreshed: 0, restored: 0, lost: [] }
    const records: Key[] = []
    const keep = this.keepVersions + 1
    for await (const v of versionChain(this.store, published.record, published.recordKey, options)) {
      records.push(v.recordKey)
      if (records.length >= keep) break
    }
    return refreshBlocks({
      blocks: this.components.blocks,
      store: this.store,
      held: (key, role) => this.buffer.get(key) ?? heldBytes(this.reader, key, role),
      records,
      root: { key: this.rootKey, bytes: published.bytes },
      ...this.putOptions(),
    }, options)
  }

  // ---- handles (HandleHost) ----

  async statHandle (handle: VolumeHandle, options: AbortOptions): Promise<Stat> {
    if (handle.detached !== undefined) return statOf(hashKey(inodeCodec.encode(handle.detached)), handle.detached)
    const { key, file } = await this.handleFile(handle, options)
    return statOf(key, file)
  }

  async readHandle (handle: VolumeHandle, offset: number, length: number, options: ReadIntoOptions): Promise<Uint8Array> {
    const file = handle.detached ?? (await this.handleFile(handle, options)).file
    handle.readAhead.after(this.store, file, offset, length)
    return fileData.readBytes(this.store, file, offset, length, { ...options, readAhead: this.readAheadBlocks })
  }

  async truncateHandle (handle: VolumeHandle, size: number, options: AbortOptions): Promise<void> {
    await this.mutate(options, async (ctx, top) => {
      // ftruncate: the times change even when the size does not (as on Linux).
      if (handle.detached === undefined) return tree.truncate(ctx, top, handle.names, size, true)
      handle.detached = tree.withContent(handle.detached, await fileData.truncate(this.store, handle.detached, size, options), ctx.nowNs)
      return top
    })
  }

  /** The file a handle names in the current tree; resolved again only after a change or a rename. */
  private async handleFile (handle: VolumeHandle, options: AbortOptions): Promise<NonNullable<VolumeHandle['resolved']>> {
    const top = this.currentTop
    const r = handle.resolved
    if (r !== undefined && r.top === top && r.names === handle.names) return r
    const { key, inode } = await resolve(this.store, top, handle.names, options)
    handle.resolved = { top, names: handle.names, file: tree.asFile(inode, handle.names), key }
    return handle.resolved
  }

  closeHandle (handle: VolumeHandle): void {
    handle.closed = true
    this.handles.delete(handle)
  }

  // ---- internals ----

  private view (): Snapshot {
    return new Snapshot(this.store, this.currentTop, undefined, this.init)
  }

  private ownHandle (file: FileHandle): VolumeHandle {
    if (!(file instanceof VolumeHandle) || !this.handles.has(file)) throw new TypeError('not an open handle of this volume')
    return file
  }

  private isDirty (): boolean {
    return this.top !== undefined && (this.published === undefined || !keysEqual(this.top, this.published.record.top))
  }

  private putOptions (): { leaseMs?: number, owner: string } {
    return { owner: this.owner, ...(this.init.leaseMs === undefined ? {} : { leaseMs: this.init.leaseMs }) }
  }

  /** Runs one change under the mutex, then keeps the write buffer within bounds. */
  /**
   * What a change needs: the store, a time later than any given out before (the wall clock's
   * millisecond, then a nanosecond more per change within it), and the owner of new inodes.
   */
  private context (options: OwnerOptions): tree.TreeContext {
    const wall = msToNs(this.now())
    this.lastNs = wall > this.lastNs ? wall : this.lastNs + 1n
    return {
      store: this.store, nowNs: this.lastNs, owner: options.owner ?? this.defaultOwner,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    }
  }

  private async mutate (options: OwnerOptions, change: (ctx: tree.TreeContext, top: Key) => Promise<Key>): Promise<void> {
    await this.mutex.run(async () => {
      const top = this.currentTop
      const ctx = this.context(options)
      const next = await change(ctx, top)
      if (this.keeper !== undefined) {
        // On file before the change is reported done; if it cannot be, the change is undone.
        await this.keeper.record(next)
      }
      if (!keysEqual(next, top)) {
        this.top = next
        this.schedulePublish()
      }
      if (this.buffer.bytes > this.writeBufferBytes) {
        // The change is made; a failed early upload must not report it as failed. The blocks
        // stay buffered and the next publish tries them again (and reports a failure).
        await this.relieve(options).catch((err: unknown) => { this.log.error('early upload failed: %s', (err as Error).message) })
      }
    })
  }

  /**
   * The buffer is over its bound: drop blocks nothing reaches any more (superseded partial
   * blocks and metadata), and if that is not enough, upload the rest now (the root is still
   * published on schedule).
   */
  private async relieve (options: AbortOptions): Promise<void> {
    await this.prune(options)
    if (this.buffer.bytes <= this.writeBufferBytes) return
    await this.uploadBelow([{ key: this.currentTop, role: 'inode' }], options)
  }

  /**
   * Uploads the buffered blocks reachable from the starts (and `extra`, blocks outside the
   * tree such as the new root record), all at once: a publish costs one round of puts, not
   * one per tree level. A block leaves the buffer only once it and everything buffered below
   * it are acknowledged, children first. That keeps prune's rule true ("a block that is not
   * buffered is stored, and so is everything below it"): if a child's put fails, its parent
   * stays buffered too, and the child is not pruned while the tree still points at it.
   */
  private async uploadBelow (starts: readonly WalkStart[], options: AbortOptions, extra: readonly Key[] = []): Promise<void> {
    const below = new Map<string, Key[]>()
    const keys = await this.bufferedBelow(starts, {
      ...options,
      onEdge: (parent, child) => {
        if (!this.buffer.has(child.key)) return
        const hex = toHex(parent)
        const list = below.get(hex) ?? []
        list.push(child.key)
        below.set(hex, list)
      },
    })
    const acked = new Map<string, Promise<void>>()
    for (const key of [...keys, ...extra]) {
      const p = this.buffer.upload([key], { ...options, retain: true })
      p.catch(() => {}) // seen below, through settled()
      acked.set(toHex(key), p)
    }
    const settling = new Map<string, Promise<void>>()
    const settled = async (key: Key): Promise<void> => {
      const hex = toHex(key)
      let p = settling.get(hex)
      if (p === undefined) {
        p = Promise.all([...(below.get(hex) ?? []).map(settled), acked.get(hex)]).then(() => { this.buffer.settle(key) })
        p.catch(() => {})
        settling.set(hex, p)
      }
      return p
    }
    const results = await Promise.allSettled([...keys, ...extra].map(settled))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  /** Drops buffered blocks that neither the tree, an unlinked open file, nor a streaming write reaches. */
  private async prune (options: AbortOptions): Promise<void> {
    const starts: WalkStart[] = [{ key: this.currentTop, role: 'inode' }]
    if (this.publishing !== undefined) starts.push({ key: this.publishing, role: 'inode' })
    const detached = [...this.handles].flatMap((h) => h.detached === undefined ? [] : [h.detached])
    const keep = new Set((await this.bufferedBelow(starts, options)).map(toHex))
    for (const file of detached) {
      for (const key of await this.bufferedBelowFile(file, options)) keep.add(toHex(key))
    }
    for (const hex of this.pins.keys()) keep.add(hex)
    this.buffer.prune(keep)
  }

  /**
   * Buffered blocks reachable from the starts. A block that is not buffered is stored, and so
   * is everything below it (a flush uploads all that a tree reaches), so the walk stops there.
   */
  private async bufferedBelow (starts: readonly WalkStart[], options: WalkOptions): Promise<Key[]> {
    const keys: Key[] = []
    const seen = new Set<string>()
    await walk(this.store, starts, (key) => {
      const hex = toHex(key)
      if (seen.has(hex) || !this.buffer.has(key)) return false
      seen.add(hex)
      keys.push(key)
      return true
    }, options)
    return keys
  }

  private async bufferedBelowFile (file: FileInode, options: AbortOptions): Promise<Key[]> {
    if (file.data === null) return []
    return this.bufferedBelow([fileStart(file)], options)
  }

  /** Open handles on the file at `names` in `top` keep that file as it was. */
  private async detachHandles (top: Key, names: readonly string[]): Promise<void> {
    for (const h of this.handles) {
      if (h.detached !== undefined || !startsWith(h.names, names) || h.names.length !== names.length) continue
      const { inode } = await resolve(this.store, top, names)
      if (inode.type === 'file') h.detached = inode
    }
  }

  private pin (key: Key): void {
    const hex = toHex(key)
    this.pins.set(hex, (this.pins.get(hex) ?? 0) + 1)
  }

  private unpin (key: Key): void {
    const hex = toHex(key)
    const n = (this.pins.get(hex) ?? 0) - 1
    if (n > 0) this.pins.set(hex, n)
    else this.pins.delete(hex)
  }

  /** Arms the publish timer unless it is armed, the volume is stopped or in conflict. */
  private schedulePublish (): void {
    if (this.conflict === undefined) this.publisher.trigger()
  }

  /** The publish timer's round: join the next publication, and arm again while changes are pending. */
  private async publishInBackground (): Promise<void> {
    try {
      await this.commit()
    } catch (err) {
      if (!isCfsError(err, 'ABORTED') && !isCfsError(err, 'SHUTTING_DOWN')) this.log.error('publish failed: %s', (err as Error).message)
    }
    if (this.isDirty()) this.schedulePublish()
  }
}

/** Where a walk of a file's data begins (a file with data). */
function fileStart (file: FileInode): WalkStart {
  const data = file.data as Key
  return file.depth === 0 ? { key: data, role: 'data' } : { key: data, role: 'indirect', level: file.depth }
}

function startsWith (names: readonly string[], prefix: readonly string[]): boolean {
  return names.length >= prefix.length && prefix.every((n, i) => names[i] === n)
}
