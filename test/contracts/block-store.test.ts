import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { isCfsError, toHex } from '../../src/core/index.js'
import { BlockKind } from '../../src/dhash/block.js'
import { LevelBlockStore, MemoryBlockStore } from '../../src/dhash/store/index.js'
import { encodeMeta } from '../../src/dhash/store/level-encoding.js'
import { rejection } from '../helpers/thrown.js'
import { blockOf, blockStoreContract, collectHex, keyOf } from './block-store-contract.js'

async function tempDir (): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'cfs-block-store-'))
}

blockStoreContract('MemoryBlockStore', async () => {
  const store = new MemoryBlockStore()
  await store.open()
  return { store, cleanup: async () => { await store.close() } }
})

/** A LevelBlockStore in a fresh directory, removed on cleanup. */
async function levelStore (init: { externalValueBytes?: number } = {}): Promise<{ store: LevelBlockStore, cleanup: () => Promise<void> }> {
  const location = await tempDir()
  const store = new LevelBlockStore({}, { location, ...init })
  await store.open()
  return {
    store,
    cleanup: async () => {
      await store.close()
      await rm(location, { recursive: true, force: true })
    },
  }
}

blockStoreContract('LevelBlockStore', async () => levelStore())

// Every block of 100 bytes or more in a value file: the contract holds for both layouts.
blockStoreContract('LevelBlockStore with value files', async () => levelStore({ externalValueBytes: 100 }))

describe('LevelBlockStore value files', () => {
  it('keeps large blocks in files, removes them on delete and sweeps orphans on open', async () => {
    const location = await tempDir()
    try {
      let store = new LevelBlockStore({}, { location, externalValueBytes: 100 })
      await store.open()
      const big = new Uint8Array(500).fill(7)
      await store.put(keyOf([1]), blockOf(big))
      await store.put(keyOf([2]), blockOf(new Uint8Array(10).fill(1)))
      const dir = path.join(location, 'values', toHex(keyOf([1])).slice(0, 2))
      expect(await readdir(dir)).toEqual([toHex(keyOf([1]))])
      expect((await store.get(keyOf([1])))?.bytes).toEqual(big)
      await writeFile(path.join(dir, 'f'.repeat(64)), 'orphan')
      await writeFile(path.join(dir, `${toHex(keyOf([1]))}.tmp-1-x`), 'half written')
      await store.close()
      store = new LevelBlockStore({}, { location, externalValueBytes: 100 })
      await store.open()
      expect(await readdir(dir)).toEqual([toHex(keyOf([1]))])
      expect(store.stats()).toEqual({ blocks: 2, bytes: 510 })
      await store.delete(keyOf([1]))
      expect(await readdir(dir)).toEqual([])
      expect(await store.get(keyOf([1]))).toBeUndefined()
      await store.close()
    } finally {
      await rm(location, { recursive: true, force: true })
    }
  })

  it('replaces a partly written file a crash left at a block\'s own path, and an existing file through a rename', async () => {
    const location = await tempDir()
    try {
      let store = new LevelBlockStore({}, { location, externalValueBytes: 100 })
      await store.open()
      await store.put(keyOf([1, 9]), blockOf(new Uint8Array(200).fill(9)))
      const file = (key: Uint8Array): string => path.join(location, 'values', toHex(key).slice(0, 2), toHex(key))
      // A crash in the middle of creating keyOf([1])'s file, before its metadata was written.
      await writeFile(file(keyOf([1])), 'half')
      const big = new Uint8Array(300).fill(3)
      await store.put(keyOf([1]), blockOf(big))
      expect((await store.get(keyOf([1])))?.bytes).toEqual(big)
      const bigger = new Uint8Array(400).fill(4)
      await store.put(keyOf([1]), blockOf(bigger))
      expect((await store.get(keyOf([1])))?.bytes).toEqual(bigger)
      expect((await readdir(path.dirname(file(keyOf([1]))))).sort()).toEqual([toHex(keyOf([1])), toHex(keyOf([1, 9]))].sort())
      // The same crash with nothing put afterwards: the orphan is swept on open.
      await writeFile(file(keyOf([1, 2])), 'half')
      await store.close()
      store = new LevelBlockStore({}, { location, externalValueBytes: 100 })
      await store.open()
      expect(await store.has(keyOf([1, 2]))).toBe(false)
      expect((await readdir(path.dirname(file(keyOf([1, 2]))))).sort()).toEqual([toHex(keyOf([1])), toHex(keyOf([1, 9]))].sort())
      expect(store.stats()).toEqual({ blocks: 2, bytes: 600 })
      await store.close()
    } finally {
      await rm(location, { recursive: true, force: true })
    }
  })
})

