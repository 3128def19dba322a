import type { Key } from '../core/index.js'
import { blockPointers, type FileContent } from './file-data.js'
import type { TreeStore } from './tree-store.js'

/**
 * Sequential read-ahead for one open file. FUSE asks for one piece at a time and waits for
 * each (1 MiB once the mount has raised the kernel's read-ahead, 128 KiB without root), so
 * without it every block fetch (a network round trip and a hash check) is paid in turn.
 * Once reads follow each other, each read starts fetching the next `blocks` data blocks into
 * the store's cache (fetches already cached or in flight are shared, not repeated). Blocks it
 * fetched ahead leave that cache once the stream has read past them (TreeStore.readPast).
 */
export class ReadAhead {
  private nextOffset = 0
  /** Blocks before this index have been asked for already (0: none). */
  private aheadTo = 0
  /** Blocks fetched ahead, by index, that the stream has not yet read past. */
  private readonly fetched = new Map<number, Key>()

  constructor (private readonly blocks: number) {}

  /**
   * A file opened for reading: its first block is fetched at once. The first read nearly
   * always follows, from offset 0, and the fetch then overlaps the kernel's turn from the
   * open's answer to that read (a small file is one fetch, so most of its wait).
   */
  opened (store: TreeStore, content: FileContent): void {
    if (this.blocks <= 0 || content.data === null) return // empty, all holes, or inline: nothing to fetch
    this.aheadTo = 1
    void this.prefetch(store, content, 0, 1)
  }

  /** Notes a read of [offset, offset + length) and, if it continued the last one, reads ahead. */
  after (store: TreeStore, content: FileContent, offset: number, length: number): void {
    const sequential = offset === this.nextOffset
    if (!sequential) {
      this.aheadTo = 0
      this.fetched.clear()
    }
    this.nextOffset = offset + length
    const bs = content.blockSize
    // Blocks wholly before this read were read by the ones before it (this one is yet to come).
    if (sequential) this.readPast(store, offset / bs)
    if (!sequential || this.blocks <= 0 || this.nextOffset >= content.size) return
    const next = Math.floor(this.nextOffset / bs)
    const last = Math.min(Math.floor((content.size - 1) / bs), next + this.blocks - 1)
    // Only blocks the window has newly reached: at 128 KiB, FUSE reads a 1 MiB block in eight pieces.
    const first = Math.max(next, this.aheadTo)
    if (first > last) return
    this.aheadTo = last + 1
    void this.prefetch(store, content, first, last - first + 1)
  }

  /** Lets go of the blocks fetched ahead that lie wholly before `block` (a fractional index). */
  private readPast (store: TreeStore, block: number): void {
    if (store.readPast === undefined) return
    for (const [index, key] of this.fetched) {
      if (index + 1 > block) continue
      this.fetched.delete(index)
      store.readPast(key)
    }
  }

  // Only warms the cache: a failure here is met again, and reported, by the read itself.
  private async prefetch (store: TreeStore, content: FileContent, first: number, count: number): Promise<void> {
    try {
      let index = first
      for await (const ptr of blockPointers(store, content, first, count)) {
        if (ptr !== null) {
          this.fetched.set(index, ptr)
          if (store.prefetchData !== undefined) store.prefetchData(ptr)
          else store.getData(ptr).catch(() => undefined)
        }
        index++
      }
    } catch {
      // as above: the read that needs these blocks reports the failure
    }
  }
}
