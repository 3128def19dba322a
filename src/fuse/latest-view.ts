import {
  PeriodicTask, ReadOnlyError, createLogger, isCfsError, sleep, type AbortOptions, type ComponentLogger, type Logger, type Startable,
} from '../core/index.js'
import type {
  InodeEntry, FileHandle, FileSystem, ListOptions, OpenOptions, ReadStreamOptions, Reader, Snapshot, Stat, TreeChanges, VersionInfo,
} from '../fs/index.js'
import type { VersionSource } from './snapshots.js'

export interface LatestViewComponents {
  reader: Pick<Reader, 'latest' | 'version' | 'versions' | 'watch' | 'canWatch'>
  publicKey: Uint8Array
  /**
   * Told what changed each time the view moves to a newer version (the mount drops the
   * kernel's cached attributes and pages of those paths). The view has moved already.
   */
  onMoved?: (changes: TreeChanges, options: AbortOptions) => Promise<void>
  logger?: ComponentLogger
}

/** Milliseconds between looks for a newer version of a followed volume (the mount's --refresh-ms). */
export const DEFAULT_POLL_INTERVAL_MS = 5_000
/** Pause between two watches of the root (one ends when a version arrives or its wait is over). */
export const WATCH_GAP_MS = 10
/** After the holders refused a watch or could not be reached, the view polls only, for this long. */
export const WATCH_RETRY_MS = 30_000

export interface LatestViewInit {
  /** Milliseconds between looks for a newer version; 0 = no timer (call pollOnce). @default DEFAULT_POLL_INTERVAL_MS */
  pollIntervalMs?: number
  /**
   * Also watch the root at its holders (dhash.watch), to move within moments of a new
   * version being stored; polling stays on as the fallback. @default true where the reader can
   */
  watch?: boolean
  /** How long one watch waits at the holders. @default the block service's (DEFAULT_WATCH_MS) */
  watchMs?: number
  /** Polling only, for this long, after a watch failed. @default WATCH_RETRY_MS */
  watchRetryMs?: number
}

/**
 * Someone else's volume, read-only, following its latest version: every call reads the
 * newest version seen so far. The view watches the root at its holders, which answer as soon
 * as a newer one is stored, and also looks for a newer one every `pollIntervalMs` (the
 * fallback when the holders refuse or cannot be reached). A file opened on one version keeps
 * reading that version. Every change is ReadOnlyError.
 */
export class LatestView implements FileSystem, VersionSource, Startable {
  private current: Snapshot
  private readonly log: Logger
  /** Looks for a newer version every pollIntervalMs after the last look ended (no jitter). */
  private readonly poller: PeriodicTask
  /** One watch of the root after another (absent when not watching). */
  private readonly watcher: PeriodicTask | undefined
  private readonly watchMs: number | undefined
  private readonly watchRetryMs: number
  /** The last watch failed (logged once until one succeeds). */
  private watchFailing = false

  private constructor (private readonly components: LatestViewComponents, first: Snapshot, init: LatestViewInit) {
    this.current = first
    this.log = (components.logger ?? createLogger()).forComponent('fuse:latest')
    this.poller = new PeriodicTask({ round: async (options) => this.pollOnce(options), log: this.log }, {
      name: 'poll', intervalMs: init.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    })
    this.watchMs = init.watchMs
    this.watchRetryMs = init.watchRetryMs ?? WATCH_RETRY_MS
    if ((init.watch ?? true) && components.reader.canWatch) {
      this.watcher = new PeriodicTask({ round: async (options) => this.watchOnce(options), log: this.log }, { name: 'watch', intervalMs: WATCH_GAP_MS })
    }
  }

  /** Loads the latest version (EntryNotFoundError if the volume was never published). */
  static async open (components: LatestViewComponents, init: LatestViewInit = {}, options: AbortOptions = {}): Promise<LatestView> {
    return new LatestView(components, await components.reader.latest(components.publicKey, options), init)
  }

  get version (): VersionInfo | undefined { return this.current.version }

  /** Whether the view watches the root (else it polls only). */
  get watching (): boolean { return this.watcher !== undefined }

  async start (): Promise<void> {
    this.poller.start()
    this.watcher?.start()
  }

