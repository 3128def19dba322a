import type { Counter, Key, Metrics } from '../core/index.js'
import { listEntries } from './directory.js'
import { storedBlock } from './file-data.js'
import { inodeCodec } from './inode.js'
import { compareNames, joinPath } from './names.js'
import { dirChain } from './tree-read.js'
import type { TreeStore } from './tree-store.js'

/** Inode blocks of the entries after a file being read, fetched ahead, once files of one directory are opened in name order. */
export const DEFAULT_READ_AHEAD_ENTRIES = 16
/** A file fetched ahead that is at most this long has its first data block fetched too (for most, all of it). */
export const READ_AHEAD_FIRST_BLOCK_BYTES = 256 * 1024
/** Directories whose opens are followed at once: a tree is read depth first, and its reader comes back to a parent from each subdirectory. */
export const READ_AHEAD_DIRECTORIES = 16

/** What EntryReadAhead counts, as a metric: one definition for the volume's and the reader's. */
export const READ_AHEAD_FILES_METRIC = {
  name: 'cfs_fs_read_ahead_files_total',
  help: 'Files whose inode block was asked for before their open, their directory being read in name order',
} as const

export interface EntryReadAheadComponents {
  /** Counts the files fetched ahead. @default not counted */
  fetched?: Counter
}

export interface EntryReadAheadInit {
  /** Files fetched ahead of the one opened; 0: none. @default DEFAULT_READ_AHEAD_ENTRIES */
  entries?: number
}

/**
 * The read-ahead of a volume's or a reader's snapshots (`readAheadEntries` as VolumeInit and
 * SnapshotInit take it), counted in `metrics` when given.
 */
export function entryReadAheadFor (metrics: Metrics | undefined, init: { readAheadEntries?: number }): EntryReadAhead {
  return new EntryReadAhead(
    metrics === undefined ? {} : { fetched: metrics.counter(READ_AHEAD_FILES_METRIC) },
    init.readAheadEntries === undefined ? {} : { entries: init.readAheadEntries },
  )
}

/** The opens in one directory: the last name opened, the last fetched ahead, and the one whose open fetches the next window. */
interface DirectoryStream {
  last: string
  fetchedTo: string | undefined
  refillAt: string | undefined
  /** A window is being listed: opens meanwhile start none. */
  listing: boolean
}

/**
 * Read-ahead across the files of one directory. Tools that read a tree (`cp -r`, `tar -c`,
 * `rsync`, `cat *`) open its files one after another in the order a listing gives, which for
 * cfs is name order; each open of a file not read before fetches its inode block (which holds a
 * file of at most 4 KiB), then its first data block, each a network round trip waited for in
 * turn. Once two files of one directory are opened in name order, the inode blocks of the next
 * `entries` files of that directory are fetched into the store's cache, with the first data
 * block of each that is at most READ_AHEAD_FIRST_BLOCK_BYTES long, and again each time the
 * opens have gone half way through what was fetched. An open out of order stops it; opens in
 * other directories in between do not (a reader of a tree comes back to a directory from each
 * of its subdirectories), for the last READ_AHEAD_DIRECTORIES directories.
 *
 * Only warms the cache: what it fetches is read through the cache by the opens it foresaw, and
 * a failure here is met again, and reported, by the open itself.
 */
export class EntryReadAhead {
  /** Where the opens stand in the directories last opened in (by path), least recent first. */
  private readonly dirs = new Map<string, DirectoryStream>()
  private readonly entries: number

  constructor (private readonly components: EntryReadAheadComponents = {}, init: EntryReadAheadInit = {}) {
    this.entries = init.entries ?? DEFAULT_READ_AHEAD_ENTRIES
  }

  /** A file at `names` in the tree `top` was opened for reading. */
  opened (store: TreeStore, top: Key, names: readonly string[]): void {
    if (this.entries <= 0 || names.length === 0) return
    const dir = joinPath(names.slice(0, -1))
    const name = names.at(-1) as string
    const stream = this.dirs.get(dir)
    this.dirs.delete(dir)
    if (stream === undefined || compareNames(name, stream.last) <= 0) {
      this.dirs.set(dir, { last: name, fetchedTo: undefined, refillAt: undefined, listing: false })
      if (this.dirs.size > READ_AHEAD_DIRECTORIES) this.dirs.delete(this.dirs.keys().next().value as string)
      return
    }
    this.dirs.set(dir, stream)
    stream.last = name
    if (stream.listing) return
    // Past the window (or none yet): from this file on; at its middle: after its end.
    const after = stream.fetchedTo === undefined || compareNames(name, stream.fetchedTo) >= 0
      ? name
      : stream.refillAt !== undefined && compareNames(name, stream.refillAt) >= 0 ? stream.fetchedTo : undefined
    if (after === undefined) return
    stream.listing = true
    void this.fetch(store, top, names.slice(0, -1), stream, after).finally(() => { stream.listing = false })
  }

  private async fetch (store: TreeStore, top: Key, dirNames: readonly string[], stream: DirectoryStream, after: string): Promise<void> {
    const names: string[] = []
    try {
      const entries = (await dirChain(store, top, dirNames)).at(-1)?.inode.entries ?? null
      for await (const entry of listEntries(store, entries, { after })) {
        names.push(entry.name)
        // A hard link's entry has no key (its inode is in the inode table): its open finds it.
        if (entry.type === 'file' && entry.key !== null) {
          this.fetchFile(store, entry.key)
          this.components.fetched?.inc()
        }
        if (names.length >= this.entries) break
      }
    } catch {
      return // see the class comment
    }
    if (names.length === 0) return // nothing follows
    stream.fetchedTo = names.at(-1)
    // A short window reached the directory's end: nothing to refill.
    stream.refillAt = names.length < this.entries ? undefined : names[Math.floor(names.length / 2)]
  }

  private fetchFile (store: TreeStore, key: Key): void {
    store.load(key, inodeCodec).then(async (inode) => {
      if (inode.type === 'file' && inode.size <= READ_AHEAD_FIRST_BLOCK_BYTES) await storedBlock(store, inode, 0)
    }).catch(() => {})
  }
}
