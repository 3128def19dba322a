import type { Key } from '../core/index.js'
import { listEntries } from './directory.js'
import { inodeCodec } from './inode.js'
import { compareNames, joinPath } from './names.js'
import { dirChain } from './tree-read.js'
import type { TreeStore } from './tree-store.js'

/** Inode blocks of the entries after a file being read, fetched ahead, once files of one directory are opened in name order. */
export const DEFAULT_READ_AHEAD_ENTRIES = 16

/**
 * Read-ahead across the files of one directory. Tools that read a tree (`cp -r`, `tar -c`,
 * `rsync`, `cat *`) open its files one after another in the order a listing gives, which for
 * cfs is name order; each open of a file not read before fetches its inode block (which holds a
 * small file's bytes too), one network round trip waited for in turn. Once two files of one
 * directory are opened in name order, the inode blocks of the next `entries` files of that
 * directory are fetched into the store's cache, and again each time the opens have gone half
 * way through what was fetched. An open elsewhere, or out of order, stops it.
 *
 * Only warms the cache: what it fetches is read through the cache by the opens it foresaw, and
 * a failure here is met again, and reported, by the open itself.
 */
export class EntryReadAhead {
  /** The directory (path) and name of the last file opened. */
  private dir: string | undefined
  private last: string | undefined
  /** The last name fetched ahead, and the one whose open fetches the next window; undefined: none ahead. */
  private fetchedTo: string | undefined
  private refillAt: string | undefined
  /** A window is being listed: opens meanwhile start none. */
  private listing = false

  constructor (private readonly entries: number) {}

  /** A file at `names` in the tree `top` was opened for reading. */
  opened (store: TreeStore, top: Key, names: readonly string[]): void {
    if (this.entries <= 0 || names.length === 0) return
    const dir = joinPath(names.slice(0, -1))
    const name = names.at(-1) as string
    const inOrder = dir === this.dir && this.last !== undefined && compareNames(name, this.last) > 0
    this.dir = dir
    this.last = name
    if (!inOrder) {
      this.fetchedTo = this.refillAt = undefined
      return
    }
    if (this.listing) return
    // Past the window (or none yet): from this file on; at its middle: after its end.
    const after = this.fetchedTo === undefined || compareNames(name, this.fetchedTo) >= 0
      ? name
      : this.refillAt !== undefined && compareNames(name, this.refillAt) >= 0 ? this.fetchedTo : undefined
    if (after === undefined) return
    this.listing = true
    void this.fetch(store, top, names.slice(0, -1), dir, after).finally(() => { this.listing = false })
  }

  private async fetch (store: TreeStore, top: Key, dirNames: readonly string[], dir: string, after: string): Promise<void> {
    const names: string[] = []
    try {
      const entries = (await dirChain(store, top, dirNames)).at(-1)?.inode.entries ?? null
      for await (const entry of listEntries(store, entries, { after })) {
        names.push(entry.name)
        // A hard link's entry has no key (its inode is in the inode table): its open finds it.
        if (entry.type === 'file' && entry.key !== null) store.load(entry.key, inodeCodec).catch(() => {})
        if (names.length >= this.entries) break
      }
    } catch {
      return // see the class comment
    }
    if (this.dir !== dir || names.length === 0) return // the opens moved on meanwhile, or nothing follows
    this.fetchedTo = names.at(-1)
    // A short window reached the directory's end: nothing to refill.
    this.refillAt = names.length < this.entries ? undefined : names[Math.floor(names.length / 2)]
  }
}
