import { describe, expect, it } from 'vitest'
import { StorageFullError, hashKey, toHex } from '../../../src/core/index.js'
import { Reader, Volume } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { errorCode } from '../../helpers/thrown.js'

/*
 * Early release: the blocks that only past versions no longer kept reach leave the ring when
 * the owner says so (a signed dhash.release), not when their leases end. What the current tree,
 * a kept version, or another owner reaches stays. A publication refused for space makes the
 * next one release every past version, so a full ring has room again once a deletion is
 * published.
 */

const MiB = 1024 * 1024
const bytesOf = (n: number, seed: number): Uint8Array => {
  // Distinct in every 64 KiB block (seeded, so a test reads back what it wrote).
  const out = new Uint8Array(n)
  let x = seed * 2654435761 + 1
  for (let i = 0; i < n; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24 }
  return out
}
const BLOCK = 64 * 1024
const dataKeys = (bytes: Uint8Array): string[] =>
  Array.from({ length: Math.ceil(bytes.length / BLOCK) }, (_, i) => toHex(hashKey(bytes.subarray(i * BLOCK, (i + 1) * BLOCK))))

async function owned (blocks: MemoryBlockService, keepVersions = 8): Promise<{ vol: Volume, owner: ReturnType<typeof newOwner> }> {
  const owner = newOwner()
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0, keepVersions, blockSizeBytes: 64 * 1024 })
  await vol.start()
  return { vol, owner }
}

describe('releasing what only old versions reach', () => {
  it('keeps the current tree and the kept versions; drops the rest, records included, so the version chain ends there', async () => {
    const blocks = new MemoryBlockService()
    const { vol, owner } = await owned(blocks)
    await vol.create('/deleted')
    await vol.write('/deleted', 0, bytesOf(MiB, 1))
    await vol.create('/kept')
    await vol.write('/kept', 0, bytesOf(MiB, 2))
    await vol.sync() // v1
    await vol.unlink('/deleted')
    await vol.sync() // v2
    await vol.create('/new')
    await vol.write('/new', 0, bytesOf(100_000, 3))
    await vol.sync() // v3
    const before = blocks.blocks.size

    // Keep v3 and v2: only v1 goes, and nothing of it is unreachable from v2 but its record
    // and the blocks of /deleted (v2 no longer has it).
    const one = await vol.releaseOld(1)
    expect(one.versions).toBe(1)
    expect(one.released).toBe(one.blocks)
    expect(one.blocks).toBeGreaterThan(16) // /deleted's 16 data blocks, v1's record, and more
    for (const hex of dataKeys(bytesOf(MiB, 1))) expect(blocks.blocks.has(hex)).toBe(false)
    for (const hex of dataKeys(bytesOf(MiB, 2))) expect(blocks.blocks.has(hex)).toBe(true)
    expect(blocks.blocks.size).toBe(before - one.blocks)
    expect((await collect(vol.versions())).map((v) => v.seq)).toEqual([3, 2])

    // Keep only the current version.
    const all = await vol.releaseOld(0)
    expect(all.versions).toBe(1)
    expect((await collect(vol.versions())).map((v) => v.seq)).toEqual([3])
    const latest = await new Reader({ blocks, verifier: owner.verifier }).latest(owner.signer.publicKey)
    expect(Buffer.compare(Buffer.from(await latest.read('/kept', 0, 2 * MiB)), Buffer.from(bytesOf(MiB, 2)))).toBe(0)
    expect((await latest.read('/new', 0, MiB)).length).toBe(100_000)
    expect(await vol.releaseOld(0)).toEqual({ versions: 0, blocks: 0, released: 0, failed: 0 })
    await vol.stop()
  })

  it('never drops a block another owner put too', async () => {
    const blocks = new MemoryBlockService()
    const a = await owned(blocks)
    const b = await owned(blocks)
    const same = bytesOf(256 * 1024, 9)
    for (const { vol } of [a, b]) {
      await vol.create('/same')
      await vol.write('/same', 0, same)
      await vol.sync()
    }
    await a.vol.unlink('/same')
    await a.vol.sync()
    await a.vol.releaseOld(0)
    const theirs = await new Reader({ blocks, verifier: b.owner.verifier }).latest(b.owner.signer.publicKey)
    expect(Buffer.compare(Buffer.from(await theirs.read('/same', 0, MiB)), Buffer.from(same))).toBe(0)
    await a.vol.stop()
    await b.vol.stop()
  })

  it('after a publication refused for space, the next one releases every past version, and blocks put for changes undone before publication', async () => {
    const blocks = new MemoryBlockService()
    const { vol } = await owned(blocks)
    await vol.create('/big')
    await vol.write('/big', 0, bytesOf(MiB, 4))
    await vol.sync() // v1
    await vol.create('/more')
    await vol.write('/more', 0, bytesOf(MiB, 5))
    blocks.failNextPuts(1, new StorageFullError('node storage is full'))
    expect(await errorCode(vol.sync())).toBe('STORAGE_FULL')
    await vol.unlink('/big')
    await vol.unlink('/more')
    await vol.sync() // v2: the deletion, then the release of v1
    expect(blocks.counts.released).toBeGreaterThan(32)
    // /big was in version 1; /more was never published, but its blocks were put as they filled.
    for (const hex of dataKeys(bytesOf(MiB, 4))) expect(blocks.blocks.has(hex), hex).toBe(false)
    for (const hex of dataKeys(bytesOf(MiB, 5))) expect(blocks.blocks.has(hex), hex).toBe(false)
    expect((await collect(vol.versions())).map((v) => v.seq)).toEqual([2])
    await vol.stop()
  })
})

async function collect<T> (it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of it) out.push(x)
  return out
}
