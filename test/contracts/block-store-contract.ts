import fc from 'fast-check'
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { KEY_BYTES, asKey, between, keysEqual, toHex, type Key } from '../../src/core/index.js'
import { BlockKind } from '../../src/dhash/block.js'
import type { BlockStore, StoredBlock } from '../../src/dhash/store/index.js'

/** An opened, empty store and the means to dispose of it. */
export interface BlockStoreFixture {
  store: BlockStore
  /** Closes the store and removes whatever it left behind. */
  cleanup: () => Promise<void>
}

/** A key whose bytes are `head` followed by `fill`: easy to place on the ring by eye. */
export function keyOf (head: number[], fill = 0): Key {
  const bytes = new Uint8Array(KEY_BYTES).fill(fill)
  bytes.set(head)
  return asKey(bytes)
}

export function blockOf (bytes: Uint8Array, meta: Partial<Omit<StoredBlock, 'bytes' | 'size'>> = {}): StoredBlock {
  return { kind: BlockKind.CONTENT, expiresAt: 1_000, owner: '', seq: 0, ...meta, size: bytes.length, bytes }
}

export async function collectHex (keys: AsyncIterable<Key>): Promise<string[]> {
  const out: string[] = []
  for await (const k of keys) out.push(toHex(k))
  return out
}

const hexes = (keys: Key[]): string[] => keys.map((k) => toHex(k))
const bytesOfLength = (n: number, seed = 1): Uint8Array => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff)

const BOTTOM = keyOf([], 0x00)
const TOP = keyOf([], 0xff)
const K10 = keyOf([0x10])
const K20 = keyOf([0x20])
const K30 = keyOf([0x30])
const K40 = keyOf([0x40])

/**
 * The behaviour every BlockStore shares (the abstract-level test-suite pattern): run unchanged
 * against each implementation.
 */
