import { describe, expect, it } from 'vitest'
import { toHex, type AbortOptions, type Key } from '../../../src/core/index.js'
import type { BlockKind } from '../../../src/dhash/index.js'
import { READ_AHEAD_FIRST_BLOCK_BYTES } from '../../../src/fs/entry-read-ahead.js'
import { Reader, Volume, type Snapshot } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'

// Read-ahead across a directory's files: once its files are opened in name order, the inode
// blocks of the next ones (a small file's bytes with them) are fetched before their opens ask.

const WINDOW = 4
const FILES = 20
const name = (i: number): string => `f${String(i).padStart(2, '0')}`

/** A block service that notes the keys asked for. */
class RecordingBlocks extends MemoryBlockService {
  asked: string[] = []

  override async get (kind: BlockKind, key: Key, options?: AbortOptions): Promise<Uint8Array> {
    this.asked.push(toHex(key))
    return super.get(kind, key, options)
  }
}

/** Two directories of FILES small files each, published; the snapshot's directories are listed once (their blocks cached) and nothing is noted yet. */
async function published (): Promise<{ blocks: RecordingBlocks, snap: Snapshot, inode: (i: number, dir?: string) => Promise<string> }> {
  const owner = newOwner()
  const blocks = new RecordingBlocks()
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
  await vol.start()
  for (const dir of ['/d', '/e']) {
    await vol.mkdir(dir)
    for (let i = 0; i < FILES; i++) {
      await vol.create(`${dir}/${name(i)}`)
      await vol.write(`${dir}/${name(i)}`, 0, new TextEncoder().encode(`${dir} ${i}`))
    }
  }
  await vol.mkdir('/d/sub') // not a file: never fetched ahead
  await vol.publishOnce()
  await vol.stop()
  const snap = await new Reader({ blocks, verifier: owner.verifier }, { readAheadEntries: WINDOW }).latest(owner.signer.publicKey)
  // A directory entry holds its inode's key and attributes: stat reads no inode block.
  const inode = async (i: number, dir = '/d'): Promise<string> => toHex((await snap.stat(`${dir}/${name(i)}`)).key)
  for (const dir of ['/', '/d', '/e']) for await (const _ of snap.readdir(dir)); // every directory node cached: only inodes are asked for below
  blocks.asked = []
  return { blocks, snap, inode }
}

const settle = async (): Promise<void> => { for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve)) }

describe('EntryReadAhead', () => {
  it('fetches the next files\' inodes once two are opened in name order, and more from half way', async () => {
    const { blocks, snap, inode } = await published()
    await snap.open(`/d/${name(0)}`)
    await settle()
    expect(blocks.asked).toEqual([await inode(0)])
    blocks.asked = []
    await snap.open(`/d/${name(1)}`) // in order: f02..f05 ahead, after the open's own inode
    await settle()
    expect(blocks.asked[0]).toBe(await inode(1))
    expect(new Set(blocks.asked.slice(1))).toEqual(new Set(await Promise.all([2, 3, 4, 5].map(async (i) => inode(i)))))

    // Opens of what was fetched ahead ask for nothing, until the middle of the window (f04)
    // fetches the next one, f06..f09.
    blocks.asked = []
    await snap.open(`/d/${name(2)}`)
    await snap.open(`/d/${name(3)}`)
    await settle()
    expect(blocks.asked).toEqual([])
    await snap.open(`/d/${name(4)}`)
    await settle()
    expect(new Set(blocks.asked)).toEqual(new Set(await Promise.all([6, 7, 8, 9].map(async (i) => inode(i)))))
  })

  it('stops for an open out of order, not for opens in other directories between, and fetches no directory', async () => {
    const { blocks, snap, inode } = await published()
    await snap.open(`/d/${name(10)}`)
    await snap.open(`/d/${name(5)}`) // backwards: a first open in /d again
    await snap.open(`/e/${name(6)}`) // a first open in /e
    await settle()
    expect(blocks.asked).toEqual([await inode(10), await inode(5), await inode(6, '/e')])
    // After f05 in /d (another directory between): f08, f09 and f11 ahead (f10 is cached).
    blocks.asked = []
    await snap.open(`/d/${name(7)}`)
    await settle()
    expect(blocks.asked[0]).toBe(await inode(7))
    expect(new Set(blocks.asked.slice(1))).toEqual(new Set(await Promise.all([8, 9, 11].map(async (i) => inode(i)))))

    // In order again, near the end of /d: the window ends with the directory, and /d/sub (a
    // directory, last in name order) is not fetched.
    blocks.asked = []
    await snap.open(`/d/${name(17)}`)
    await snap.open(`/d/${name(18)}`)
    await settle()
    expect(blocks.asked).toEqual([await inode(17), await inode(18), await inode(19)])
  })

  it('fetches the first data block of the files ahead that are not much longer', async () => {
    const owner = newOwner()
    const blocks = new RecordingBlocks()
    const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
    await vol.start()
    const sizes = [10_000, 10_000, 10_000, READ_AHEAD_FIRST_BLOCK_BYTES + 1, 20_000, 100]
    for (const [i, size] of sizes.entries()) {
      await vol.create(`/${name(i)}`)
      await vol.write(`/${name(i)}`, 0, new Uint8Array(size).fill(i + 1))
    }
    await vol.publishOnce()
    await vol.stop()
    const snap = await new Reader({ blocks, verifier: owner.verifier }, { readAheadEntries: WINDOW }).latest(owner.signer.publicKey)
    for await (const _ of snap.readdir('/'));
    await snap.open(`/${name(0)}`)
    await settle()
    blocks.asked = []
    await snap.open(`/${name(1)}`)
    await settle()
    // f01's inode and first block (its open), then f02..f05's inodes, and the first blocks of
    // f02 and f04: not of f03 (longer), nor of f05 (its bytes are in its inode).
    const inodes = await Promise.all([1, 2, 3, 4, 5].map(async (i) => toHex((await snap.stat(`/${name(i)}`)).key)))
    expect(blocks.asked.filter((k) => inodes.includes(k)).sort()).toEqual([...inodes].sort())
    expect(blocks.asked).toHaveLength(inodes.length + 3)
  })

  it('does nothing with a window of 0', async () => {
    const owner = newOwner()
    const blocks = new RecordingBlocks()
    const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
    await vol.start()
    for (let i = 0; i < 4; i++) await vol.create(`/${name(i)}`)
    await vol.publishOnce()
    await vol.stop()
    const snap = await new Reader({ blocks, verifier: owner.verifier }, { readAheadEntries: 0 }).latest(owner.signer.publicKey)
    const keys = await Promise.all([0, 1, 2, 3].map(async (i) => toHex((await snap.stat(`/${name(i)}`)).key)))
    blocks.asked = []
    await snap.open(`/${name(0)}`)
    await snap.open(`/${name(1)}`)
    await settle()
    expect(blocks.asked).toEqual(keys.slice(0, 2))
  })
})
