import { mkdtemp, rm } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Level } from 'level'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { BlockKind } from '../../src/dhash/block.js'
import { LevelBlockCache, MemoryBlockCache } from '../../src/dhash/store/index.js'
import { blockCacheContract } from './block-cache-contract.js'
import { keyOf } from './block-store-contract.js'

async function tempDir (): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), 'cfs-block-cache-'))
}

blockCacheContract('MemoryBlockCache', async (maxBytes) => {
  const cache = new MemoryBlockCache({ maxBytes })
  await cache.open()
  return { cache, cleanup: async () => { await cache.close() } }
})

blockCacheContract('LevelBlockCache', async (maxBytes) => {
  const location = await tempDir()
  const cache = new LevelBlockCache({}, { location, maxBytes })
  await cache.open()
  return {
    cache,
    cleanup: async () => {
      await cache.close()
      await rm(location, { recursive: true, force: true })
    },
  }
})

describe('LevelBlockCache on disk', () => {
  let location: string
  let cache: LevelBlockCache

  beforeEach(async () => {
    location = await tempDir()
    cache = new LevelBlockCache({}, { location, maxBytes: 1_000 })
    await cache.open()
  })

  afterEach(async () => {
    await cache.close()
    await rm(location, { recursive: true, force: true })
  })

  const block = (size: number): { kind: BlockKind, bytes: Uint8Array, cachedAt: number } =>
    ({ kind: BlockKind.CONTENT, bytes: new Uint8Array(size), cachedAt: 1 })

  /** Records actually in the LevelDB, read with a second handle after the cache closed. */
  async function recordsOnDisk (): Promise<number> {
    const db = new Level<Uint8Array, Uint8Array>(location, { keyEncoding: 'view', valueEncoding: 'view' })
    await db.open()
    try {
      return (await db.keys().all()).length
    } finally {
      await db.close()
    }
  }

  it('evicted and deleted entries leave no records behind', async () => {
    for (let i = 0; i < 10; i++) await cache.put(keyOf([i]), block(300))
    await cache.delete(keyOf([9]))
    await cache.put(keyOf([20]), block(5_000))
    const { entries } = cache.stats()
    expect(entries).toBe(2)
    await cache.close()
    expect(await recordsOnDisk()).toBe(entries)
  })

  it('starts empty after a reopen', async () => {
    await cache.put(keyOf([1]), block(100))
    await cache.close()
    cache = new LevelBlockCache({}, { location, maxBytes: 1_000 })
    await cache.open()
    expect(await cache.get(keyOf([1]))).toBeUndefined()
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0 })
    await cache.close()
    expect(await recordsOnDisk()).toBe(0)
  })
})
