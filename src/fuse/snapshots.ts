import { EntryNotFoundError, type AbortOptions } from '../core/index.js'
import { msToNs, type FileSystem, type Stat, type VersionInfo } from '../fs/index.js'

/** Past versions of the mounted volume: what the Volume (or a Reader bound to a key) offers. */
export interface VersionSource {
  /** Published versions, newest first. */
  versions: (options?: AbortOptions) => AsyncIterable<VersionInfo>
  /** A read-only view of one version. */
  snapshot: (seq: number, options?: AbortOptions) => Promise<FileSystem>
  /** The newest version's number, known without I/O: the listing is reused while it stays. */
  readonly latestSeq?: () => number
}

/** Where a path under the snapshots directory leads. */
export type SnapshotRoute =
  | { readonly kind: 'top', readonly stat: SyntheticStat }
  | { readonly kind: 'link', readonly stat: SyntheticStat, readonly target: string }
  | { readonly kind: 'tree', readonly fs: FileSystem, readonly path: string, readonly seq?: number }

export type SyntheticStat = Pick<Stat, 'type' | 'mode' | 'size' | 'mtimeNs' | 'ctimeNs'>

/** Name of the snapshots directory at the top of a mount. */
export const DEFAULT_SNAPSHOTS_DIR = '.snapshots'
/** How long a listing of versions is reused when the source has no `latestSeq`. */
export const DEFAULT_LIST_TTL_MS = 2_000
/** Versions listed at most (the newest). */
export const DEFAULT_MAX_LISTED = 1_000
/** Snapshot views kept open. */
export const DEFAULT_CACHED_VIEWS = 16

export interface SnapshotsDirInit {
  /** Name of the directory at the top of the mount. @default DEFAULT_SNAPSHOTS_DIR */
  name?: string
  /** How long a listing of versions is reused when the source has no `latestSeq`. @default DEFAULT_LIST_TTL_MS */
  listTtlMs?: number
  /** Versions listed at most (the newest). @default DEFAULT_MAX_LISTED */
  maxListed?: number
  /** Snapshot views kept open. @default DEFAULT_CACHED_VIEWS */
  cachedViews?: number
}

/**
 * The read-only `/.snapshots` directory: one directory per published version, named by its
 * sequence number (`/.snapshots/42/...`), and beside each a symbolic link named by the
 * version's time in UTC (`2025-11-21T22:35:10.123Z -> 42`). Versions are listed newest first,
 * as far back as their records are still stored. Nothing under it can be changed (EROFS).
 */
export class SnapshotsDir {
  readonly name: string
  private listed: { atMs: number, seq: number | undefined, versions: VersionInfo[] } | undefined
  private readonly views = new Map<number, Promise<FileSystem>>()
  private readonly listTtlMs: number
  private readonly maxListed: number
  private readonly cachedViews: number
  private readonly createdMs = Date.now()

  constructor (private readonly source: VersionSource, init: SnapshotsDirInit = {}) {
    this.name = init.name ?? DEFAULT_SNAPSHOTS_DIR
    this.listTtlMs = init.listTtlMs ?? DEFAULT_LIST_TTL_MS
    this.maxListed = init.maxListed ?? DEFAULT_MAX_LISTED
    this.cachedViews = init.cachedViews ?? DEFAULT_CACHED_VIEWS
  }

  /** Whether `path` is the snapshots directory or below it. */
  owns (path: string): boolean {
    const top = `/${this.name}`
    return path === top || path.startsWith(`${top}/`)
  }

  async route (path: string, options: AbortOptions = {}): Promise<SnapshotRoute> {
    const rest = path.slice(this.name.length + 2)
    const versions = await this.versions(options)
    if (rest === '') {
      const time = msToNs(versions[0]?.timeMs ?? this.createdMs)
      return { kind: 'top', stat: { type: 'dir', mode: 0o555, size: versions.length * 2, mtimeNs: time, ctimeNs: time } }
    }
    const slash = rest.indexOf('/')
    const first = slash < 0 ? rest : rest.slice(0, slash)
    const inner = slash < 0 ? '/' : rest.slice(slash)
    if (/^[1-9][0-9]*$/.test(first)) {
      const seq = Number(first)
      return { kind: 'tree', fs: await this.view(seq, options), path: inner, seq }
    }
    const byTime = versions.find((v) => timeName(v) === first)
    if (byTime === undefined) throw new EntryNotFoundError(`no version named ${first}`)
    if (slash >= 0) {
      // The kernel follows the link itself; a path through it only comes from odd callers.
      return { kind: 'tree', fs: await this.view(byTime.seq, options), path: inner, seq: byTime.seq }
    }
    const target = String(byTime.seq)
    const time = msToNs(byTime.timeMs)
    return { kind: 'link', target, stat: { type: 'symlink', mode: 0o777, size: target.length, mtimeNs: time, ctimeNs: time } }
  }

  /** Names in the snapshots directory: each version's number, then its time. */
  async names (options: AbortOptions = {}): Promise<string[]> {
    const versions = await this.versions(options)
    const names = versions.map((v) => String(v.seq))
    const times = new Set<string>()
    for (const v of versions) times.add(timeName(v)) // two versions in one millisecond: one link, to the newer
    return [...names, ...times]
  }

  private async versions (options: AbortOptions): Promise<VersionInfo[]> {
    const now = Date.now()
    const seq = this.source.latestSeq?.()
    if (this.listed !== undefined && (seq === undefined ? now - this.listed.atMs < this.listTtlMs : seq === this.listed.seq)) return this.listed.versions
    const versions: VersionInfo[] = []
    for await (const v of this.source.versions(options)) {
      versions.push(v)
      if (versions.length >= this.maxListed) break
    }
    this.listed = { atMs: now, seq, versions }
    return versions
  }

  private async view (seq: number, options: AbortOptions): Promise<FileSystem> {
    let view = this.views.get(seq)
    if (view === undefined) {
      view = this.source.snapshot(seq, options)
      this.views.set(seq, view)
      view.catch(() => { this.views.delete(seq) })
      if (this.views.size > this.cachedViews) {
        const oldest = this.views.keys().next().value
        if (oldest !== undefined) this.views.delete(oldest)
      }
    } else {
      // Most recently used last.
      this.views.delete(seq)
      this.views.set(seq, view)
    }
    return view
  }
}

/** A version's name by time: ISO 8601 in UTC, to the millisecond. */
export function timeName (v: Pick<VersionInfo, 'timeMs'>): string {
  return new Date(v.timeMs).toISOString()
}
