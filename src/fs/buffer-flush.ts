import { toHex, type AbortOptions, type Key } from '../core/index.js'
import type { TreeStore } from './tree-store.js'
import { walk, type WalkOptions, type WalkStart } from './walk.js'
import type { WriteBuffer } from './write-buffer.js'

/** Unpublished bytes held before unreachable ones are dropped and the rest uploaded early. */
export const DEFAULT_WRITE_BUFFER_BYTES = 64 * 1024 * 1024

/** What the flusher needs of its volume (volume.ts). */
export interface BufferFlusherComponents {
  /** The volume's store: buffered blocks are read back from the buffer through it. */
  store: TreeStore
  buffer: Pick<WriteBuffer, 'bytes' | 'has' | 'entries' | 'upload' | 'settle' | 'prune'>
  /** Key of the current tree's top inode. */
  currentTop: () => Key
  /** Trees whose buffered blocks are kept: the current one, one being published, open unlinked files. */
  liveStarts: () => WalkStart[]
}

export interface BufferFlusherInit {
  /** Buffered bytes above which a change first makes room (relieve). @default DEFAULT_WRITE_BUFFER_BYTES */
  writeBufferBytes?: number
}

/**
 * The write buffer as the trees see it: uploads the buffered blocks a tree reaches, children
 * first, and drops those that nothing reaches any more. The buffer itself (write-buffer.ts)
 * knows blocks by key only; this walks the trees above them, keeping its rule true: a block
 * that is not buffered is stored, and so is everything below it.
 */
export class BufferFlusher {
  /** Buffered blocks a streaming write has put but not linked yet: kept from pruning. */
  private readonly pins = new Map<string, number>()
  private readonly bound: number

  constructor (private readonly components: BufferFlusherComponents, init: BufferFlusherInit = {}) {
    this.bound = init.writeBufferBytes ?? DEFAULT_WRITE_BUFFER_BYTES
  }

  /** The buffer holds more than its bound: the change that filled it makes room (relieve). */
  get full (): boolean { return this.components.buffer.bytes > this.bound }

  /**
   * The buffer is over its bound: drop blocks nothing reaches any more (superseded partial
   * blocks and metadata), and if that is not enough, upload the rest now (the root is still
   * published on schedule).
   */
  async relieve (options: AbortOptions): Promise<void> {
    await this.prune(options)
    if (!this.full) return
    await this.upload([{ key: this.components.currentTop(), role: 'inode' }], options)
  }

  /**
   * Uploads the buffered blocks reachable from the starts (and `extra`, blocks outside the
   * tree such as the new root record), all at once: a publish costs one round of puts, not
   * one per tree level. A block leaves the buffer only once it and everything buffered below
   * it are acknowledged, children first. That keeps prune's rule true ("a block that is not
   * buffered is stored, and so is everything below it"): if a child's put fails, its parent
   * stays buffered too, and the child is not pruned while the tree still points at it.
   */
  async upload (starts: readonly WalkStart[], options: AbortOptions, extra: readonly Key[] = []): Promise<void> {
    const { buffer } = this.components
    const below = new Map<string, Key[]>()
    const keys = await this.bufferedBelow(starts, {
      ...options,
      onEdge: (parent, child) => {
        if (!buffer.has(child.key)) return
        const hex = toHex(parent)
        const list = below.get(hex) ?? []
        list.push(child.key)
        below.set(hex, list)
      },
    })
    const acked = new Map<string, Promise<void>>()
    for (const key of [...keys, ...extra]) {
      const p = buffer.upload([key], { ...options, retain: true })
      p.catch(() => {}) // seen below, through settled()
      acked.set(toHex(key), p)
    }
    const settling = new Map<string, Promise<void>>()
    const settled = async (key: Key): Promise<void> => {
      const hex = toHex(key)
      let p = settling.get(hex)
      if (p === undefined) {
        p = Promise.all([...(below.get(hex) ?? []).map(settled), acked.get(hex)]).then(() => { buffer.settle(key) })
        p.catch(() => {})
        settling.set(hex, p)
      }
      return p
    }
    const results = await Promise.allSettled([...keys, ...extra].map(settled))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  /** Drops buffered blocks that neither a live tree (the current one, one being published, an unlinked open file) nor a streaming write reaches. */
  async prune (options: AbortOptions): Promise<void> {
    const keep = new Set((await this.bufferedBelow(this.components.liveStarts(), options)).map(toHex))
    for (const hex of this.pins.keys()) keep.add(hex)
    this.components.buffer.prune(keep)
  }

  /** Keeps a buffered block from being pruned until as many unpins (a streaming write links it). */
  pin (key: Key): void {
    const hex = toHex(key)
    this.pins.set(hex, (this.pins.get(hex) ?? 0) + 1)
  }

  unpin (key: Key): void {
    const hex = toHex(key)
    const n = (this.pins.get(hex) ?? 0) - 1
    if (n > 0) this.pins.set(hex, n)
    else this.pins.delete(hex)
  }

  /** Hex keys of the blocks held here, never to be released: pinned ones and every buffered one. */
  held (): string[] {
    return [...this.pins.keys(), ...[...this.components.buffer.entries()].map(([key]) => toHex(key))]
  }

  /**
   * Buffered blocks reachable from the starts. A block that is not buffered is stored, and so
   * is everything below it (a flush uploads all that a tree reaches), so the walk stops there.
   */
  private async bufferedBelow (starts: readonly WalkStart[], options: WalkOptions): Promise<Key[]> {
    const keys: Key[] = []
    const seen = new Set<string>()
    await walk(this.components.store, starts, (key) => {
      const hex = toHex(key)
      if (seen.has(hex) || !this.components.buffer.has(key)) return false
      seen.add(hex)
      keys.push(key)
      return true
    }, options)
    return keys
  }
}
