import {
  Mutex, NO_METRICS, createLogger, keysEqual, lifetimeController, raceSignal, toHex,
  type AbortOptions, type ComponentLogger, type Key, type Logger, type Metrics, type RootConflictError, type Startable,
} from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import { BlockReader, type BlockReaderInit } from './block-reader.js'
import { BufferFlusher } from './buffer-flush.js'
import type { InodeEntry } from './dir-node.js'
import type { ListOptions } from './directory.js'
import { entryReadAheadFor, type EntryReadAhead } from './entry-read-ahead.js'
import type { FileHandle, FileSystem, OpenOptions, OwnerOptions, ReadStreamOptions, WriteOptions } from './file-system.js'
import { MAX_BLOCK_BYTES } from './format.js'
import { msToNs, type FileInode, type Owner, type SpecialType } from './inode.js'
import type { JournalBase, VolumeJournal } from './journal.js'
import { JournalKeeper } from './journal-keeper.js'
import { splitPath } from './names.js'
import { OpenFiles } from './open-files.js'
import type { RootSigner, RootVerifier } from './ports.js'
import { Publication } from './publication.js'
import { heldBytes, type RefreshReport } from './refresh.js'
import { Snapshot, type VersionInfo } from './snapshot.js'
import * as tree from './tree.js'
import { unsavedStatOf, type Stat } from './tree-read.js'
import { fetchRoot, findVersion, versionChain } from './versions.js'
import { VolumeRefresher } from './volume-refresh.js'
import type { VolumeHandle } from './volume-handle.js'
import { VolumeStore } from './volume-store.js'
import type { WalkStart } from './walk.js'
import { writeStream, type StreamHost } from './stream-write.js'
import type { ReleaseReport } from './unreachable.js'
import { VolumeReleaser } from './volume-release.js'
import { WriteBuffer, type UploadStats } from './write-buffer.js'

/**
 * Default data block size. On a real ring the cost per block dominates (docs/PROTOCOL.md,
 * "Block size"): 1 MiB blocks cost 30% less CPU per MB written than 256 KiB and half per MB
 * read, at the price of a whole-block rewrite for a small random write. It is also what the
 * mount gathers sequential FUSE writes into.
 */
export const DEFAULT_BLOCK_SIZE = 1024 * 1024
/** Past versions, besides the current one, whose blocks lease renewal keeps alive. */
export const DEFAULT_KEEP_VERSIONS = 8
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

