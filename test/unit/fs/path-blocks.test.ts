import { describe, expect, it } from 'vitest'
import { isCfsError, keysEqual, toHex, type Key } from '../../../src/core/index.js'
import { Reader, Volume, listPathBlocks, type ListedBlock, type VersionInfo } from '../../../src/fs/index.js'
import { dirNodeCodec } from '../../../src/fs/dir-node.js'
import { indirectCodec } from '../../../src/fs/indirect.js'
import { inodeCodec } from '../../../src/fs/inode.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { rejection } from '../../helpers/thrown.js'

/*
 * listPathBlocks: the blocks a path of one version stands on, in reading order, for `cfs where`.
 */

const BS = 1024

interface Fixture { blocks: MemoryBlockService, vol: Volume, latest: () => Promise<VersionInfo>, versions: () => Promise<VersionInfo[]> }

async function fixture (): Promise<Fixture> {
  const blocks = new MemoryBlockService()
  const owner = newOwner()
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0, blockSizeBytes: BS })
  await vol.start()
  await vol.mkdir('/dir')
  await vol.create('/dir/small')
  await vol.write('/dir/small', 0, new TextEncoder().encode('hi\n'))
  await vol.create('/dir/big')
  // Blocks 0, 1 and 4 of 5; 2 and 3 are a hole (null pointers, no block).
  await vol.write('/dir/big', 0, new Uint8Array(2 * BS).fill(7))
  await vol.write('/dir/big', 4 * BS, new Uint8Array(500).fill(9))
  await vol.sync()
  const reader = new Reader({ blocks, verifier: owner.verifier })
  const versions = async (): Promise<VersionInfo[]> => {
    const out: VersionInfo[] = []
    for await (const v of reader.versions(owner.signer.publicKey)) out.push(v)
    return out
  }
  return { blocks, vol, versions, latest: async () => (await versions())[0] as VersionInfo }
}

const brief = (b: ListedBlock): string => `${b.part} ${b.role} ${b.of}${b.level === undefined ? '' : ` L${b.level}`}${b.index === undefined ? '' : ` #${b.index}`}${b.unreadable === true ? ' unreadable' : ''}`