describe('LevelBlockStore on disk', () => {
  let location: string
  let store: LevelBlockStore

  beforeEach(async () => {
    location = await tempDir()
    store = new LevelBlockStore({}, { location, writeBufferBytes: 1024 * 1024 })
    await store.open()
  })

  afterEach(async () => {
    await store.close()
    await rm(location, { recursive: true, force: true })
  })

  // Blocks of DEFAULT_EXTERNAL_VALUE_BYTES (32 KiB) and more live in files under values/.
  const valueFile = (key: Uint8Array): string => path.join(location, 'values', toHex(key).slice(0, 2), toHex(key))
  const pattern = (size: number): Uint8Array => new Uint8Array(size).map((_, i) => i % 251)

  it('reads a content block\'s file by the size its metadata records: cut short, it comes back short; gone, absent', async () => {
    const big = pattern(60_000)
    await store.put(keyOf([1]), blockOf(big))
    await store.put(keyOf([2]), blockOf(big.slice(0, 50_000)))
    await store.put(keyOf([3]), blockOf(big.slice(0, 40_000)))
    expect((await store.get(keyOf([1])))?.bytes).toEqual(big)
    // Disk rot or tampering: a shorter file is what is read, and the block's check then
    // fails (ReplicaStore, the client); bytes past the recorded size are not read.
    await writeFile(valueFile(keyOf([2])), big.slice(0, 500))
    const short = await store.get(keyOf([2]))
    expect(short?.bytes).toEqual(big.slice(0, 500))
    expect(short?.size).toBe(50_000)
    await writeFile(valueFile(keyOf([3])), big)
    expect((await store.get(keyOf([3])))?.bytes).toEqual(big.slice(0, 40_000))
    await rm(valueFile(keyOf([1])))
    expect(await store.get(keyOf([1]))).toBeUndefined()
  })

  it('does not trust a recorded size no block can have: the file is read whole', async () => {
    const big = pattern(40_000)
    await store.put(keyOf([5]), blockOf(big))
    await store.close()
    // A damaged record: a size of 2^40 would otherwise be allocated.
    const raw = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
    await raw.sublevel<Uint8Array, Uint8Array>('meta', { keyEncoding: 'view', valueEncoding: 'view' })
      .put(keyOf([5]), encodeMeta({ kind: BlockKind.CONTENT, expiresAt: 1_000, owner: '', seq: 0, size: 2 ** 40 }))
    await raw.close()
    store = new LevelBlockStore({}, { location }) // afterEach closes it
    await store.open()
    expect((await store.get(keyOf([5])))?.bytes).toEqual(big)
  })

  it('reads a root kept in a file whole, whatever size its metadata recorded', async () => {
    await store.put(keyOf([4]), blockOf(pattern(40_000), { kind: BlockKind.ROOT, seq: 1 }))
    // A root is replaced in place (a newer sequence number): a reader between the file's
    // rename and the metadata's write must not cut the new file to the old size.
    const newer = pattern(50_000).reverse()
    await writeFile(valueFile(keyOf([4])), newer)
    expect((await store.get(keyOf([4])))?.bytes).toEqual(newer)
  })

  it('a reopened store keeps its blocks and rebuilds stats, bytes per owner and the expiry index', async () => {
    const ownerA = 'aa'.repeat(32)
    const ownerB = 'bb'.repeat(32)
    for (let i = 1; i <= 20; i++) {
      await store.put(keyOf([i]), blockOf(new Uint8Array(i * 100).fill(i), { owner: i % 2 === 0 ? ownerA : ownerB, expiresAt: i * 10 }))
    }
    await store.delete(keyOf([3]))
    await store.put(keyOf([4]), blockOf(new Uint8Array(7).fill(4), { owner: ownerB, kind: BlockKind.ROOT, seq: 9, expiresAt: 1 }))
    await store.setExpiry(keyOf([5]), 2)
    const before = {
      stats: store.stats(),
      a: store.bytesByOwner(ownerA),
      b: store.bytesByOwner(ownerB),
      keys: await collectHex(store.keys({ from: keyOf([10]), to: keyOf([10]) })),
      expired: (await store.expired(60, 100)).map((k) => toHex(k)),
    }
    await store.close()

    // A fresh instance over the same directory: nothing carried over in memory.
    store = new LevelBlockStore({}, { location })
    await store.open()
    expect(store.stats()).toEqual(before.stats)
    expect(store.stats().blocks).toBe(19)
    expect(store.bytesByOwner(ownerA)).toBe(before.a)
    expect(store.bytesByOwner(ownerB)).toBe(before.b)
    expect(await collectHex(store.keys({ from: keyOf([10]), to: keyOf([10]) }))).toEqual(before.keys)
    expect((await store.expired(60, 100)).map((k) => toHex(k))).toEqual(before.expired)
    expect((await store.expired(60, 100)).slice(0, 2).map((k) => toHex(k))).toEqual([toHex(keyOf([4])), toHex(keyOf([5]))])
    expect(await store.get(keyOf([4]))).toEqual({ ...blockOf(new Uint8Array(7).fill(4), { owner: ownerB, kind: BlockKind.ROOT, seq: 9, expiresAt: 1 }) })
    expect((await store.get(keyOf([20])))?.bytes).toEqual(new Uint8Array(2000).fill(20))
  })

  it('the same instance closes and opens again without counting its blocks twice', async () => {
    await store.put(keyOf([1]), blockOf(new Uint8Array(10), { owner: 'x' }))
    await store.close()
    await store.open()
    expect(store.stats()).toEqual({ blocks: 1, bytes: 10 })
    expect(store.bytesByOwner('x')).toBe(10)
  })

  it('concurrent writes of one key leave the accounting and the expiry index consistent', async () => {
    const k = keyOf([1])
    await Promise.all(Array.from({ length: 20 }, async (_, i) => {
      await store.put(k, blockOf(new Uint8Array(i + 1), { owner: `o${i % 3}`, expiresAt: i }))
      if (i % 4 === 0) await store.setExpiry(k, 100 + i)
      if (i % 5 === 0) await store.delete(k)
    }))
    const meta = await store.getMeta(k)
    const expired = await store.expired(Infinity, 100)
    if (meta === undefined) {
      expect(store.stats()).toEqual({ blocks: 0, bytes: 0 })
      expect(expired).toEqual([])
    } else {
      expect(store.stats()).toEqual({ blocks: 1, bytes: meta.size })
      expect(store.bytesByOwner(meta.owner)).toBe(meta.size)
      expect(expired.map((x) => toHex(x))).toEqual([toHex(k)])
      expect((await store.expired(meta.expiresAt, 100)).length).toBe(1)
    }
  })

  it('a second store cannot open a directory in use: STORE_LOCKED', async () => {
    const other = new LevelBlockStore({}, { location })
    const err = await rejection(other.open())
    expect(isCfsError(err, 'STORE_LOCKED'), String(err)).toBe(true)
    expect((err as Error).cause).toMatchObject({ cause: { code: 'LEVEL_LOCKED' } })
  })

  it('a metadata record it did not write is STORE_CORRUPT, on read and on reopen', async () => {
    await store.put(keyOf([1]), blockOf(new Uint8Array(10)))
    await store.close()
    const raw = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
    await raw.sublevel<Uint8Array, Uint8Array>('meta', { keyEncoding: 'view', valueEncoding: 'view' }).put(keyOf([1]), Uint8Array.from([0x93, 1, 2, 3]))
    await raw.close()
    store = new LevelBlockStore({}, { location })
    const err = await rejection(store.open())
    expect(isCfsError(err, 'STORE_CORRUPT'), String(err)).toBe(true)
    await store.close()
    store = new LevelBlockStore({}, { location }) // afterEach closes it
  })
})
