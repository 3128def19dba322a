import { blockPointers, type FileContent } from './file-data.js'
import type { TreeStore } from './tree-store.js'

/**
 * Sequential read-ahead for one open file. FUSE reads 128 KiB at a time and waits for each,
 * so without it every block fetch (a network round trip and a hash check) is paid in turn.
 * Once reads follow each other, each read starts fetching the next `blocks` data blocks into
 * the store's cache (fetches already cached or in flight are shared, not repeated).
 */
export class ReadAhead {
  private nextOffset = 0
  /** Blocks before this index have been asked for already (0: none). */
  private aheadTo = 0

  constructor (private readonly blocks: number) {}

  /** Notes a read of [offset, offset + length) and, if it continued the last one, reads ahead. */
  after (store: TreeStore, content: FileContent, offset: number, length: number): void {
    const sequential = offset === this.nextOffset
    if (!sequential) this.aheadTo = 0
    this.nextOffset = offset + length
    if (!sequential || this.blocks <= 0 || this.nextOffset >= content.size) return
    const bs = content.blockSize
    const next = Math.floor(this.nextOffset / bs)
    const last = Math.min(Math.floor((content.size - 1) / bs), next + this.blocks - 1)
    // Only blocks the window has newly reached: FUSE reads a 1 MiB block in eight pieces.
    const first = Math.max(next, this.aheadTo)
    if (first > last) return
    this.aheadTo = last + 1
    void prefetch(store, content, first, last - first + 1)
  }
}

// Only warms the cache: a failure here is met again, and reported, by the read itself.
async function prefetch (store: TreeStore, content: FileContent, first: number, count: number): Promise<void> {
  try {
    for await (const ptr of blockPointers(store, content, first, count)) {
      if (ptr !== null) store.getData(ptr).catch(() => undefined)
    }
  } catch {
    // as above: the read that needs these blocks reports the failure
  }
}
