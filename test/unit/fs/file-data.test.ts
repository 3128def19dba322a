import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { toHex, type Key } from '../../../src/core/index.js'
import {
  blockPointer, blockPointers, emptyContent, readBytes, readRange, truncate, writeRange, type FileContent,
} from '../../../src/fs/file-data.js'
import { FANOUT, MAX_INLINE_BYTES, depthFor, isInline } from '../../../src/fs/indirect.js'
import { MapTreeStore, collect } from './helpers.js'

const FC = { seed: 7, numRuns: 25 } as const

/** A file with the model's bytes, written in one go: the canonical tree for that content. */
async function fresh (store: MapTreeStore, bytes: Uint8Array, blockSize: number): Promise<FileContent> {
  const empty = emptyContent(blockSize)
  const written = await writeRange(store, empty, 0, bytes)
  return written
}

function keyOf (c: FileContent): string {
  return `${c.size}/${c.depth}/${c.data === null ? 'null' : toHex(c.data)}/${c.inline === null ? 'null' : Buffer.from(c.inline).toString('hex')}`
}

describe('file data', () => {
  // 32 B blocks: files past 32 KiB get a second level of indirection, and only files of one
  // block are inline. 8 KiB blocks: files cross MAX_INLINE_BYTES both ways, within one block and past it.
  it.each([32, 8192])('matches a byte-array model under random writes and truncates, and stays canonical, with %i-byte blocks (property)', async (bs) => {
    const store = new MapTreeStore()
    const offset = fc.oneof(fc.nat(3000), fc.nat(40_000))
    const op = fc.oneof(
      fc.record({ kind: fc.constant('write' as const), offset, bytes: fc.uint8Array({ minLength: 1, maxLength: 100 }), zero: fc.boolean() }),
      fc.record({ kind: fc.constant('truncate' as const), size: offset }),
    )
    await fc.assert(fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 25 }), async (ops) => {
      let model = new Uint8Array(0)
      let file = emptyContent(bs)
      for (const o of ops) {
        if (o.kind === 'write') {
          const bytes = o.zero ? new Uint8Array(o.bytes.length) : o.bytes
          file = await writeRange(store, file, o.offset, bytes)
          const end = Math.max(model.length, o.offset + bytes.length)
          const next = new Uint8Array(end)
          next.set(model)
          next.set(bytes, o.offset)
          model = next
        } else {
          file = await truncate(store, file, o.size)
          const next = new Uint8Array(o.size)
          next.set(model.subarray(0, o.size))
          model = next
        }
        expect(file.size).toBe(model.length)
        expect(file.depth).toBe(depthFor(model.length, bs))
        expect(file.inline !== null || file.data === null || !isInline(file.size, bs)).toBe(true)
      }
      expect(Buffer.from(await readBytes(store, file, 0, model.length + 10))).toEqual(Buffer.from(model))
      const start = Math.floor(model.length / 3)
      expect(Buffer.from(await readBytes(store, file, start, 1000))).toEqual(Buffer.from(model.subarray(start, start + 1000)))
      // Shared reads (FUSE's): views where a block holds every byte, copies where zeros were trimmed or a hole is.
      expect(Buffer.from(await readBytes(store, file, 0, model.length + 10, { shared: true }))).toEqual(Buffer.from(model))
      for (const at of [0, start, Math.max(0, model.length - 7)]) {
        expect(Buffer.from(await readBytes(store, file, at, 7, { shared: true }))).toEqual(Buffer.from(model.subarray(at, at + 7)))
      }
      // Same bytes, same keys, whatever the history.
      expect(keyOf(file)).toBe(keyOf(await fresh(store, model, bs)))
      // Reads within one block take the direct pointer walk: it agrees with the full walk.
      const all = await collect(blockPointers(store, file, 0, Infinity))
      for (const i of [0, 1, Math.floor(all.length / 2), all.length - 1, all.length]) {
        const ptr = await blockPointer(store, file, i)
        expect(ptr === null ? null : toHex(ptr)).toBe(all[i] === undefined || all[i] === null ? null : toHex(all[i]))
      }
      for (const at of [0, 31, 32, start, Math.max(0, model.length - 5)]) {
        expect(Buffer.from(await readBytes(store, file, at, 7))).toEqual(Buffer.from(model.subarray(at, at + 7)))
      }
    }), FC)
  }, 60_000)

  it('keeps a small file in its inode: no data block while it fits, one once it outgrows it, none again when cut back', async () => {
    const store = new MapTreeStore()
    const bs = 1024 * 1024
    const bytes = Uint8Array.from({ length: MAX_INLINE_BYTES }, (_, i) => (i % 251) + 1)
    let file = await writeRange(store, emptyContent(bs), 0, bytes)
    expect(store.dataPuts + store.metaPuts).toBe(0)
    expect(file.inline).toEqual(bytes)
    file = await writeRange(store, file, 10, Uint8Array.of(0, 0)) // a change in memory, nothing stored
    expect(store.dataPuts).toBe(0)
    expect([...(await readBytes(store, file, 8, 5, { shared: true }))]).toEqual([9, 10, 0, 0, 13])
    file = await writeRange(store, file, MAX_INLINE_BYTES, Uint8Array.of(9)) // one byte more: block 0, stored once
    expect(file.inline).toBeNull()
    expect(store.dataPuts).toBe(1)
    expect((await readBytes(store, file, MAX_INLINE_BYTES - 1, 2))[1]).toBe(9)
    file = await truncate(store, file, 3 * bs) // grown past one block: an indirect block over block 0
    expect(file.depth).toBe(1)
    file = await truncate(store, file, 12)
    expect(file).toEqual({ size: 12, blockSize: bs, depth: 0, data: null, inline: Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10) })
    store.reset()
    file = await truncate(store, file, 200_000) // extended by a hole, past the inode: block 0 is stored
    expect(store.dataPuts).toBe(1)
    expect(keyOf(await truncate(store, file, 11))).toBe(keyOf(await fresh(store, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 0), bs)))
    const padded = new Uint8Array(5000)
    padded.set(Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9, 10))
    expect(keyOf(await truncate(store, file, 5000))).toBe(keyOf(await fresh(store, padded, bs)))
  })

  it('moves the bytes of a small file written in format 2 (a data block) into its inode at its next change', async () => {
    const store = new MapTreeStore()
    const bs = 1024 * 1024
    const v2: FileContent = { size: 6, blockSize: bs, depth: 0, data: await store.putData(Uint8Array.of(1, 2, 3)), inline: null }
    expect([...(await readBytes(store, v2, 0, 10))]).toEqual([1, 2, 3, 0, 0, 0])
    expect(await writeRange(store, v2, 4, Uint8Array.of(5))).toEqual({ size: 6, blockSize: bs, depth: 0, data: null, inline: Uint8Array.of(1, 2, 3, 0, 5) })
    expect(await truncate(store, v2, 8)).toEqual({ size: 8, blockSize: bs, depth: 0, data: null, inline: Uint8Array.of(1, 2, 3) })
    expect(await truncate(store, v2, 2)).toEqual({ size: 2, blockSize: bs, depth: 0, data: null, inline: Uint8Array.of(1, 2) })
  })

  it('stores no block for holes or zeros: writes past the end and truncate-extend are sparse', async () => {
    const store = new MapTreeStore()
    const bs = 256 * 1024
    let file = await writeRange(store, emptyContent(bs), 10 * 1024 * 1024, Uint8Array.of(7))
    expect(store.dataPuts).toBe(1)
    expect(file.size).toBe(10 * 1024 * 1024 + 1)
    store.reset()
    file = await truncate(store, file, 1024 ** 3) // 1 GiB: 4096 blocks, two levels
    expect(file.depth).toBe(2)
    expect(store.dataPuts).toBe(0)
    expect(store.metaPuts).toBe(1) // one new top indirect block over the old one
    store.reset()
    file = await writeRange(store, file, 5000, new Uint8Array(300_000)) // zeros over a hole
    expect(store.dataPuts).toBe(0)
    const ptrs = await collect(blockPointers(store, file, 0, 4096))
    expect(ptrs.filter((p) => p !== null)).toHaveLength(1)
    const chunk = await readBytes(store, file, 10 * 1024 * 1024 - 2, 4)
    expect([...chunk]).toEqual([0, 0, 7, 0])
  })

  it('answers a shared read within one whole block with a view of it, and everything else with a copy', async () => {
    const store = new MapTreeStore()
    const bytes = Uint8Array.from({ length: 200 }, (_, i) => i + 1)
    bytes.fill(0, 180) // the third block (128..191) stores 52 bytes: its zeros from 180 on are trimmed
    const file = await fresh(store, bytes, 64)
    const block = await store.getData(await blockPointer(store, file, 1) as Key)
    const view = await readBytes(store, file, 70, 40, { shared: true })
    expect(view.buffer).toBe(block.buffer)
    expect([...view]).toEqual([...bytes.subarray(70, 110)])
    // Not shared, across two blocks, and past the stored bytes (zeros trimmed): copies.
    for (const [at, n, shared] of [[70, 40, false], [60, 10, true], [170, 20, true]] as const) {
      const copy = await readBytes(store, file, at, n, { shared })
      expect(copy.buffer).not.toBe(block.buffer)
      expect([...copy]).toEqual([...bytes.subarray(at, at + n)])
    }
  })

  it('trims the new last block on truncate down, so the tree equals a fresh one', async () => {
    const store = new MapTreeStore()
    const bytes = Uint8Array.from({ length: 1000 }, (_, i) => (i % 250) + 1)
    let file = await fresh(store, bytes, 64)
    file = await truncate(store, file, 100)
    expect(keyOf(file)).toBe(keyOf(await fresh(store, bytes.subarray(0, 100), 64)))
    file = await truncate(store, file, 5000)
    expect([...(await readBytes(store, file, 95, 10))]).toEqual([...bytes.subarray(95, 100), 0, 0, 0, 0, 0])
    file = await truncate(store, file, 0)
    expect(file).toEqual(emptyContent(64))
  })

  it('rewrites one data block and one indirect block per level for a one-byte change', async () => {
    const store = new MapTreeStore()
    const bs = 64
    const blocks = FANOUT * 3 // depth 2
    const bytes = Uint8Array.from({ length: blocks * bs }, (_, i) => (i * 31 + 7) & 0xff | 1)
    let file = await fresh(store, bytes, bs)
    expect(file.depth).toBe(2)
    store.reset()
    file = await writeRange(store, file, Math.floor(bytes.length / 2), Uint8Array.of(0xaa))
    expect(store.dataPuts).toBe(1)
    expect(store.metaPuts).toBe(2)
    expect((await readBytes(store, file, Math.floor(bytes.length / 2) - 1, 3))[1]).toBe(0xaa)
  })

  it('reads with a bounded number of block fetches in flight', async () => {
    const store = new MapTreeStore()
    const bs = 1024
    const bytes = Uint8Array.from({ length: 100 * bs }, (_, i) => (i & 0xff) | 1)
    const file = await fresh(store, bytes, bs)
    let inFlight = 0
    let most = 0
    const slow = Object.create(store) as MapTreeStore
    slow.getData = async (key: Key) => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 1))
      inFlight--
      return store.getData(key)
    }
    const chunks = await collect(readRange(slow, file, 10, bytes.length, { readAhead: 6 }))
    expect(Buffer.concat(chunks)).toEqual(Buffer.from(bytes.subarray(10)))
    expect(most).toBe(6)
  })
})