  /** Stops the timers; looks and watches in flight are aborted and have ended when it resolves. */
  async stop (): Promise<void> {
    await Promise.all([this.poller.stop(), this.watcher?.stop()])
  }

  /** Looks for a newer version; returns whether the view moved. */
  async pollOnce (options: AbortOptions = {}): Promise<boolean> {
    return this.moveTo(await this.components.reader.latest(this.components.publicKey, options), options)
  }

  /**
   * One watch of the root: waits until a holder stores a newer version or the wait is over;
   * returns whether the view moved. When no holder takes the watch (all refused it, or none
   * could be reached), says so once in the log and pauses watchRetryMs: polling goes on.
   */
  async watchOnce (options: AbortOptions = {}): Promise<boolean> {
    let next: Snapshot | undefined
    try {
      next = await this.components.reader.watch(this.components.publicKey, this.latestSeq(), {
        ...options, ...(this.watchMs === undefined ? {} : { waitMs: this.watchMs }),
      })
    } catch (err) {
      if (options.signal?.aborted === true || !isCfsError(err)) throw err
      if (!this.watchFailing) this.log('watching version %d failed (%s): polling only, watching again every %d ms', this.latestSeq(), err.message, this.watchRetryMs)
      this.watchFailing = true
      await sleep(this.watchRetryMs, options)
      return false
    }
    if (this.watchFailing) this.log('watching again')
    this.watchFailing = false
    return next !== undefined && this.moveTo(next, options)
  }

  /** Moves to `next` if it is newer, and tells onMoved what changed. */
  private async moveTo (next: Snapshot, options: AbortOptions): Promise<boolean> {
    const prev = this.current
    if ((next.version?.seq ?? 0) <= (prev.version?.seq ?? 0)) return false
    this.log('now at version %d', next.version?.seq)
    this.current = next
    const onMoved = this.components.onMoved
    if (onMoved !== undefined) {
      try {
        await onMoved(await next.changesSince(prev, options), options)
      } catch (err) {
        if (options.signal?.aborted === true) throw err
        // The kernel then drops what it cached within its attribute timeout.
        this.log('comparing version %d with %d failed: %s', next.version?.seq, prev.version?.seq, (err as Error).message)
      }
    }
    return true
  }

  // ---- VersionSource ----

  readonly latestSeq = (): number => this.current.version?.seq ?? 0

  versions (options: AbortOptions = {}): AsyncIterable<VersionInfo> {
    return this.components.reader.versions(this.components.publicKey, options)
  }

  async snapshot (seq: number, options: AbortOptions = {}): Promise<FileSystem> {
    return this.components.reader.version(this.components.publicKey, seq, options)
  }

  // ---- FileSystem: reads go to the current version ----

  async stat (path: string, options?: AbortOptions): Promise<Stat> { return this.current.stat(path, options) }
  readdir (path: string, options?: ListOptions): AsyncIterable<InodeEntry> { return this.current.readdir(path, options) }
  async readlink (path: string, options?: AbortOptions): Promise<string> { return this.current.readlink(path, options) }
  async getxattr (path: string, name: string, options?: AbortOptions): Promise<Uint8Array | undefined> { return this.current.getxattr(path, name, options) }
  async listxattr (path: string, options?: AbortOptions): Promise<string[]> { return this.current.listxattr(path, options) }
  async read (file: string | FileHandle, offset: number, length: number, options?: AbortOptions): Promise<Uint8Array> {
    return this.current.read(file, offset, length, options)
  }

  readStream (path: string, options?: ReadStreamOptions): AsyncIterable<Uint8Array> { return this.current.readStream(path, options) }
  async open (path: string, options?: OpenOptions & AbortOptions): Promise<FileHandle> { return this.current.open(path, options) }

  async create (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async mkdir (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async symlink (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async unlink (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async rmdir (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async rename (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async mknod (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async link (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async chmod (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async chown (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async setTimes (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async setxattr (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async removexattr (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async truncate (): Promise<void> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async write (): Promise<number> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
  async writeStream (): Promise<number> { throw new ReadOnlyError('a volume mounted by public key is read-only') }
}
