import { describe, expect, it } from 'vitest'
import { isCfsError } from '../../../src/core/index.js'
import {
  BlockKind, MAX_RELEASE_SKEW_MS, MemoryBlockCache, MemoryBlockStore, ReplicaStore, checkRelease, contentKey, encodeRoot, generateSecretKey, publicKeyOf,
  releaseMessage, rootKey, signMessage,
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
    expect(await code(store.accept(contentKey(b(9, 3)), BlockKind.CONTENT, b(9, 3), { expiresAt: far, owner: '', sources: ['address 10.0.0.1'] }))).toBe('ok')
    expect(await code(store.accept(contentKey(b(12, 4)), BlockKind.CONTENT, b(12, 4), { expiresAt: far, owner: '', sources: ['address 10.0.0.1'] }))).toBe('QUOTA_EXCEEDED')
    expect(await code(store.accept(contentKey(b(12, 5)), BlockKind.CONTENT, b(12, 5), { expiresAt: far, owner: '' }))).toBe('ok')
    expect(await code(store.accept(contentKey(b(9, 6)), BlockKind.CONTENT, b(9, 6), { expiresAt: far, owner: '' }))).toBe('STORAGE_FULL')
    expect(blocks.stats()).toEqual({ blocks: 3, bytes: 29 })
  })

  it('charges a put to every source it names, each against the limit: a new identity at the same address, or the same identity at a new address, is still over', async () => {
    const { store, clock } = setup({ maxBytesPerSource: 20, sourceWindowMs: 1_000 })
    let fill = 0
    const put = async (sources: string[], n = 8): Promise<string> => {
      const bytes = new Uint8Array(n).fill(++fill)
      return code(store.accept(contentKey(bytes), BlockKind.CONTENT, bytes, { expiresAt: far, owner: (fill % 10).toString().repeat(64), sources }))
    }
    expect(await put(['address 10.0.0.1', 'identity aa'])).toBe('ok')
    expect(await put(['address 10.0.0.1', 'identity aa'])).toBe('ok')
    expect(await put(['address 10.0.0.1', 'identity bb'])).toBe('QUOTA_EXCEEDED') // the address has put 16 of 20
    expect(await put(['address 10.0.0.2', 'identity aa'])).toBe('QUOTA_EXCEEDED') // so has the identity
    expect(await put(['address 10.0.0.2', 'identity bb'])).toBe('ok')
    expect(await put(['address 10.0.0.1', 'identity aa'], 4)).toBe('ok') // exactly at the limit
    clock.now += 1_000 // a new window
    expect(await put(['address 10.0.0.1', 'identity aa'])).toBe('ok')
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

describe('an owner\'s release', () => {
  const ownerHex = Buffer.from(pk).toString('hex')
  const other = Buffer.from(publicKeyOf(generateSecretKey())).toString('hex')
  const block = (text: string): { key: ReturnType<typeof contentKey>, bytes: Uint8Array } => {
    const bytes = new TextEncoder().encode(text)
    return { key: contentKey(bytes), bytes }
  }

  it('drops its own content blocks whose lease ends by the bound; keeps others\' and shared ones, later leases and roots', async () => {
    const { store, blocks } = setup()
    const mine = block('mine')
    const theirs = block('theirs')
    const shared = block('shared')
    const renewed = block('renewed')
    for (const b of [mine, shared, renewed]) await store.accept(b.key, BlockKind.CONTENT, b.bytes, { expiresAt: 2_000_000, owner: ownerHex })
    await store.accept(theirs.key, BlockKind.CONTENT, theirs.bytes, { expiresAt: 2_000_000, owner: other })
    // Another owner puts the same bytes: the copy becomes shared (accounted to nobody).
    await store.accept(shared.key, BlockKind.CONTENT, shared.bytes, { expiresAt: 2_000_000, owner: other })
    expect((await blocks.getMeta(shared.key))?.owner).toBe('')
    // Put again after the release was signed: a later lease end.
    await store.accept(renewed.key, BlockKind.CONTENT, renewed.bytes, { expiresAt: 3_000_000, owner: ownerHex })
    await store.accept(rk, BlockKind.ROOT, root(1, 'r'), { expiresAt: 2_000_000, owner: '' })

    const released = await store.release([mine.key, theirs.key, shared.key, renewed.key, rk, block('absent').key], ownerHex, 2_500_000)
    expect(released).toBe(1)
    expect(await blocks.has(mine.key)).toBe(false)
    for (const key of [theirs.key, shared.key, renewed.key, rk]) expect(await blocks.has(key)).toBe(true)
  })

  it('a release is checked: the owner\'s signature over exactly these keys, signed within ten minutes', () => {
    const keys = [block('a').key, block('b').key]
    const time = 1_000_000_000
    const grant = { owner: pk, time, leaseMs: 60_000, sig: signMessage(sk, releaseMessage(pk, time, 60_000, keys)) }
    expect(checkRelease(grant, keys, time + 1000)).toBeUndefined()
    expect(checkRelease(grant, keys.slice(1), time)).toMatch(/signature/)
    expect(checkRelease({ ...grant, leaseMs: 120_000 }, keys, time)).toMatch(/signature/)
    expect(checkRelease({ ...grant, owner: publicKeyOf(generateSecretKey()) }, keys, time)).toMatch(/signature/)
    expect(checkRelease(grant, keys, time + MAX_RELEASE_SKEW_MS + 1)).toMatch(/minutes/)
  })
})

describe('capacity under concurrent writes', () => {
  it('writes of many keys at once never take more than the limit, however slow the store', async () => {
    const blocks = new MemoryBlockStore()
    const put = blocks.put.bind(blocks)
    blocks.put = async (...args: Parameters<MemoryBlockStore['put']>) => {
      await new Promise((resolve) => setTimeout(resolve, 5))
      return put(...args)
    }
    const store = new ReplicaStore({ blocks, cache: new MemoryBlockCache() }, { now: () => 1_000_000, maxStorageBytes: 1_000_000 })
    const items = Array.from({ length: 40 }, (_, i) => new Uint8Array(100_000).fill(i + 1))
    const outcomes = await Promise.all(items.map(async (bytes) => code(store.accept(contentKey(bytes), BlockKind.CONTENT, bytes, { expiresAt: far, owner: '' }))))
    expect(outcomes.filter((c) => c === 'ok').length).toBeLessThanOrEqual(10)
    expect(outcomes.every((c) => c === 'ok' || c === 'STORAGE_FULL')).toBe(true)
    expect(blocks.stats().bytes).toBeLessThanOrEqual(1_000_000)
  })
})
