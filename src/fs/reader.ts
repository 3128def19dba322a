import {
  EntryNotFoundError, NotSupportedError, RootStaleError, createLogger, toHex,
  type AbortOptions, type ComponentLogger, type Logger, type Metrics,
} from '../core/index.js'
import type { BlockService, WatchOptions } from '../dhash/index.js'
import { BlockReader, type BlockReaderInit } from './block-reader.js'
import { entryReadAheadFor, type EntryReadAhead } from './entry-read-ahead.js'
import type { RootVerifier } from './ports.js'
import { ReadOnlyStore } from './read-only-store.js'
import { MemorySeenRoots, type SeenRoots } from './seen-roots.js'
import { Snapshot, type SnapshotInit } from './snapshot.js'
import type { VersionInfo } from './snapshot.js'
import { checkRoot, fetchRoot, findVersion, versionChain, versionOf, type SignedRoot } from './versions.js'

export interface ReaderComponents {
  /** Roots are followed by `watchRoot` where the service has it (Reader.watch). */
  blocks: Pick<BlockService, 'get' | 'watchRoot'>
  verifier: RootVerifier
  /** Highest sequence numbers accepted so far; use JsonFileSeenRoots to survive restarts. @default in memory */
  seen?: SeenRoots
  logger?: ComponentLogger
  /** Where the read-ahead across directories' files is counted. @default none */
  metrics?: Metrics
}

/** The block reader's caches, and the read-ahead of the snapshots it gives. */
export interface ReaderInit extends BlockReaderInit, SnapshotInit {}

/**
 * Anyone's view of volumes, by public key: the latest signed version (never older than one
 * already accepted for that key: RootStaleError), any older version still within its lease,
 * and the list of versions. Snapshots are read-only and never change.
 */
export class Reader {
  private readonly log: Logger
  private readonly store: ReadOnlyStore
  private readonly seen: SeenRoots
  /** Shared by the snapshots: a follower that moves to a new version reads on where it was. */
  private readonly entriesAhead: EntryReadAhead

  constructor (private readonly components: ReaderComponents, private readonly init: ReaderInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('fs:reader')
    this.store = new ReadOnlyStore(new BlockReader(components.blocks, init))
    this.seen = components.seen ?? new MemorySeenRoots()
    this.entriesAhead = entryReadAheadFor(components.metrics, init)
  }

  /** The latest version; EntryNotFoundError if the volume was never published. */
  async latest (publicKey: Uint8Array, options: AbortOptions = {}): Promise<Snapshot> {
    const root = await this.root(publicKey, options)
    return this.snapshot(versionOf(root.record, root.recordKey))
  }

  /** Whether `watch` can wait for new versions (the BlockService pushes roots). */
  get canWatch (): boolean { return this.components.blocks.watchRoot !== undefined }

  /**
   * Waits for a version newer than `after`: the new latest version as soon as a holder of the
   * root stores it, or undefined when the wait ends first. Checked as `latest` is (signature,
   * record, never older than a version already seen). Throws when no holder takes the watch
   * (BusyError if all refused) or where the service cannot push (NotSupportedError).
   */
  async watch (publicKey: Uint8Array, after: number, options: WatchOptions = {}): Promise<Snapshot | undefined> {
    const { blocks, verifier } = this.components
    if (blocks.watchRoot === undefined) throw new NotSupportedError('this block service cannot watch roots')
    const bytes = await blocks.watchRoot(verifier.rootKey(publicKey), after, options)
    if (bytes === undefined) return undefined
    const root = await this.accept(publicKey, checkRoot(verifier, publicKey, bytes))
    return this.snapshot(versionOf(root.record, root.recordKey))
  }

  /** The version with this sequence number, found through the `prev` links. */
  async version (publicKey: Uint8Array, seq: number, options: AbortOptions = {}): Promise<Snapshot> {
    return this.snapshot(await findVersion(this.versions(publicKey, options), seq))
  }

  /** Versions newest first, as far back as records are still stored. */
  async * versions (publicKey: Uint8Array, options: AbortOptions = {}): AsyncGenerator<VersionInfo> {
    const root = await this.root(publicKey, options)
    yield * versionChain(this.store, root.record, root.recordKey, options)
  }

  private snapshot (version: VersionInfo): Snapshot {
    return new Snapshot(this.store, version.top, version, this.init, this.entriesAhead)
  }

  private async root (publicKey: Uint8Array, options: AbortOptions): Promise<SignedRoot> {
    const root = await fetchRoot(this.components.blocks, this.components.verifier, publicKey, options)
    if (root === undefined) throw new EntryNotFoundError('no volume is published under this key')
    return this.accept(publicKey, root)
  }

  /** Refuses a root older than one already seen for the key (rollback), and remembers it. */
  private async accept (publicKey: Uint8Array, root: SignedRoot): Promise<SignedRoot> {
    const keyHex = toHex(this.components.verifier.rootKey(publicKey))
    const seen = await this.seen.get(keyHex)
    if (root.record.seq < seen) {
      this.log('root %s: offered version %d, already saw %d', keyHex.slice(0, 8), root.record.seq, seen)
      throw new RootStaleError(`offered version ${root.record.seq} of a volume already seen at version ${seen}`)
    }
    await this.seen.raise(keyHex, root.record.seq)
    return root
  }
}