export interface VolumeInit extends BlockReaderInit {
  /** Data block size of files created from now on (each file keeps its own). @default DEFAULT_BLOCK_SIZE */
  blockSizeBytes?: number
  /** Owner of inodes created without one (and of a new volume's top). @default this process's uid and gid */
  owner?: Owner
  /** Changes are published at most this often; 0 = no timer (call sync or publishOnce). @default DEFAULT_PUBLISH_INTERVAL_MS (publication.ts) */
  publishIntervalMs?: number
  /** Unpublished bytes held before unreachable ones are dropped and the rest uploaded early. @default DEFAULT_WRITE_BUFFER_BYTES (buffer-flush.ts) */
  writeBufferBytes?: number
  /** Block puts in flight at once. @default DEFAULT_UPLOADS_IN_FLIGHT (write-buffer.ts) */
  uploadsInFlight?: number
  /** Bytes of the block puts in flight. @default DEFAULT_UPLOAD_BYTES_IN_FLIGHT (write-buffer.ts) */
  uploadBytesInFlight?: number
  /** Data blocks fetched in parallel ahead of a read (CFS's prefetch window). @default DEFAULT_READ_AHEAD_BLOCKS (file-data.ts) */
  readAheadBlocks?: number
  /** Inode blocks of a directory's next files fetched ahead once its files are opened in name order. @default DEFAULT_READ_AHEAD_ENTRIES */
  readAheadEntries?: number
  /** Past versions (besides the current one) that refresh keeps alive. @default DEFAULT_KEEP_VERSIONS */
  keepVersions?: number
  /**
   * Milliseconds between lease renewals of every block the kept versions reach (refresh());
   * 0 = no timer. Keep it well under the lease. @default DEFAULT_LEASE_REFRESH_INTERVAL_MS (6 hours, volume-refresh.ts)
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

/**
 * The owner's side of a volume: the current tree (published or not) and one mutex over every
 * change to it. Each operation is a pure function from one tree to the next (tree.ts); new
 * blocks go to a bounded write-back buffer (write-buffer.ts, through volume-store.ts) and
 * reads see them at once. The other jobs are parts of their own, which this wires together:
 *
 * - buffer-flush.ts: uploads what the trees reach, children first; drops what nothing reaches.
 * - publication.ts: turns the tree of a moment into a signed root, batched (group commit),
 *   without holding the change mutex: writes go on while it uploads.
 * - open-files.ts: the handles given out, which follow renames and keep an unlinked file.
 * - journal-keeper.ts: changes kept on disk until the ring has them.
 * - volume-release.ts and volume-refresh.ts: early release of old versions, lease renewal.
 */
export class Volume implements FileSystem, Startable {
  private readonly log: Logger
  private readonly now: () => number
  /** The last change time given out: every change gets a later one, so ctime always moves. */
  private lastNs = 0n
  private readonly defaultOwner: Owner
  private readonly mutex = new Mutex()
  private readonly reader: BlockReader
  private readonly buffer: WriteBuffer
  private readonly flusher: BufferFlusher
  private readonly keeper: JournalKeeper | undefined
  private readonly store: VolumeStore
  private readonly files: OpenFiles
  /** The read-ahead across directories' files: of the open files and of every snapshot this volume gives. */
  private readonly entriesAhead: EntryReadAhead
  private readonly publication: Publication
  private readonly owner: string
  private readonly blockSize: number
  private readonly keepVersions: number
  private readonly streamCommitBlocks: number
  private shutdown = lifetimeController()
  private started = false
  private top: Key | undefined
  private readonly releaser: VolumeReleaser
  private readonly refresher: VolumeRefresher

  constructor (private readonly components: VolumeComponents, private readonly init: VolumeInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('fs:volume')
    this.now = components.now ?? Date.now
    this.defaultOwner = init.owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
    this.blockSize = init.blockSizeBytes ?? DEFAULT_BLOCK_SIZE
    this.keepVersions = init.keepVersions ?? DEFAULT_KEEP_VERSIONS
    this.streamCommitBlocks = init.streamCommitBlocks ?? DEFAULT_STREAM_COMMIT_BLOCKS
    if (!Number.isSafeInteger(this.blockSize) || this.blockSize < 1 || this.blockSize > MAX_BLOCK_BYTES) throw new RangeError('block size out of range (1 B .. 1 MiB)')
    this.owner = toHex(components.signer.publicKey)
    const rootKey = components.verifier.rootKey(components.signer.publicKey)
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
    this.flusher = new BufferFlusher({
      store: this.store, buffer: this.buffer, currentTop: () => this.currentTop, liveStarts: () => this.liveStarts(),
    }, init.writeBufferBytes === undefined ? {} : { writeBufferBytes: init.writeBufferBytes })
    const metrics = components.metrics ?? NO_METRICS
    this.entriesAhead = entryReadAheadFor(metrics, init)
    this.files = new OpenFiles({
      store: this.store,
      currentTop: () => this.currentTop,
      mutate: async (options, change, own) => this.mutate(options, change, own),
      entriesAhead: this.entriesAhead,
    }, { blockSize: this.blockSize, ...(init.readAheadBlocks === undefined ? {} : { readAheadBlocks: init.readAheadBlocks }) })
    this.releaser = new VolumeReleaser({
      store: this.store,
      reader: this.reader,
      blocks: components.blocks,
      signer: components.signer,
      leaseMs: init.leaseMs,
      log: this.log,
      published: () => this.publication.published,
      liveStarts: () => this.liveStarts(),
      held: () => this.flusher.held(),
    })
    this.publication = new Publication({
      blocks: components.blocks, signer: components.signer, rootKey, log: this.log, metrics, now: this.now,
      top: () => this.top, settle: async (options) => { await this.files.addStaged(options) },
      buffer: this.buffer, flusher: this.flusher, releaser: this.releaser,
      onPublished: async (version, options) => this.published(version, options),
      signal: () => this.shutdown.signal,
    }, {
      ...this.putOptions(),
      ...(init.minReplicas === undefined ? {} : { minReplicas: init.minReplicas }),
      ...(init.publishIntervalMs === undefined ? {} : { publishIntervalMs: init.publishIntervalMs }),
    })
    metrics.collect({ name: 'cfs_volume_dirty', help: '1 while changes wait to be published', type: 'gauge', collect: (r) => { r(this.started && this.publication.dirty ? 1 : 0) } })
    metrics.collect({ name: 'cfs_volume_buffered_bytes', help: 'Bytes of new blocks held until their upload is acknowledged', type: 'gauge', collect: (r) => { r(this.buffer.bytes) } })
    this.refresher = new VolumeRefresher({
      blocks: components.blocks, store: this.store, rootKey, releaser: this.releaser, log: this.log,
      held: (key, role) => this.buffer.get(key) ?? heldBytes(this.reader, key, role),
      published: () => this.publication.published,
    }, {
      keepVersions: this.keepVersions,
      ...this.putOptions(),
      ...(init.leaseRefreshIntervalMs === undefined ? {} : { intervalMs: init.leaseRefreshIntervalMs }),
    })
  }

