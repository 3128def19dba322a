import { describe, expect, it } from 'vitest'
import { isCfsError } from '../../../src/core/index.js'
import {
  BlockKind, MemoryBlockCache, MemoryBlockStore, ReplicaStore, contentKey, encodeRoot, generateSecretKey, publicKeyOf, rootKey,
} from '../../../src/dhash/index.js'

function setup (init: ConstructorParameters<typeof ReplicaStore>[1] = {}): { store: ReplicaStore, blocks: MemoryBlockStore, clock: { now: number } } {
  const clock = { now: 1_000_000 }
  const blocks = new MemoryBlockStore()
  return { store: new ReplicaStore({ blocks, cache: new MemoryBlockCache() }, { now: () => clock.now, ...init }), blocks, clock }
}

async function code (p: Promise<unknown>): Promise<string> {
  try {
    await p
    return 'ok'
  } catch (err) {
    return isCfsError(err) ? err.code : String(err)
  }
}

const sk = generateSecretKey()
const pk = publicKeyOf(sk)
const rk = rootKey(pk)
const root = (seq: number, payload: string): Uint8Array => encodeRoot(sk, seq, new TextEncoder().encode(payload))
const far = 10 ** 13

describe('ReplicaStore rules', () => {
  it('stores a content block only under its hash, and a root only when signed for its key', async () => {
    const { store } = setup()
    const bytes = new TextEncoder().encode('hello')
    expect(await code(store.accept(contentKey(bytes), BlockKind.CONTENT, bytes, { expiresAt: far, owner: '' }))).toBe('ok')
    expect(await code(store.accept(contentKey(new Uint8Array([1])), BlockKind.CONTENT, bytes, { expiresAt: far, owner: '' }))).toBe('BLOCK_INVALID')
    const other = rootKey(publicKeyOf(generateSecretKey()))
    expect(await code(store.accept(other, BlockKind.ROOT, root(1, 'a'), { expiresAt: far, owner: '' }))).toBe('BLOCK_INVALID')
    const forged = root(1, 'a')
    forged[forged.length - 1] = (forged[forged.length - 1] as number) ^ 1
    expect(await code(store.accept(rk, BlockKind.ROOT, forged, { expiresAt: far, owner: '' }))).toBe('BLOCK_INVALID')
  })

  it('moves roots only forward: stale refused, equal-sequence other content a conflict, expectSeq checked', async () => {
    const { store, blocks } = setup()
    expect(await code(store.accept(rk, BlockKind.ROOT, root(2, 'two'), { expiresAt: far, owner: '', expectSeq: 0 }))).toBe('ok')
    expect(await code(store.accept(rk, BlockKind.ROOT, root(1, 'one'), { expiresAt: far, owner: '' }))).toBe('ROOT_STALE')
    expect(await code(store.accept(rk, BlockKind.ROOT, root(2, 'other'), { expiresAt: far, owner: '' }))).toBe('ROOT_CONFLICT')
    expect(await code(store.accept(rk, BlockKind.ROOT, root(2, 'two'), { expiresAt: far, owner: '' }))).toBe('ok')
    expect(await code(store.accept(rk, BlockKind.ROOT, root(3, 'three'), { expiresAt: far, owner: '', expectSeq: 1 }))).toBe('ROOT_CONFLICT')
    // A replica copy of an older root is ignored quietly: the newer one stays.
    expect(await store.accept(rk, BlockKind.ROOT, root(1, 'one'), { expiresAt: far, owner: '', replica: true })).toBe(false)
    expect((await blocks.getMeta(rk))?.seq).toBe(2)
    expect((await blocks.getMeta(rk))?.owner).toBe(Buffer.from(pk).toString('hex'))
  })

  it('two concurrent conditional puts of one root: exactly one wins', async () => {
    const { store } = setup()
    await store.accept(rk, BlockKind.ROOT, root(1, 'base'), { expiresAt: far, owner: '' })
    const r = await Promise.all([
      code(store.accept(rk, BlockKind.ROOT, root(2, 'left'), { expiresAt: far, owner: '', expectSeq: 1 })),
      code(store.accept(rk, BlockKind.ROOT, root(2, 'right'), { expiresAt: far, owner: '', expectSeq: 1 })),
    ])
    expect(r.sort()).toEqual(['ROOT_CONFLICT', 'ok'])
  })

  it('caps leases, extends them, and collects expired blocks', async () => {
    const { store, blocks, clock } = setup({ maxLeaseMs: 1_000 })
    const bytes = new Uint8Array([1, 2, 3])
    const key = contentKey(bytes)
    await store.accept(key, BlockKind.CONTENT, bytes, { expiresAt: far, owner: '' })
    expect((await blocks.getMeta(key))?.expiresAt).toBe(clock.now + 1_000)
    clock.now += 800
    expect(await store.extend([key, contentKey(new Uint8Array([9]))], store.leaseEnd(1_000))).toHaveLength(1)
    clock.now += 800
    expect(await store.collectExpired()).toBe(0)
    clock.now += 500
    expect(await store.collectExpired()).toBe(1)
    expect(await blocks.has(key)).toBe(false)
  })

  it('serves no copy whose lease ran out, even before it is collected', async () => {
    // Otherwise a primary that collected its copy pulls a replica's back with a fresh lease.
    const { store, blocks, clock } = setup({ maxLeaseMs: 1_000 })
    const bytes = new Uint8Array([4, 5, 6])
    const key = contentKey(bytes)
    await store.accept(key, BlockKind.CONTENT, bytes, { expiresAt: far, owner: '' })
    expect(await store.read(key, false)).toBeDefined()
    clock.now += 1_000
    expect(await store.read(key, false)).toBeUndefined()
    expect(await store.read(key, true)).toBeUndefined()
    expect(await blocks.has(key)).toBe(true) // left for collectExpired
    expect(await store.collectExpired()).toBe(1)
  })

  it('refuses over quota and over capacity without touching stored data', async () => {
    const { store, blocks } = setup({ maxBytesPerOwner: 10, maxBytesPerSource: 20, maxStorageBytes: 30 })
    const b = (n: number, fill: number): Uint8Array => new Uint8Array(n).fill(fill)
    const owner = 'a'.repeat(64)
    expect(await code(store.accept(contentKey(b(8, 1)), BlockKind.CONTENT, b(8, 1), { expiresAt: far, owner }))).toBe('ok')
    expect(await code(store.accept(contentKey(b(8, 2)), BlockKind.CONTENT, b(8, 2), { expiresAt: far, owner }))).toBe('QUOTA_EXCEEDED')
    expect(await code(store.accept(contentKey(b(9, 3)), BlockKind.CONTENT, b(9, 3), { expiresAt: far, owner: '', source: '10.0.0.1' }))).toBe('ok')
    expect(await code(store.accept(contentKey(b(12, 4)), BlockKind.CONTENT, b(12, 4), { expiresAt: far, owner: '', source: '10.0.0.1' }))).toBe('QUOTA_EXCEEDED')
    expect(await code(store.accept(contentKey(b(12, 5)), BlockKind.CONTENT, b(12, 5), { expiresAt: far, owner: '' }))).toBe('ok')
    expect(await code(store.accept(contentKey(b(9, 6)), BlockKind.CONTENT, b(9, 6), { expiresAt: far, owner: '' }))).toBe('STORAGE_FULL')
    expect(blocks.stats()).toEqual({ blocks: 3, bytes: 29 })
  })

  it('holds the last of its capacity back for roots and small blocks, so a full node still takes a deletion', async () => {
    const MiB = 1024 * 1024
    const { store, blocks } = setup({ maxStorageBytes: 8 * MiB })
    expect(store.reservedBytes).toBe(MiB) // 2% of 8 MiB is less than the 1 MiB floor
    const big = (fill: number): Uint8Array => new Uint8Array(MiB).fill(fill)
    for (let i = 1; i <= 7; i++) expect(await code(store.accept(contentKey(big(i)), BlockKind.CONTENT, big(i), { expiresAt: far, owner: '' }))).toBe('ok')
    expect(await code(store.accept(contentKey(big(8)), BlockKind.CONTENT, big(8), { expiresAt: far, owner: '' }))).toBe('STORAGE_FULL')
    // A directory node or an inode, and the root naming them, still fit.
    const small = new Uint8Array(4096).fill(9)
    expect(await code(store.accept(contentKey(small), BlockKind.CONTENT, small, { expiresAt: far, owner: '' }))).toBe('ok')
    expect(await code(store.accept(rk, BlockKind.ROOT, root(1, 'after the deletion'), { expiresAt: far, owner: '' }))).toBe('ok')
    expect(blocks.stats().blocks).toBe(9)
    // Within bounds: 2% of 1 GiB is 20 MiB; a quarter of a 2 MiB limit is 512 KiB.
    expect(setup({ maxStorageBytes: 1024 * MiB }).store.reservedBytes).toBe(Math.floor(1024 * MiB * 0.02))
    expect(setup({ maxStorageBytes: 2 * MiB }).store.reservedBytes).toBe(MiB / 2)
    expect(setup().store.reservedBytes).toBe(0)
  })

  it('drops a corrupt stored copy on read instead of serving it', async () => {
    const { store, blocks } = setup()
    const bytes = new Uint8Array([5, 6, 7])
    const key = contentKey(bytes)
    await store.accept(key, BlockKind.CONTENT, bytes, { expiresAt: far, owner: '' })
    await blocks.put(key, { kind: BlockKind.CONTENT, bytes: new Uint8Array([5, 6, 8]), expiresAt: far, owner: '', seq: 0, size: 3 })
    expect(await store.read(key)).toBeUndefined()
    expect(await blocks.has(key)).toBe(false)
    expect(store.stats().corruptDropped).toBe(1)
  })
})
