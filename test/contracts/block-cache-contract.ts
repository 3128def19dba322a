import { afterEach, describe, expect, it } from 'vitest'
import { type Key } from '../../src/core/index.js'
import { BlockKind } from '../../src/dhash/block.js'
import type { BlockCache, CachedBlock } from '../../src/dhash/store/index.js'
import { keyOf } from './block-store-contract.js'

/** An opened, empty cache bounded by `maxBytes`, and the means to dispose of it. */
export interface BlockCacheFixture {
  cache: BlockCache
  cleanup: () => Promise<void>
}

const cached = (size: number, fill = 1, cachedAt = 1_000): CachedBlock =>
  ({ kind: BlockKind.CONTENT, bytes: new Uint8Array(size).fill(fill), cachedAt })

/** The behaviour every BlockCache shares: run unchanged against each implementation. */
export function blockCacheContract (name: string, factory: (maxBytes: number) => Promise<BlockCacheFixture>): void {
  describe(`${name} (block cache contract)`, () => {
    let fx: BlockCacheFixture | undefined

    const make = async (maxBytes = 1_000): Promise<BlockCache> => {
      fx = await factory(maxBytes)
      return fx.cache
    }

    afterEach(async () => {
      await fx?.cleanup()
      fx = undefined
    })

    const [A, B, C, D] = [keyOf([0xa]), keyOf([0xb]), keyOf([0xc]), keyOf([0xd])] as [Key, Key, Key, Key]
    const present = async (cache: BlockCache, keys: Key[]): Promise<boolean[]> =>
      Promise.all(keys.map(async (k) => (await cache.get(k)) !== undefined))

    it('gives back what was put, counting hits and misses', async () => {
      const cache = await make()
      expect(await cache.get(A)).toBeUndefined()
      const root: CachedBlock = { kind: BlockKind.ROOT, bytes: Uint8Array.from([1, 2, 3]), cachedAt: 1234.5 }
      await cache.put(A, root)
      expect(await cache.get(A)).toEqual(root)
      expect(await cache.get(A)).toEqual(root)
      expect(await cache.get(B)).toBeUndefined()
      expect(cache.stats()).toEqual({ entries: 1, bytes: 3, hits: 2, misses: 2 })
    })

    it('delete removes an entry and its bytes', async () => {
      const cache = await make()
      await cache.put(A, cached(100))
      await cache.put(B, cached(200))
      await cache.delete(A)
      await cache.delete(C)
      expect(await cache.get(A)).toBeUndefined()
      expect(cache.stats()).toMatchObject({ entries: 1, bytes: 200 })
    })

    it('a put of a cached key replaces it and its size', async () => {
      const cache = await make()
      await cache.put(A, cached(100, 1))
      await cache.put(A, cached(300, 2, 2_000))
      expect(await cache.get(A)).toEqual(cached(300, 2, 2_000))
      expect(cache.stats()).toMatchObject({ entries: 1, bytes: 300 })
    })

    it('stays within maxBytes, evicting the least recently put first', async () => {
      const cache = await make(1_000)
      await cache.put(A, cached(300))
      await cache.put(B, cached(300))
      await cache.put(C, cached(300))
      await cache.put(D, cached(300))
      expect(cache.stats()).toMatchObject({ entries: 3, bytes: 900 })
      expect(await present(cache, [A, B, C, D])).toEqual([false, true, true, true])
    })

    it('a get makes an entry most recently used', async () => {
      const cache = await make(1_000)
      await cache.put(A, cached(300))
      await cache.put(B, cached(300))
      await cache.put(C, cached(300))
      await cache.get(A)
      await cache.put(D, cached(300))
      expect(await present(cache, [A, B, C, D])).toEqual([true, false, true, true])
    })

    it('one large put evicts as many old entries as it needs', async () => {
      const cache = await make(1_000)
      for (const [i, k] of [A, B, C].entries()) await cache.put(k, cached(300, i))
      await cache.put(D, cached(800))
      expect(await present(cache, [A, B, C, D])).toEqual([false, false, false, true])
      expect(cache.stats()).toMatchObject({ entries: 1, bytes: 800 })
    })

    it('does not keep a block larger than the whole cache, nor evict others for it', async () => {
      const cache = await make(1_000)
      await cache.put(A, cached(300))
      await cache.put(B, cached(1_001))
      expect(await present(cache, [A, B])).toEqual([true, false])
      expect(cache.stats()).toMatchObject({ entries: 1, bytes: 300 })
    })

    it('bytes are the caller\'s own, going in and coming out', async () => {
      const cache = await make()
      const block = cached(50, 5)
      await cache.put(A, block)
      block.bytes.fill(0)
      const got = await cache.get(A)
      expect(got?.bytes).toEqual(new Uint8Array(50).fill(5))
      expect(Object.getPrototypeOf(got?.bytes)).toBe(Uint8Array.prototype)
      got?.bytes.fill(9)
      expect((await cache.get(A))?.bytes).toEqual(new Uint8Array(50).fill(5))
    })

    it('holds up under many interleaved puts, gets and deletes', async () => {
      const cache = await make(5_000)
      const keys = Array.from({ length: 40 }, (_, i) => keyOf([i]))
      await Promise.all(keys.map(async (k, i) => {
        await cache.put(k, cached(100 + i * 10, i))
        if (i % 3 === 0) await cache.delete(k)
        await cache.get(keys[(i * 7) % keys.length] as Key)
      }))
      const { entries, bytes } = cache.stats()
      expect(bytes).toBeLessThanOrEqual(5_000)
      let found = 0
      for (const [i, k] of keys.entries()) {
        const got = await cache.get(k)
        if (got === undefined) continue
        found++
        expect(got.bytes).toEqual(new Uint8Array(100 + i * 10).fill(i))
      }
      expect(found).toBe(entries)
    })
  })
}
