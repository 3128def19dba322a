import { toHex, keyFromHex, type Key } from '../../core/index.js'
import type { BlockMeta, BlockStore, BlockStoreStats, KeyInterval, StoredBlock } from './block-store.js'
import { inInterval } from './interval.js'

/** Replica storage in a Map: for simulations and tests. Same contract as LevelBlockStore. */
export class MemoryBlockStore implements BlockStore {
  private readonly blocks = new Map<string, StoredBlock>()
  private sorted: string[] | undefined
  private bytes = 0
  private readonly owners = new Map<string, number>()

  async open (): Promise<void> {}
  async close (): Promise<void> {}

  async get (key: Key): Promise<StoredBlock | undefined> {
    const b = this.blocks.get(toHex(key))
    // A copy: a caller that changes the bytes it got must not change the stored block.
    return b === undefined ? undefined : { ...b, bytes: new Uint8Array(b.bytes) }
  }

  async getMeta (key: Key): Promise<BlockMeta | undefined> {
    const b = this.blocks.get(toHex(key))
    return b === undefined ? undefined : { kind: b.kind, expiresAt: b.expiresAt, owner: b.owner, seq: b.seq, size: b.size }
  }

  async has (key: Key): Promise<boolean> {
    return this.blocks.has(toHex(key))
  }

  async put (key: Key, block: StoredBlock): Promise<void> {
    const hex = toHex(key)
    this.account(this.blocks.get(hex), -1)
    if (!this.blocks.has(hex)) this.sorted = undefined
    // Own the bytes: the caller's buffer may be reused or be a view into a larger one.
    const stored = { ...block, bytes: new Uint8Array(block.bytes) }
    this.blocks.set(hex, stored)
    this.account(stored, 1)
  }

  async delete (key: Key): Promise<void> {
    const hex = toHex(key)
    const b = this.blocks.get(hex)
    if (b === undefined) return
    this.account(b, -1)
    this.blocks.delete(hex)
    this.sorted = undefined
  }

  async setExpiry (key: Key, expiresAt: number): Promise<boolean> {
    const hex = toHex(key)
    const b = this.blocks.get(hex)
    if (b === undefined) return false
    this.blocks.set(hex, { ...b, expiresAt })
    return true
  }

  async setOwner (key: Key, owner: string): Promise<boolean> {
    const hex = toHex(key)
    const b = this.blocks.get(hex)
    if (b === undefined) return false
    this.account(b, -1)
    const changed = { ...b, owner }
    this.blocks.set(hex, changed)
    this.account(changed, 1)
    return true
  }

  async * keys (interval: KeyInterval): AsyncIterable<Key> {
    // A snapshot: puts and deletes during the iteration do not disturb it.
    const sorted = this.sorted ??= [...this.blocks.keys()].sort()
    // Begin just after `from` and go once around the ring.
    let i = lowerBoundAfter(sorted, toHex(interval.from))
    for (let n = 0; n < sorted.length; n++, i++) {
      const hex = sorted[i % sorted.length] as string
      const key = keyFromHex(hex)
      if (!inInterval(key, interval)) break
      if (this.blocks.has(hex)) yield key
    }
  }

  async expired (now: number, limit: number): Promise<Key[]> {
    const due: Array<{ hex: string, expiresAt: number }> = []
    for (const [hex, b] of this.blocks) {
      if (b.expiresAt <= now) due.push({ hex, expiresAt: b.expiresAt })
    }
    due.sort((a, b) => a.expiresAt - b.expiresAt || (a.hex < b.hex ? -1 : a.hex > b.hex ? 1 : 0))
    return due.slice(0, Math.max(0, limit)).map((d) => keyFromHex(d.hex))
  }

  stats (): BlockStoreStats {
    return { blocks: this.blocks.size, bytes: this.bytes }
  }

  bytesByOwner (owner: string): number {
    return this.owners.get(owner) ?? 0
  }

  private account (b: StoredBlock | undefined, sign: 1 | -1): void {
    if (b === undefined) return
    this.bytes += sign * b.size
    this.owners.set(b.owner, (this.owners.get(b.owner) ?? 0) + sign * b.size)
  }
}

/** Index of the first entry strictly greater than `hex` (0 when none: wrap around). */
function lowerBoundAfter (sorted: readonly string[], hex: string): number {
  let lo = 0
  let hi = sorted.length
  while (lo < hi) {
    const mid = (lo + hi) >> 1
    if ((sorted[mid] as string) <= hex) lo = mid + 1
    else hi = mid
  }
  return lo === sorted.length ? 0 : lo
}