describe('listPathBlocks', () => {
  it('a small file: the record, the way down (inode and entries of each directory) and its inode, which holds its bytes', async () => {
    const { blocks, vol, latest } = await fixture()
    const v = await latest()
    const r = await listPathBlocks(blocks, v, '/dir/small')
    expect(r.blocks.map(brief)).toEqual([
      'path record /', 'path inode /', 'path dir / L0', 'path inode /dir', 'path dir /dir L0', 'self inode /dir/small',
    ])
    expect(r.complete).toBe(true)
    expect(r.target).toMatchObject({ type: 'file', size: 3 })
    expect(keysEqual(r.blocks[0]!.key, v.recordKey)).toBe(true)
    expect(keysEqual(r.blocks[1]!.key, v.top)).toBe(true)
    expect(keysEqual(r.blocks[5]!.key, (await vol.stat('/dir/small')).key)).toBe(true)
    expect(inodeCodec.decode(blocks.peek(r.blocks[5]!.key)!, 'inode')).toMatchObject({ data: null, inline: new TextEncoder().encode('hi\n') })
    // Every block read is sized as stored.
    for (const b of r.blocks) expect(b.bytes).toBe(blocks.peek(b.key)!.length)
  })

  it('a file of several blocks: its indirect block, then its data blocks by index, holes skipped', async () => {
    const { blocks, latest } = await fixture()
    const r = await listPathBlocks(blocks, await latest(), '/dir/big')
    const own = r.blocks.filter((b) => b.part === 'self')
    expect(own.map(brief)).toEqual(['self inode /dir/big', 'self indirect /dir/big L1', 'self data /dir/big #0', 'self data /dir/big #1', 'self data /dir/big #4'])
    expect(own.slice(2).map((b) => [b.offset, b.length])).toEqual([[0, BS], [BS, BS], [4 * BS, 500]])
    const ind = indirectCodec.decode(blocks.peek(own[1]!.key)!, 'indirect')
    expect(own.slice(2).map((b) => toHex(b.key))).toEqual([ind.ptrs[0], ind.ptrs[1], ind.ptrs[4]].map((k) => toHex(k as Key)))
  })

  it('a directory: its inode and its whole entry tree, not its children; the way into a large one is one node per level', async () => {
    const { blocks, vol, latest } = await fixture()
    for (let i = 0; i < 400; i++) await vol.create(`/dir/f${String(i).padStart(3, '0')}`)
    await vol.sync()
    const v = await latest()
    const r = await listPathBlocks(blocks, v, '/dir')
    const own = r.blocks.filter((b) => b.part === 'self')
    expect(own[0]).toMatchObject({ role: 'inode', of: '/dir' })
    const nodes = own.slice(1)
    expect(nodes.every((b) => b.role === 'dir' && b.of === '/dir')).toBe(true)
    const top = dirNodeCodec.decode(blocks.peek(nodes[0]!.key)!, 'dir')
    expect(top.level).toBeGreaterThan(0)
    expect(nodes.filter((b) => b.level === 0).length).toBe(top.items.length) // two levels here
    expect(own.some((b) => b.role === 'inode' && b.of !== '/dir')).toBe(false)
    // Inside it, the way down passes one node of /dir per level.
    const inner = await listPathBlocks(blocks, v, '/dir/f123')
    expect(inner.blocks.filter((b) => b.of === '/dir' && b.role === 'dir').map((b) => b.level)).toEqual([top.level, 0])
  })

  it('a hard link: the way down goes through the inode table; the top lists its entries and its inode table', async () => {
    const { blocks, vol, latest } = await fixture()
    await vol.link('/dir/small', '/again')
    await vol.sync()
    const v = await latest()
    const r = await listPathBlocks(blocks, v, '/again')
    expect(r.blocks.map(brief)).toEqual(['path record /', 'path inode /', 'path dir / L0', 'path links / L0', 'self inode /again'])
    expect(keysEqual(r.blocks[4]!.key, (await vol.stat('/dir/small')).key)).toBe(true)
    const top = await listPathBlocks(blocks, v, '/')
    expect(top.blocks.map(brief)).toEqual(['path record /', 'self inode /', 'self dir / L0', 'self links / L0'])
  })

  it('a past version: the newer records come first, then the tree of that version', async () => {
    const { blocks, vol, versions } = await fixture()
    await vol.unlink('/dir/small')
    await vol.sync()
    const [now, before] = await versions()
    expect(isCfsError(await rejection(listPathBlocks(blocks, now!, '/dir/small')), 'ENTRY_NOT_FOUND')).toBe(true)
    const r = await listPathBlocks(blocks, before!, '/dir/small', { newerRecords: [now!.recordKey] })
    expect(r.blocks.slice(0, 2).map((b) => toHex(b.key))).toEqual([toHex(now!.recordKey), toHex(before!.recordKey)])
    expect(r.target?.type).toBe('file')
  })

  it('a block no node has is listed as unreadable, and nothing below it; the listing is incomplete', async () => {
    const { blocks, latest } = await fixture()
    const v = await latest()
    // A lost data block is listed as it is (data blocks are not read): its holders tell.
    const full = await listPathBlocks(blocks, v, '/dir/big')
    blocks.forget(full.blocks.at(-1)!.key)
    expect(await listPathBlocks(blocks, v, '/dir/big')).toEqual(full)
    const ind = full.blocks.find((b) => b.role === 'indirect')!
    blocks.forget(ind.key)
    const r = await listPathBlocks(blocks, v, '/dir/big')
    expect(r.complete).toBe(false)
    expect(r.blocks.slice(-2).map(brief)).toEqual(['self inode /dir/big', 'self indirect /dir/big L1 unreadable'])
    // On the way down: the listing ends at the lost node and the target is unknown.
    const dirNode = full.blocks.find((b) => b.role === 'dir' && b.of === '/dir')!
    blocks.forget(dirNode.key)
    const cut = await listPathBlocks(blocks, v, '/dir/big')
    expect(cut.complete).toBe(false)
    expect(cut.target).toBeUndefined()
    expect(cut.blocks.map(brief)).toEqual(['path record /', 'path inode /', 'path dir / L0', 'path inode /dir', 'path dir /dir unreadable'])
  })

  it('an unknown path is ENTRY_NOT_FOUND; a path through a file is NOT_A_DIRECTORY', async () => {
    const { blocks, latest } = await fixture()
    const v = await latest()
    const missing = await rejection(listPathBlocks(blocks, v, '/dir/nope'))
    expect(isCfsError(missing, 'ENTRY_NOT_FOUND')).toBe(true)
    expect((missing as Error).message).toMatch(/no such file or directory: \/dir\/nope/)
    expect(isCfsError(await rejection(listPathBlocks(blocks, v, '/dir/small/x')), 'NOT_A_DIRECTORY')).toBe(true)
  })
})