  get publicKey (): Uint8Array { return this.components.signer.publicKey }

  /** Loads the latest published version, or starts an empty tree (published by the first sync). */
  async start (options: AbortOptions = {}): Promise<void> {
    if (this.started) return
    this.shutdown = lifetimeController()
    const root = await fetchRoot(this.components.blocks, this.components.verifier, this.publicKey, options)
    if (root !== undefined) {
      this.publication.adopt(root)
      this.top = root.record.top
    } else {
      this.top = await tree.emptyTree(this.context({}))
    }
    if (this.keeper !== undefined) await this.resume(this.keeper, options)
    this.started = true
    this.refresher.start()
    this.publication.start()
    this.log('started at version %d', this.publication.published?.record.seq ?? 0)
  }

  /**
   * Takes up what the journal holds: changes that waited become the current tree (published
   * by the next round), or, if another writer published over them, are set aside.
   */
  private async resume (keeper: JournalKeeper, options: AbortOptions): Promise<void> {
    const resumed = await keeper.open(this.publication.base)
    let since: number | undefined
    if (resumed.kind === 'resume') {
      for (const [key, bytes] of resumed.blocks) this.buffer.add(key, bytes)
      this.top = resumed.top
      since = resumed.sinceMs
      await this.flusher.prune(options)
      // Not an error, but always shown: the mount's log says what waits and since when.
      this.log.error('journal: changes made since %s wait to be published (%d blocks, %d bytes)', new Date(since).toISOString(), this.buffer.blocks, this.buffer.bytes)
    } else if (resumed.kind === 'conflict') {
      const aside = await keeper.setAside(resumed.seq)
      this.log.error('journal: another writer published version %d over the changes it held; they are kept in %s, not applied', resumed.seq, aside)
    }
    await keeper.restart(this.publication.base, this.buffer.entries(), this.currentTop, since)
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
    await Promise.all([this.publication.stop(), this.refresher.stop()])
    await this.mutex.run(async () => { await this.keeper?.close() })
  }