export function blockStoreContract (name: string, factory: () => Promise<BlockStoreFixture>): void {
  describe(`${name} (block store contract)`, () => {
    let fx: BlockStoreFixture
    let store: BlockStore

    beforeEach(async () => {
      fx = await factory()
      store = fx.store
    })

    afterEach(async () => {
      await fx.cleanup()
    })

    const putAll = async (keys: Key[]): Promise<void> => {
      for (const [i, k] of keys.entries()) await store.put(k, blockOf(bytesOfLength(10, i)))
    }

    describe('put, get, has, getMeta, delete', () => {
      it('stores a block and gives back its bytes and metadata', async () => {
        const bytes = bytesOfLength(1000)
        const owner = 'ab'.repeat(32)
        await store.put(K10, blockOf(bytes, { kind: BlockKind.ROOT, owner, seq: 7, expiresAt: 5_000 }))

        expect(await store.has(K10)).toBe(true)
        expect(await store.getMeta(K10)).toEqual({ kind: BlockKind.ROOT, expiresAt: 5_000, owner, seq: 7, size: 1000 })
        const got = await store.get(K10)
        expect(got).toBeDefined()
        expect(got?.bytes).toEqual(bytes)
        expect({ ...got, bytes: undefined }).toEqual({ kind: BlockKind.ROOT, expiresAt: 5_000, owner, seq: 7, size: 1000, bytes: undefined })
        expect(store.stats()).toEqual({ blocks: 1, bytes: 1000 })
        expect(store.bytesByOwner(owner)).toBe(1000)
      })

      it('answers undefined and false for a key never stored', async () => {
        await store.put(K10, blockOf(bytesOfLength(5)))
        expect(await store.get(K20)).toBeUndefined()
        expect(await store.getMeta(K20)).toBeUndefined()
        expect(await store.has(K20)).toBe(false)
      })

      it('stores an empty block', async () => {
        await store.put(K10, blockOf(new Uint8Array(0)))
        expect((await store.get(K10))?.bytes).toEqual(new Uint8Array(0))
        expect(store.stats()).toEqual({ blocks: 1, bytes: 0 })
      })

      it('delete removes the block, its accounting and its expiry; deleting an absent key is a no-op', async () => {
        await store.put(K10, blockOf(bytesOfLength(100), { owner: 'a', expiresAt: 10 }))
        await store.put(K20, blockOf(bytesOfLength(50), { owner: 'a', expiresAt: 10 }))
        await store.delete(K10)
        await store.delete(K30)

        expect(await store.has(K10)).toBe(false)
        expect(await store.get(K10)).toBeUndefined()
        expect(await store.getMeta(K10)).toBeUndefined()
        expect(store.stats()).toEqual({ blocks: 1, bytes: 50 })
        expect(store.bytesByOwner('a')).toBe(50)
        expect(hexes(await store.expired(100, 10))).toEqual(hexes([K20]))
        expect(await collectHex(store.keys({ from: BOTTOM, to: BOTTOM }))).toEqual(hexes([K20]))
      })

      it('a put replaces the block: stats and bytes per owner count only the new one', async () => {
        await store.put(K10, blockOf(bytesOfLength(100), { owner: 'a', expiresAt: 10 }))
        await store.put(K20, blockOf(bytesOfLength(30), { owner: 'a', expiresAt: 10 }))
        await store.put(K10, blockOf(bytesOfLength(40, 9), { owner: 'b', expiresAt: 500, kind: BlockKind.ROOT, seq: 2 }))

        expect(store.stats()).toEqual({ blocks: 2, bytes: 70 })
        expect(store.bytesByOwner('a')).toBe(30)
        expect(store.bytesByOwner('b')).toBe(40)
        expect((await store.get(K10))?.bytes).toEqual(bytesOfLength(40, 9))
        expect(await store.getMeta(K10)).toEqual({ kind: BlockKind.ROOT, expiresAt: 500, owner: 'b', seq: 2, size: 40 })
        // The old expiry no longer reports the replaced block.
        expect(hexes(await store.expired(100, 10))).toEqual(hexes([K20]))
        expect(hexes(await store.expired(500, 10))).toEqual(hexes([K20, K10]))
      })

      it('counts totals and bytes per owner over many puts and deletes', async () => {
        const owners = ['', 'a', 'b']
        for (let i = 0; i < 30; i++) await store.put(keyOf([i + 1]), blockOf(bytesOfLength(i * 10), { owner: owners[i % 3] }))
        for (let i = 0; i < 30; i += 2) await store.delete(keyOf([i + 1]))
        const kept = Array.from({ length: 30 }, (_, i) => i).filter((i) => i % 2 === 1)
        const sum = (f: (i: number) => boolean): number => kept.filter(f).reduce((s, i) => s + i * 10, 0)
        expect(store.stats()).toEqual({ blocks: 15, bytes: sum(() => true) })
        for (const [o, owner] of owners.entries()) expect(store.bytesByOwner(owner)).toBe(sum((i) => i % 3 === o))
        expect(store.bytesByOwner('nobody')).toBe(0)
      })
    })

    describe('bytes are the caller\'s own', () => {
      it('changing the bytes after put does not change the stored block', async () => {
        const bytes = bytesOfLength(64)
        await store.put(K10, blockOf(bytes))
        bytes.fill(0)
        expect((await store.get(K10))?.bytes).toEqual(bytesOfLength(64))
      })

      it('each get returns a fresh plain Uint8Array; changing it changes nothing stored', async () => {
        await store.put(K10, blockOf(bytesOfLength(64)))
        const first = (await store.get(K10))?.bytes
        expect(first).toBeDefined()
        expect(Object.getPrototypeOf(first)).toBe(Uint8Array.prototype)
        first?.fill(7)
        const second = (await store.get(K10))?.bytes
        expect(second).toEqual(bytesOfLength(64))
        expect(second?.buffer).not.toBe(first?.buffer)
      })

      it('stores exactly the viewed bytes of a subarray', async () => {
        const big = bytesOfLength(100)
        await store.put(K10, blockOf(big.subarray(10, 20)))
        expect((await store.get(K10))?.bytes).toEqual(big.slice(10, 20))
      })

      it('keys yielded are independent of each other and of the store', async () => {
        await putAll([K10, K20])
        const keys: Key[] = []
        for await (const k of store.keys({ from: BOTTOM, to: BOTTOM })) keys.push(k)
        expect(keys.map((k) => k.length)).toEqual([KEY_BYTES, KEY_BYTES])
        keys[0]?.fill(0xee)
        expect(hexes(keys.slice(1))).toEqual(hexes([K20]))
        expect(await store.has(K10)).toBe(true)
      })
    })

    describe('expiry', () => {
      it('expired lists keys due at or before now, earliest first, ties in key order, at most limit', async () => {
        await store.put(K40, blockOf(bytesOfLength(1), { expiresAt: 300 }))
        await store.put(K30, blockOf(bytesOfLength(1), { expiresAt: 100 }))
        await store.put(K20, blockOf(bytesOfLength(1), { expiresAt: 200 }))
        await store.put(K10, blockOf(bytesOfLength(1), { expiresAt: 100 }))
        await store.put(TOP, blockOf(bytesOfLength(1), { expiresAt: 1_000 }))

        expect(hexes(await store.expired(300, 100))).toEqual(hexes([K10, K30, K20, K40]))
        expect(hexes(await store.expired(299, 100))).toEqual(hexes([K10, K30, K20]))
        expect(hexes(await store.expired(300, 2))).toEqual(hexes([K10, K30]))
        expect(await store.expired(300, 0)).toEqual([])
        expect(await store.expired(99, 100)).toEqual([])
        expect(hexes(await store.expired(Number.MAX_SAFE_INTEGER, Infinity))).toEqual(hexes([K10, K30, K20, K40, TOP]))
      })

      it('orders negative, zero, fractional and infinite expiry times numerically', async () => {
        await store.put(K10, blockOf(bytesOfLength(1), { expiresAt: Infinity }))
        await store.put(K20, blockOf(bytesOfLength(1), { expiresAt: 0.5 }))
        await store.put(K30, blockOf(bytesOfLength(1), { expiresAt: -5 }))
        await store.put(K40, blockOf(bytesOfLength(1), { expiresAt: 0 }))
        expect(hexes(await store.expired(0, 10))).toEqual(hexes([K30, K40]))
        expect(hexes(await store.expired(0.5, 10))).toEqual(hexes([K30, K40, K20]))
        expect(hexes(await store.expired(Number.MAX_VALUE, 10))).toEqual(hexes([K30, K40, K20]))
        expect(hexes(await store.expired(Infinity, 10))).toEqual(hexes([K30, K40, K20, K10]))
      })

      it('setExpiry moves a block in the expiry order and changes only its expiry', async () => {
        await store.put(K10, blockOf(bytesOfLength(8), { expiresAt: 100, owner: 'a' }))
        await store.put(K20, blockOf(bytesOfLength(8), { expiresAt: 200 }))

        expect(await store.setExpiry(K10, 500)).toBe(true)
        expect(hexes(await store.expired(300, 10))).toEqual(hexes([K20]))
        expect(hexes(await store.expired(500, 10))).toEqual(hexes([K20, K10]))
        expect(await store.getMeta(K10)).toEqual({ kind: BlockKind.CONTENT, expiresAt: 500, owner: 'a', seq: 0, size: 8 })
        expect((await store.get(K10))?.bytes).toEqual(bytesOfLength(8))

        expect(await store.setExpiry(K20, 600)).toBe(true)
        expect(await store.setExpiry(K20, 50)).toBe(true)
        expect(await store.setExpiry(K20, 50)).toBe(true)
        expect(hexes(await store.expired(500, 10))).toEqual(hexes([K20, K10]))
        expect(store.stats()).toEqual({ blocks: 2, bytes: 16 })
      })

      it('setOwner changes only the owner, and moves its bytes between owners\' totals', async () => {
        await store.put(K10, blockOf(bytesOfLength(8), { expiresAt: 100, owner: 'a' }))
        expect(await store.setOwner(K10, '')).toBe(true)
        expect(await store.getMeta(K10)).toEqual({ kind: BlockKind.CONTENT, expiresAt: 100, owner: '', seq: 0, size: 8 })
        expect(store.bytesByOwner('a')).toBe(0)
        expect(store.bytesByOwner('')).toBe(8)
        expect((await store.get(K10))?.bytes).toEqual(bytesOfLength(8))
        expect(await store.setOwner(K20, 'a')).toBe(false)
        expect(store.stats()).toEqual({ blocks: 1, bytes: 8 })
      })

      it('setExpiry of an absent key answers false and stores nothing', async () => {
        expect(await store.setExpiry(K10, 100)).toBe(false)
        expect(await store.has(K10)).toBe(false)
        expect(await store.expired(1_000, 10)).toEqual([])
        expect(store.stats()).toEqual({ blocks: 0, bytes: 0 })
      })
    })

    describe('keys in ring order', () => {
      const keysIn = async (from: Key, to: Key): Promise<string[]> => collectHex(store.keys({ from, to }))

      it('a plain range excludes from and includes to', async () => {
        await putAll([K40, K10, K30, K20])
        expect(await keysIn(K10, K30)).toEqual(hexes([K20, K30]))
        expect(await keysIn(K10, K40)).toEqual(hexes([K20, K30, K40]))
        expect(await keysIn(BOTTOM, K20)).toEqual(hexes([K10, K20]))
        expect(await keysIn(K20, keyOf([0x2f], 0xff))).toEqual([])
        expect(await keysIn(K40, TOP)).toEqual([])
      })

      it('a wrapped range runs from just after from, past the top, up to to', async () => {
        await putAll([K40, K10, K30, K20])
        expect(await keysIn(K30, K10)).toEqual(hexes([K40, K10]))
        expect(await keysIn(K30, K20)).toEqual(hexes([K40, K10, K20]))
        expect(await keysIn(K40, K10)).toEqual(hexes([K10]))
        expect(await keysIn(keyOf([0x41]), keyOf([0x05]))).toEqual([])
      })

      it('includes the very bottom and top keys at the wrap', async () => {
        await putAll([TOP, BOTTOM, K10, K20])
        expect(await keysIn(K10, BOTTOM)).toEqual(hexes([K20, TOP, BOTTOM]))
        expect(await keysIn(TOP, K10)).toEqual(hexes([BOTTOM, K10]))
        expect(await keysIn(K20, TOP)).toEqual(hexes([TOP]))
        expect(await keysIn(BOTTOM, K10)).toEqual(hexes([K10]))
      })

      it('from == to is the whole ring, starting just after from and ending with it', async () => {
        await putAll([K40, K10, K30, K20])
        expect(await keysIn(K20, K20)).toEqual(hexes([K30, K40, K10, K20]))
        expect(await keysIn(keyOf([0x25]), keyOf([0x25]))).toEqual(hexes([K30, K40, K10, K20]))
        expect(await keysIn(BOTTOM, BOTTOM)).toEqual(hexes([K10, K20, K30, K40]))
        expect(await keysIn(TOP, TOP)).toEqual(hexes([K10, K20, K30, K40]))
      })

      it('yields nothing from an empty store, whatever the interval', async () => {
        expect(await keysIn(K10, K30)).toEqual([])
        expect(await keysIn(K30, K10)).toEqual([])
        expect(await keysIn(K10, K10)).toEqual([])
        await store.put(K10, blockOf(bytesOfLength(1)))
        await store.delete(K10)
        expect(await keysIn(K10, K10)).toEqual([])
      })

      it('deletes and puts during the iteration do not break it', async () => {
        const all = Array.from({ length: 60 }, (_, i) => keyOf([i * 4 + 1]))
        await putAll(all)
        const aheadDeleted = new Set<string>()
        const seen: string[] = []
        for await (const k of store.keys({ from: BOTTOM, to: BOTTOM })) {
          const hex = toHex(k)
          seen.push(hex)
          await store.delete(k)
          const i = all.findIndex((a) => keysEqual(a, k))
          if (i % 10 === 0 && i + 5 < all.length) {
            const ahead = all[i + 5] as Key
            aheadDeleted.add(toHex(ahead))
            await store.delete(ahead)
          }
          if (i % 7 === 0) await store.put(keyOf([i * 4 + 2]), blockOf(bytesOfLength(3)))
        }
        const original = hexes(all)
        // In ring order, drawn from the keys present at the start, missing none that stayed.
        expect(seen).toEqual([...seen].sort())
        expect(seen.every((h) => original.includes(h))).toBe(true)
        expect(original.filter((h) => !aheadDeleted.has(h)).every((h) => seen.includes(h))).toBe(true)
      })

      it('an iteration abandoned early leaves the store usable', async () => {
        await putAll([K10, K20, K30, K40])
        for await (const k of store.keys({ from: BOTTOM, to: BOTTOM })) {
          if (keysEqual(k, K20)) break
        }
        await store.put(TOP, blockOf(bytesOfLength(2)))
        expect(await keysIn(K30, K10)).toEqual(hexes([K40, TOP, K10]))
      })
    })

    it('matches a simple model after any sequence of put, delete and setExpiry', async () => {
      const pool = [BOTTOM, TOP, K10, K20, K30, keyOf([0x20], 0x01), keyOf([0x7f], 0xff), keyOf([0x80])]
      const keyIndex = fc.integer({ min: 0, max: pool.length - 1 })
      const op = fc.oneof(
        fc.record({ type: fc.constant('put' as const), k: keyIndex, size: fc.integer({ min: 0, max: 300 }), owner: fc.constantFrom('', 'a', 'b'), expiresAt: fc.integer({ min: 0, max: 100 }) }),
        fc.record({ type: fc.constant('delete' as const), k: keyIndex }),
        fc.record({ type: fc.constant('setExpiry' as const), k: keyIndex, expiresAt: fc.integer({ min: 0, max: 100 }) }),
      )
      interface Model { size: number, owner: string, expiresAt: number }

      await fc.assert(fc.asyncProperty(
        fc.array(op, { maxLength: 40 }), keyIndex, keyIndex, fc.integer({ min: 0, max: 100 }), fc.integer({ min: 0, max: 10 }),
        async (ops, fromIndex, toIndex, now, limit) => {
          const run = await factory()
          try {
            const model = new Map<string, Model>()
            for (const o of ops) {
              const k = pool[o.k] as Key
              const hex = toHex(k)
              if (o.type === 'put') {
                await run.store.put(k, blockOf(bytesOfLength(o.size, o.k), { owner: o.owner, expiresAt: o.expiresAt }))
                model.set(hex, { size: o.size, owner: o.owner, expiresAt: o.expiresAt })
              } else if (o.type === 'delete') {
                await run.store.delete(k)
                model.delete(hex)
              } else {
                const m = model.get(hex)
                expect(await run.store.setExpiry(k, o.expiresAt)).toBe(m !== undefined)
                if (m !== undefined) model.set(hex, { ...m, expiresAt: o.expiresAt })
              }
            }

            const sorted = [...model.keys()].sort()
            const from = pool[fromIndex] as Key
            const to = pool[toIndex] as Key
            const fromHex = toHex(from)
            const rotated = [...sorted.filter((h) => h > fromHex), ...sorted.filter((h) => h <= fromHex)]
            const inArc = rotated.filter((h) => keysEqual(from, to) || between(Buffer.from(h, 'hex'), from, to, true))
            expect(await collectHex(run.store.keys({ from, to }))).toEqual(inArc)
            expect(await collectHex(run.store.keys({ from, to: from }))).toEqual(rotated)

            const values = [...model.values()]
            expect(run.store.stats()).toEqual({ blocks: model.size, bytes: values.reduce((s, m) => s + m.size, 0) })
            for (const owner of ['', 'a', 'b']) {
              expect(run.store.bytesByOwner(owner)).toBe(values.filter((m) => m.owner === owner).reduce((s, m) => s + m.size, 0))
            }
            const due = [...model.entries()].filter(([, m]) => m.expiresAt <= now)
              .sort(([ha, a], [hb, b]) => a.expiresAt - b.expiresAt || (ha < hb ? -1 : 1))
              .slice(0, limit).map(([h]) => h)
            expect(hexes(await run.store.expired(now, limit))).toEqual(due)
            for (const k of pool) {
              const m = model.get(toHex(k))
              expect(await run.store.getMeta(k)).toEqual(m === undefined ? undefined : { kind: BlockKind.CONTENT, seq: 0, ...m })
            }
          } finally {
            await run.cleanup()
          }
        }), { seed: 42, numRuns: 40 })
    })
  })
}
