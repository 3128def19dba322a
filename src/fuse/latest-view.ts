import {
  PeriodicTask, ReadOnlyError, createLogger, type AbortOptions, type ComponentLogger, type Logger, type Startable,
} from '../core/index.js'
import type { InodeEntry, FileHandle, FileSystem, ListOptions, OpenOptions, ReadStreamOptions, Reader, Snapshot, Stat, VersionInfo } from '../fs/index.js'
import type { VersionSource } from './snapshots.js'

export interface LatestViewComponents {
  reader: Pick<Reader, 'latest' | 'version' | 'versions'>
  publicKey: Uint8Array
  logger?: ComponentLogger
}

/** Milliseconds between looks for a newer version of a followed volume (the mount's --refresh-ms). */
export const DEFAULT_POLL_INTERVAL_MS = 5_000

export interface LatestViewInit {
  /** Milliseconds between looks for a newer version; 0 = no timer (call pollOnce). @default DEFAULT_POLL_INTERVAL_MS */
  pollIntervalMs?: number
}

/**
 * Someone else's volume, read-only, following its latest version: every call reads the
 * newest version seen so far, and the view looks for a newer one every `pollIntervalMs`.
 * A file opened on one version keeps reading that version. Every change is ReadOnlyError.
 */
export class LatestView implements FileSystem, VersionSource, Startable {
  private current: Snapshot
  private readonly log: Logger
  /** Looks for a newer version every pollIntervalMs after the last look ended (no jitter). */
  private readonly poller: PeriodicTask

  private constructor (private readonly components: LatestViewComponents, first: Snapshot, init: LatestViewInit) {
    this.current = first
    this.log = (components.logger ?? createLogger()).forComponent('fuse:latest')
    this.poller = new PeriodicTask({ round: async (options) => this.pollOnce(options), log: this.log }, {
      name: 'poll', intervalMs: init.pollIntervalMs ?? DEFAULT_POLL_INTERVAL_MS,
    })
  }

  /** Loads the latest version (EntryNotFoundError if the volume was never published). */
  static async open (components: LatestViewComponents, init: LatestViewInit = {}, options: AbortOptions = {}): Promise<LatestView> {
    return new LatestView(components, await components.reader.latest(components.publicKey, options), init)
  }

  get version (): VersionInfo | undefined { return this.current.version }

  async start (): Promise<void> {
    this.poller.start()
  }

  /** Stops the timer; a look in flight is aborted and has ended when it resolves. */
  async stop (): Promise<void> {
    await this.poller.stop()
  }

  /** Looks for a newer version; returns whether the view moved. */
  async pollOnce (options: AbortOptions = {}): Promise<boolean> {
    const next = await this.components.reader.latest(this.components.publicKey, options)
    if ((next.version?.seq ?? 0) <= (this.current.version?.seq ?? 0)) return false
    this.log('now at version %d', next.version?.seq)
    this.current = next
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
