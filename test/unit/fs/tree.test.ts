import { describe, expect, it } from 'vitest'
import { toHex } from '../../../src/core/index.js'
import { Volume } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { errorCode } from '../../helpers/thrown.js'

async function fresh (): Promise<{ vol: Volume, blocks: MemoryBlockService }> {
  const owner = newOwner()
  const blocks = new MemoryBlockService()
  let clock = 0
  const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier, now: () => (clock += 1) }, { publishIntervalMs: 0, blockSizeBytes: 4096 })
  await vol.start()
  return { vol, blocks }
}

const code = errorCode

const text = (s: string): Uint8Array => new TextEncoder().encode(s)

describe('tree operations', () => {
  it('rename: over files, across directories, and the POSIX refusals', async () => {
    const { vol } = await fresh()
    await vol.mkdir('/a')
    await vol.mkdir('/b')
    await vol.mkdir('/a/sub')
    await vol.create('/a/f')
    await vol.write('/a/f', 0, text('F'))
    await vol.create('/b/g')
    await vol.write('/b/g', 0, text('G'))
    await vol.mkdir('/empty')
    await vol.mkdir('/full')
    await vol.create('/full/x')

    await vol.create('/a/sub/inside')
    const insideKey = toHex((await vol.stat('/a/sub/inside')).key)
    const subIno = (await vol.stat('/a/sub')).ino
    await vol.rename('/a/sub', '/b/sub') // across directories, keeping the subtree
    expect(toHex((await vol.stat('/b/sub/inside')).key)).toBe(insideKey)
    expect((await vol.stat('/b/sub')).ino).toBe(subIno)
    expect((await vol.stat('/a')).nlink).toBe(2)
    expect((await vol.stat('/b')).nlink).toBe(3)
    expect((await vol.stat('/a')).size).toBe(1)
    expect((await vol.stat('/b')).size).toBe(2)

    await vol.rename('/a/f', '/b/g') // a file over a file
    expect(new TextDecoder().decode(await vol.read('/b/g', 0, 9))).toBe('F')
    expect(await code(vol.stat('/a/f'))).toBe('ENTRY_NOT_FOUND')
    expect((await vol.stat('/b')).size).toBe(2)

    expect(await code(vol.rename('/b/g', '/b/g'))).toBe('ok') // onto itself: nothing happens
    expect(await code(vol.rename('/b/sub', '/full'))).toBe('DIRECTORY_NOT_EMPTY') // a directory over a non-empty one
    expect(await code(vol.rename('/b/sub', '/b/g'))).toBe('NOT_A_DIRECTORY') // a directory over a file
    expect(await code(vol.rename('/b/g', '/empty'))).toBe('IS_A_DIRECTORY') // a file over a directory
    expect(await code(vol.rename('/b', '/b/sub/inside'))).toBe('INVALID_NAME') // into itself
    expect(await code(vol.rename('/nope', '/b/x'))).toBe('ENTRY_NOT_FOUND')
    expect(await code(vol.rename('/b/g', '/nope/x'))).toBe('ENTRY_NOT_FOUND')
    expect(await code(vol.rename('/b/g', '/b/g/x'))).toBe('NOT_A_DIRECTORY')
    expect(await code(vol.rename('/', '/x'))).toBe('INVALID_NAME')
    await vol.rename('/b/sub', '/empty') // a directory over an empty one
    expect((await vol.stat('/empty')).ino).toBe(subIno)
    expect(toHex((await vol.stat('/empty/inside')).key)).toBe(insideKey)
    expect((await vol.stat('/b')).nlink).toBe(2)
    await vol.rename('/b/g', '/b/h') // within one directory
    expect((await vol.stat('/b')).size).toBe(1)
  })

  it('unlink, rmdir, create and mkdir refuse what POSIX refuses', async () => {
    const { vol } = await fresh()
    await vol.mkdir('/d')
    await vol.create('/d/f')
    expect(await code(vol.unlink('/d'))).toBe('IS_A_DIRECTORY')
    expect(await code(vol.rmdir('/d'))).toBe('DIRECTORY_NOT_EMPTY')
    expect(await code(vol.rmdir('/d/f'))).toBe('NOT_A_DIRECTORY')
    expect(await code(vol.rmdir('/'))).toBe('INVALID_NAME')
    expect(await code(vol.mkdir('/d'))).toBe('ENTRY_EXISTS')
    expect(await code(vol.mkdir('/'))).toBe('ENTRY_EXISTS')
    expect(await code(vol.create('/d/f'))).toBe('ENTRY_EXISTS')
    expect(await code(vol.create('/d/f', { exclusive: false }))).toBe('ok')
    expect(await code(vol.create('/d', { exclusive: false }))).toBe('IS_A_DIRECTORY')
    expect(await code(vol.create('/d/f/g'))).toBe('NOT_A_DIRECTORY')
    expect(await code(vol.mkdir('/x/y'))).toBe('ENTRY_NOT_FOUND')
    expect(await code(vol.mkdir('/d/' + 'n'.repeat(256)))).toBe('INVALID_NAME')
    expect(await code(vol.create('/d/..'))).toBe('INVALID_NAME')
    expect(await code(vol.write('/d', 0, text('x')))).toBe('IS_A_DIRECTORY')
    await vol.unlink('/d/f')
    await vol.rmdir('/d')
    expect((await vol.stat('/')).size).toBe(0)
  })

  it('truncate down and up, and sparse files store no zero blocks', async () => {
    const { vol, blocks } = await fresh()
    await vol.create('/f')
    await vol.write('/f', 0, new Uint8Array(10_000).fill(9))
    await vol.truncate('/f', 5_000)
    expect((await vol.stat('/f')).size).toBe(5_000)
    await vol.truncate('/f', 20_000)
    const back = await vol.read('/f', 4_998, 4)
    expect([...back]).toEqual([9, 9, 0, 0])
    await vol.sync()
    blocks.resetCounts()
    await vol.create('/sparse')
    await vol.write('/sparse', 1024 ** 3, text('end')) // 1 GiB hole, then three bytes
    await vol.truncate('/sparse', 10 * 1024 ** 3) // 10 GiB: two levels of indirect blocks
    await vol.write('/sparse', 10 * 1024 ** 3 - 1, text('!'))
    await vol.sync()
    expect((await vol.stat('/sparse')).size).toBe(10 * 1024 ** 3)
    expect(new TextDecoder().decode(await vol.read('/sparse', 10 * 1024 ** 3 - 1, 10))).toBe('!')
    expect(blocks.counts.putBytes).toBeLessThan(64 * 1024) // one short data block and a few small ones
    expect([...(await vol.read('/sparse', 1024 ** 3 - 1, 5))]).toEqual([0, 101, 110, 100, 0])
    expect(await code(vol.truncate('/', 0))).toBe('IS_A_DIRECTORY')
  })

  it('symbolic links: created, read, not followed in paths, and listed with their type', async () => {
    const { vol } = await fresh()
    await vol.mkdir('/d')
    await vol.symlink('../target/file', '/d/link')
    expect(await vol.readlink('/d/link')).toBe('../target/file')
    const st = await vol.stat('/d/link')
    expect(st.type).toBe('symlink')
    expect(st.size).toBe(14)
    expect(await code(vol.stat('/d/link/x'))).toBe('NOT_A_DIRECTORY')
    expect(await code(vol.write('/d/link', 0, text('x')))).toBe('NOT_SUPPORTED')
    expect(await code(vol.readlink('/d'))).toBe('INVALID_NAME')
    expect(await code(vol.symlink('', '/d/empty'))).toBe('ENTRY_NOT_FOUND')
    expect(await code(vol.symlink('x', '/d/link'))).toBe('ENTRY_EXISTS')
    const listed = []
    for await (const e of vol.readdir('/d')) listed.push([e.name, e.type])
    expect(listed).toEqual([['link', 'symlink']])
    await vol.rename('/d/link', '/moved')
    expect(await vol.readlink('/moved')).toBe('../target/file')
    await vol.unlink('/moved')
  })

  it('chmod and setTimes change attributes, and the entry repeats them for ls -l', async () => {
    const { vol } = await fresh()
    await vol.create('/f', { mode: 0o600 })
    await vol.chmod('/f', 0o100755) // type bits are dropped
    await vol.setTimes('/f', { mtimeNs: 1_234_000_000_001n })
    const st = await vol.stat('/f')
    expect(st.mode).toBe(0o755)
    expect(st.mtimeNs).toBe(1_234_000_000_001n)
    const [entry] = await (async () => { const out = []; for await (const e of vol.readdir('/')) out.push(e); return out })()
    expect(entry).toMatchObject({ name: 'f', mode: 0o755, mtimeNs: 1_234_000_000_001n, size: 0, type: 'file' })
    await vol.chmod('/', 0o700)
    expect((await vol.stat('/')).mode).toBe(0o700)
  })
})
