import { createCipheriv } from 'node:crypto'
import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/index.js'
import { Volume } from '../../../src/fs/index.js'
import { BlockReader } from '../../../src/fs/block-reader.js'
import { blockPointers } from '../../../src/fs/file-data.js'
import { inodeCodec, type FileInode } from '../../../src/fs/inode.js'
import { ReadOnlyStore } from '../../../src/fs/read-only-store.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'

const MiB = 1024 * 1024

/** Pseudo-random bytes [from, to) of an endless stream (AES-CTR of zeros), 1 MiB at a time. */
async function * generated (from: number, to: number): AsyncGenerator<Uint8Array> {
  const aes = createCipheriv('aes-128-ctr', Buffer.alloc(16, 7), Buffer.alloc(16))
  const zeros = Buffer.alloc(MiB)
  let at = 0
  while (at < to) {
    const chunk = aes.update(zeros)
    const start = Math.max(from - at, 0)
    const end = Math.min(to - at, MiB)
    if (end > start) yield chunk.subarray(start, end)
    at += MiB
  }
}

async function dataKeys (blocks: MemoryBlockService, vol: Volume, path: string): Promise<string[]> {
  const store = new ReadOnlyStore(new BlockReader(blocks))
  const file = await store.load((await vol.stat(path)).key, inodeCodec) as FileInode
  const out: string[] = []
  for await (const p of blockPointers(store, file, 0, Infinity)) out.push(p === null ? 'hole' : toHex(p))
  return out
}

describe('large files', () => {
  it('editing one byte in the middle of a 256 MiB file uploads a bounded number of blocks', async () => {
    const blocks = new MemoryBlockService()
    const vol = new Volume({ blocks, ...newOwner() }, { publishIntervalMs: 0 })
    await vol.start()
    await vol.mkdir('/data')
    expect(await vol.writeStream('/data/big', generated(0, 256 * MiB))).toBe(256 * MiB)
    await vol.sync()
    const before = await vol.read('/data/big', 128 * MiB - 2, 4)
    blocks.resetCounts()
    const h = await vol.open('/data/big', { write: true })
    await h.write(128 * MiB, Uint8Array.of(before[2]! ^ 0xff))
    await h.close()
    await vol.sync()
    const after = await vol.read('/data/big', 128 * MiB - 2, 4)
    expect([...after]).toEqual([before[0], before[1], before[2]! ^ 0xff, before[3]])
    console.log(`256 MiB file, 1-byte edit: ${blocks.counts.contentPuts} content blocks (${blocks.counts.putBytes} bytes) and ${blocks.counts.rootPuts} root uploaded`)
    // One data block, one indirect block, the file's inode, its directory's entry node and
    // inode, the top directory's entry node and inode, the root record; then the signed root.
    expect(blocks.counts.contentPuts).toBeLessThanOrEqual(8)
    expect(blocks.counts.rootPuts).toBe(1)
  }, 60_000)

  it('measures block reuse when one byte is inserted in the middle of a 64 MiB file', async () => {
    const blocks = new MemoryBlockService()
    const vol = new Volume({ blocks, ...newOwner() }, { publishIntervalMs: 0, blockSizeBytes: 256 * 1024 })
    await vol.start()
    await vol.writeStream('/a', generated(0, 64 * MiB))
    async function * inserted (): AsyncGenerator<Uint8Array> {
      yield * generated(0, 32 * MiB)
      yield Uint8Array.of(42)
      yield * generated(32 * MiB, 64 * MiB)
    }
    await vol.writeStream('/b', inserted())
    await vol.sync()
    const a = new Set(await dataKeys(blocks, vol, '/a'))
    const b = await dataKeys(blocks, vol, '/b')
    const reused = b.filter((k) => a.has(k)).length
    console.log(`insert 1 byte at 32 MiB of 64 MiB, fixed 256 KiB blocks: ${reused} of ${b.length} blocks reused (${(100 * reused / b.length).toFixed(1)}%)`)
    // Fixed-size blocks: everything before the insertion point is shared, nothing after it.
    expect(reused).toBe(128)
  }, 60_000)
})
