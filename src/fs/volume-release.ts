import { isCfsError, toHex, type AbortOptions, type Key, type Logger } from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import type { BlockReader } from './block-reader.js'
import type { RootSigner } from './ports.js'
import type { RootRecord } from './root-record.js'
import type { TreeStore } from './tree-store.js'
import { releaseOldVersions, type ReleaseReport } from './unreachable.js'
import { versionChain } from './versions.js'
import { walk, type WalkStart } from './walk.js'

/** What the releaser needs of its volume (volume.ts). */
export interface ReleaseHost {
  readonly store: TreeStore
  readonly reader: BlockReader
  readonly blocks: BlockService
  readonly signer: RootSigner
  readonly leaseMs: number | undefined
  readonly log: Logger
  /** The last published version: its record and key. */
  published: () => { readonly record: RootRecord, readonly recordKey: Key } | undefined
  /** Trees the volume holds besides its versions: the current one, one being published, open unlinked files. */
  liveStarts: () => WalkStart[]
  /** Hex keys never to release: pinned by a streaming write, or in the write buffer. */
  held: () => Iterable<string>
}

/**
 * The volume's early release of blocks (the block layer's signed release): of old versions
 * past those kept (releaseOld), and, after the ring was full, of blocks put for changes undone
 * before they were published (orphans). It learns from the write buffer what it takes (never
 * released while a release walks) and what it puts (candidate orphans).
 */
export class VolumeReleaser {
  /** A publication was refused for space: the next one that succeeds releases every past version. */
  private pressure = false
  /** Keys the buffer took while a release walks. */
  private added: Set<string> | undefined
  /** Blocks put since the last publication. */
  private putSince = new Map<string, Key>()

  constructor (private readonly host: ReleaseHost) {}

  /** The write buffer took a block. */
  took (key: Key): void { this.added?.add(toHex(key)) }
  /** The write buffer put a block (acknowledged or not, holders may keep a copy). */
  put (key: Key): void { this.putSince.set(toHex(key), key) }

  /** A publication failed: if for space, the next one makes room. */
  failed (err: unknown): void {
    if (isCfsError(err, 'STORAGE_FULL') || isCfsError(err, 'QUOTA_EXCEEDED')) this.pressure = true
  }

  /**
   * A publication succeeded. After a full ring, now that a deletion may be published, room is
   * made before that publication's caller (an fsync) goes on: every past version, and the
   * blocks put for changes undone before they were published, are released.
   */
  async published (options: AbortOptions): Promise<void> {
    const putSince = this.putSince
    this.putSince = new Map()
    if (!this.pressure) return
    this.pressure = false
    try {
      await this.releaseOld(0, options, await this.orphans(putSince, options))
    } catch (err) {
      this.host.log.error('release after a full ring failed: %s', (err as Error).message)
    }
  }

  /**
   * Releases the blocks only versions older than the newest `keepPast + 1` reach, and
   * `orphans` unless something kept reaches them (see unreachable.ts). Released blocks leave
   * the reader's caches too.
   */
  async releaseOld (keepPast: number, options: AbortOptions = {}, orphans: readonly Key[] = []): Promise<ReleaseReport> {
    const { blocks, signer, store, log } = this.host
    const published = this.host.published()
    const sign = signer.signMessage
    const release = blocks.release?.bind(blocks)
    if (release === undefined || sign === undefined || published === undefined || this.added !== undefined) {
      return { versions: 0, blocks: 0, released: 0, failed: 0 }
    }
    const added = this.added = new Set<string>()
    try {
      const chain = versionChain(store, published.record, published.recordKey, options)
      const report = await releaseOldVersions({
        store,
        release: async (keys) => {
          const going = keys.filter((k) => !added.has(toHex(k)))
          this.host.reader.forget(going)
          return release(going, {
            owner: signer.publicKey,
            sign,
            ...(this.host.leaseMs === undefined ? {} : { leaseMs: this.host.leaseMs }),
            ...(options.signal === undefined ? {} : { signal: options.signal }),
          })
        },
        records: (async function * () { for await (const v of chain) yield v.recordKey })(),
        keepPast,
        orphans,
        alsoKeep: this.host.liveStarts(),
        pinned: this.host.held(),
      }, options)
      if (report.blocks > 0) {
        log.error('released %d block(s) that only %d past version(s) reached: %d copies dropped (%d holder(s) unreachable)',
          report.blocks, report.versions, report.released, report.failed)
      }
      return report
    } finally {
      this.added = undefined
    }
  }

  /**
   * Of the blocks put since the last publication, those neither the published tree nor the
   * live ones reach. A block put since then is reached, if at all, through blocks that are new
   * too (a parent naming a new key is new), so the walk goes only through new blocks: those
   * held (buffered) and those put.
   */
  private async orphans (put: ReadonlyMap<string, Key>, options: AbortOptions): Promise<Key[]> {
    if (put.size === 0) return []
    const held = new Set(this.host.held())
    const fresh = new Set([...put.keys(), ...held])
    const reached = new Set<string>()
    const published = this.host.published()
    const starts = [...this.host.liveStarts(), ...(published === undefined ? [] : [{ key: published.record.top, role: 'inode' as const }])]
    await walk(this.host.store, starts, (key) => {
      const hex = toHex(key)
      if (reached.has(hex) || !fresh.has(hex)) return false
      reached.add(hex)
      return true
    }, { ...options, onMissing: () => {} })
    return [...put].filter(([hex]) => !reached.has(hex) && !held.has(hex)).map(([, key]) => key)
  }
}