  get stats (): VolumeStats {
    const publication = this.publication
    return {
      seq: publication.published?.record.seq ?? 0,
      dirty: publication.dirty,
      publishes: publication.publishes,
      bufferedBytes: this.buffer.bytes,
      bufferedBlocks: this.buffer.blocks,
      uploads: this.buffer.stats,
      degradedRoots: publication.degradedRoots,
      conflict: publication.conflict,
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
    if (seq === undefined) return this.view(options)
    const v = await findVersion(this.versions(options), seq)
    return new Snapshot(this.store, v.top, v, this.init, this.entriesAhead)
  }

  /** Published versions, newest first, as far back as their records are still stored. */
  async * versions (options: AbortOptions = {}): AsyncGenerator<VersionInfo> {
    const published = this.publication.published
    if (published === undefined) return
    yield * versionChain(this.store, published.record, published.recordKey, options)
  }

  // A created file not yet in the tree (open-files.ts: staged) answers stat and xattr reads of
  // its own path, which the kernel asks between create and close; any other read adds it first.

  async stat (path: string, options: AbortOptions = {}): Promise<Stat> {
    const staged = this.stagedAt(path)
    if (staged !== undefined) return unsavedStatOf(staged)
    return (await this.view(options)).stat(path, options)
  }

  async * readdir (path: string, options: ListOptions = {}): AsyncIterable<InodeEntry> {
    yield * (await this.view(options)).readdir(path, options)
  }

  async getxattr (path: string, name: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    if (this.stagedAt(path) !== undefined) return undefined // a new file has none
    return (await this.view(options)).getxattr(path, name, options)
  }

  async listxattr (path: string, options: AbortOptions = {}): Promise<string[]> {
    if (this.stagedAt(path) !== undefined) return []
    return (await this.view(options)).listxattr(path, options)
  }

  async readlink (path: string, options: AbortOptions = {}): Promise<string> {
    return (await this.view(options)).readlink(path, options)
  }

  async read (file: string | FileHandle, offset: number, length: number, options: AbortOptions = {}): Promise<Uint8Array> {
    if (typeof file !== 'string') return file.read(offset, length, options)
    return (await this.view(options)).read(file, offset, length, options)
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

  /** Opens a file of the current tree (open-files.ts): its handle follows renames and keeps the file once unlinked. */
  async open (path: string, options: OpenOptions & AbortOptions = {}): Promise<FileHandle> {
    return this.files.open(splitPath(path), options)
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
      await this.files.detach(top, names)
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
      await this.files.renamed(top, src, dst, mode)
      return next
    })
  }

  async chmod (path: string, mode: number, options: AbortOptions = {}): Promise<void> {
    await this.changeAttributes(path, tree.modeChange(mode), options)
  }

  async chown (path: string, uid: number | undefined, gid: number | undefined, options: AbortOptions = {}): Promise<void> {
    await this.changeAttributes(path, tree.ownerChange(uid, gid), options)
  }

  async setTimes (path: string, times: tree.SetTimes, options: AbortOptions = {}): Promise<void> {
    if (times.atimeNs === undefined && times.mtimeNs === undefined) return
    await this.changeAttributes(path, tree.timesChange(times), options)
  }

  async setxattr (path: string, name: string, value: Uint8Array, mode: tree.XattrMode = 'either', options: AbortOptions = {}): Promise<void> {
    await this.changeAttributes(path, tree.xattrChange(name, value, mode), options)
  }

  async removexattr (path: string, name: string, options: AbortOptions = {}): Promise<void> {
    await this.changeAttributes(path, tree.xattrRemoval(name), options)
  }

  /** An attribute change: to the staged file (open-files.ts) if `path` is its, else to the tree. */
  private async changeAttributes (path: string, change: tree.InodeChange, options: AbortOptions): Promise<void> {
    const names = splitPath(path)
    const own = this.files.stagedHandleAt(names)
    await this.mutate(options, async (ctx, top) => {
      if (own !== undefined && this.files.restage(own, (file) => change(file, ctx.nowNs))) return top
      return tree.changeInode(ctx, top, names, change)
    }, own)
  }

  async truncate (path: string, size: number, options: AbortOptions = {}): Promise<void> {
    const names = splitPath(path)
    await this.mutate(options, async (ctx, top) => tree.truncate(ctx, top, names, size))
  }

  async write (file: string | FileHandle, offset: number, data: Uint8Array, options: WriteOptions = {}): Promise<number> {
    if (typeof file !== 'string') return this.files.write(file, offset, data, options)
    const names = splitPath(file)
    await this.mutate(options, async (ctx, top) => tree.write(ctx, top, names, offset, data, options))
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
    pin: (key) => { this.flusher.pin(key) },
    unpin: (key) => { this.flusher.unpin(key) },
  }

  // ---- publishing (publication.ts) ----

