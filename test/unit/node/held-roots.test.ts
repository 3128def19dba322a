import { describe, expect, it } from 'vitest'
import { toHex, type Key } from '../../../src/core/index.js'
import { BlockKind, MemoryBlockCache, MemoryBlockStore, ReplicaStore, contentKey, encodeRoot, generateSecretKey, publicKeyOf, rootKey } from '../../../src/dhash/index.js'
import { rootRecordCodec } from '../../../src/fs/index.js'
import { HeldRoots } from '../../../src/node/held-roots.js'

// HeldRoots: the volume roots a node holds, found by one scan and kept up by the store's upcall;
// the publication time comes from the file system's root record in the root's payload.

const DAY = 86_400_000

function setup (clock: { now: number }): { blocks: MemoryBlockStore, store: ReplicaStore, roots: HeldRoots } {
  const blocks = new MemoryBlockStore()
  const store = new ReplicaStore({ blocks, cache: new MemoryBlockCache() }, { now: () => clock.now })
  const roots = new HeldRoots({ blocks, onStored: (l) => store.onStored(l), now: () => clock.now }, { intervalMs: 0 })
  return { blocks, store, roots }
}

function record (seq: number, timeMs: number): Uint8Array {
  return rootRecordCodec.encode({ seq, timeMs, top: contentKey(new TextEncoder().encode('top')), prev: null })
}

async function putRoot (store: ReplicaStore, secret: Uint8Array, seq: number, payload: Uint8Array, expiresAt: number): Promise<Key> {
  const key = rootKey(publicKeyOf(secret))
  await store.accept(key, BlockKind.ROOT, encodeRoot(secret, seq, payload), { expiresAt, owner: '' })
  return key
}

describe('HeldRoots', () => {
  it('finds the roots already stored, with owner, sequence number and publication time', async () => {
    const clock = { now: 1_000 }
    const { store, roots } = setup(clock)
    const secret = generateSecretKey()
    const key = await putRoot(store, secret, 3, record(3, 777), DAY)
    const content = new TextEncoder().encode('a content block')
    await store.accept(contentKey(content), BlockKind.CONTENT, content, { expiresAt: DAY, owner: '' })
    await roots.checkOnce()
    expect(roots.list()).toEqual([{ key: toHex(key), owner: toHex(publicKeyOf(secret)), seq: 3, publishedAt: 777, expiresAt: DAY }])
  })

  it('hears of new roots and sequence numbers at once, and reads their time at the next check', async () => {
    const clock = { now: 1_000 }
    const { store, roots } = setup(clock)
    await roots.start()
    try {
      await roots.checkOnce()
      const secret = generateSecretKey()
      await putRoot(store, secret, 1, record(1, 100), DAY)
      expect(roots.list().map((v) => [v.seq, v.publishedAt])).toEqual([[1, null]])
      await roots.checkOnce()
      expect(roots.list().map((v) => [v.seq, v.publishedAt])).toEqual([[1, 100]])
      await putRoot(store, secret, 2, record(2, 200), DAY)
      expect(roots.list().map((v) => [v.seq, v.publishedAt])).toEqual([[2, null]])
      await roots.checkOnce()
      expect(roots.list().map((v) => [v.seq, v.publishedAt])).toEqual([[2, 200]])
    } finally {
      await roots.stop()
    }
  })

  it('drops deleted and expired roots; a payload that is not a root record has no time', async () => {
    const clock = { now: 1_000 }
    const { blocks, store, roots } = setup(clock)
    await roots.start()
    try {
      const a = await putRoot(store, generateSecretKey(), 1, new TextEncoder().encode('not a root record'), DAY)
      const b = await putRoot(store, generateSecretKey(), 1, record(1, 50), 5_000)
      await roots.checkOnce()
      expect(roots.list().map((v) => [v.key, v.publishedAt])).toEqual([[toHex(b), 50], [toHex(a), null]]) // newest first, unknown times last
      clock.now = 5_000
      expect(roots.list().map((v) => v.key)).toEqual([toHex(a)]) // b's lease ran out
      await blocks.delete(a)
      await roots.checkOnce()
      expect(roots.list()).toEqual([])
    } finally {
      await roots.stop()
    }
  })
})