  /**
   * Publishes every change made before the call; throws RootConflictError once another writer
   * published. Calls that overlap share publications (group commit). The caller's signal
   * stops its wait, not the publication, which others may be waiting for.
   */
  async sync (options: AbortOptions = {}): Promise<void> {
    await this.files.addStaged(options)
    // On the local disk first: if the publication fails, the change still survives a crash.
    if (this.keeper !== undefined) await raceSignal(this.keeper.sync(), options.signal)
    await raceSignal(this.publication.commit(), options.signal)
  }

  /**
   * One publication round now (after any in flight): returns the new version, or undefined
   * when nothing changed. Tests call it directly; fsync and the timer go through sync().
   */
  async publishOnce (options: AbortOptions = {}): Promise<VersionInfo | undefined> {
    return this.publication.publishOnce(options)
  }

  /** A version is published: drop what the buffer no longer needs, and tell the journal (under the change mutex). */
  private async published (version: JournalBase, options: AbortOptions): Promise<void> {
    await this.mutex.run(async () => {
      await this.flusher.prune(options)
      await this.keeper?.published(version, () => this.buffer.entries(), this.currentTop)
    })
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

  /**
   * Extends the leases of every block of the current version and of `keepVersions` past
   * ones, and puts back what went missing if the volume still has the bytes.
   */
  async refresh (options: AbortOptions = {}): Promise<RefreshReport> {
    return this.refresher.refresh(options)
  }

  // ---- internals ----

  /** The staged file, if `path` is its (no path is split while none is staged). */
  private stagedAt (path: string): FileInode | undefined {
    return this.files.staged === undefined ? undefined : this.files.stagedAt(splitPath(path))
  }

  /** The current tree to read, with the staged file added. */
  private async view (options: AbortOptions): Promise<Snapshot> {
    await this.files.addStaged(options)
    return new Snapshot(this.store, this.currentTop, undefined, this.init, this.entriesAhead)
  }

  /** Trees whose blocks the volume holds besides its versions: the current one, one being published, open unlinked files. */
  private liveStarts (): WalkStart[] {
    const publishing = this.publication.publishing
    return [
      { key: this.currentTop, role: 'inode' },
      ...(publishing === undefined ? [] : [{ key: publishing, role: 'inode' as const }]),
      ...this.files.detachedStarts(),
    ]
  }

  private putOptions (): { leaseMs?: number, owner: string } {
    return { owner: this.owner, ...(this.init.leaseMs === undefined ? {} : { leaseMs: this.init.leaseMs }) }
  }

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

  /** Makes `next` the current tree (after `top`), on file first when there is a journal. */
  private async commit (top: Key, next: Key): Promise<void> {
    if (this.keeper !== undefined) {
      // On file before the change is reported done; if it cannot be, the change is undone.
      await this.keeper.record(next)
    }
    if (!keysEqual(next, top)) {
      this.top = next
      this.publication.schedule()
    }
  }

  /**
   * Runs one change under the mutex, then keeps the write buffer within bounds. A staged file
   * (open-files.ts) is added first, in the same change, unless `own`, its handle, makes the
   * change and adds it itself.
   */
  private async mutate (options: OwnerOptions, change: (ctx: tree.TreeContext, top: Key) => Promise<Key>, own?: VolumeHandle): Promise<void> {
    await this.mutex.run(async () => {
      const top = this.currentTop
      const ctx = this.context(options)
      const staged = this.files.staged
      try {
        const base = staged === undefined || staged === own ? top : await this.files.withStaged(ctx, top, staged)
        let next: Key
        try {
          next = await change(ctx, base)
        } catch (err) {
          if (base === top) throw err
          // The staged file was added; the change that came after it was not.
          await this.commit(top, base)
          this.files.joined()
          throw err
        }
        await this.commit(top, next)
        // The staged file, if withStaged or its own handle's change added it, is the tree's now.
        this.files.joined()
        // One still staged is published on the timer too (the round adds it first).
        if (this.files.staged !== undefined) this.publication.schedule()
      } finally {
        this.files.abandon()
      }
      if (this.flusher.full) {
        // The change is made; a failed early upload must not report it as failed. The blocks
        // stay buffered and the next publish tries them again (and reports a failure).
        await this.flusher.relieve(options).catch((err: unknown) => { this.log.error('early upload failed: %s', (err as Error).message) })
      }
    })
  }
}
