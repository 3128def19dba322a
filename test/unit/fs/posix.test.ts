/**
 * The POSIX rules the tree keeps (tree.ts): inode numbers, hard links and link counts, owners,
 * ctime, setgid directories, special files, extended attributes and nanosecond times.
 */
import { describe, expect, it } from 'vitest'
import { UnsupportedFormatError, hashKey, toHex } from '../../../src/core/index.js'
import { encodeCbor } from '../../../src/fs/codec.js'
import { CONTENT_BLOCK, ROOT_BLOCK } from '../../../src/fs/format.js'
import { Volume, type Stat } from '../../../src/fs/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'
import { collect } from './helpers.js'
import { errorCode } from '../../helpers/thrown.js'

async function fresh (): Promise<{ vol: Volume, blocks: MemoryBlockService, owner: ReturnType<typeof newOwner> }> {
  const owner = newOwner()
  const blocks = new MemoryBlockService()
  let clock = 1_000
  const vol = new Volume(
    { blocks, signer: owner.signer, verifier: owner.verifier, now: () => (clock += 1) },
    { publishIntervalMs: 0, blockSizeBytes: 4096, owner: { uid: 1000, gid: 100 } },
  )
  await vol.start()
  return { vol, blocks, owner }
}

const code = errorCode

const text = (s: string): Uint8Array => new TextEncoder().encode(s)
const str = (b: Uint8Array): string => new TextDecoder().decode(b)

describe('POSIX rules of the tree', () => {
  it('hard links: one inode under several names, across directories, counted, each name removable', async () => {
    const { vol } = await fresh()
    await vol.mkdir('/a')
    await vol.mkdir('/b')
    await vol.create('/a/f', { mode: 0o640 })
    await vol.write('/a/f', 0, text('one'))
    const before = await vol.stat('/a/f')
    expect(before.nlink).toBe(1)
    const bDir = await vol.stat('/b')

    await vol.link('/a/f', '/b/g')
    await vol.link('/b/g', '/a/h')
    const [f, g, h] = await Promise.all(['/a/f', '/b/g', '/a/h'].map(async (p) => vol.stat(p)))
    for (const s of [f, g, h] as Stat[]) {
      expect(s).toMatchObject({ ino: before.ino, nlink: 3, mode: 0o640, size: 3, uid: 1000, gid: 100 })
      expect(s.ctimeNs).toBeGreaterThan(before.ctimeNs)
    }
    expect((await vol.stat('/b')).mtimeNs).toBeGreaterThan(bDir.mtimeNs) // the new name's directory is modified
    expect((await vol.stat('/a')).size).toBe(2)

    // A change through one name is seen through every other; the directories stay as they were.
    const aKey = toHex((await vol.stat('/a')).key)
    await vol.write('/b/g', 3, text(' two'))
    await vol.chmod('/a/h', 0o600)
    expect(str(await vol.read('/a/f', 0, 100))).toBe('one two')
    expect((await vol.stat('/a/f')).mode).toBe(0o600)
    expect(toHex((await vol.stat('/a')).key)).toBe(aKey)
    const listed = await collect(vol.readdir('/a'))
    expect(listed.map((e) => [e.name, e.ino, e.nlink, e.size])).toEqual([['f', before.ino, 3, 7], ['h', before.ino, 3, 7]])

    await vol.unlink('/a/f')
    expect((await vol.stat('/b/g')).nlink).toBe(2)
    await vol.rename('/b/g', '/a/h') // onto another name of the same inode: nothing happens
    expect((await vol.stat('/b/g')).nlink).toBe(2)
    await vol.unlink('/b/g')
    expect(await vol.stat('/a/h')).toMatchObject({ ino: before.ino, nlink: 1, size: 7 })
    await vol.unlink('/a/h')
    expect(await code(vol.stat('/a/h'))).toBe('ENTRY_NOT_FOUND')
  })

  it('link refuses directories, existing names and missing sources', async () => {
    const { vol } = await fresh()
    await vol.mkdir('/d')
    await vol.create('/f')
    expect(await code(vol.link('/d', '/e'))).toBe('NOT_SUPPORTED') // EPERM
    expect(await code(vol.link('/f', '/d'))).toBe('ENTRY_EXISTS')
    expect(await code(vol.link('/nope', '/g'))).toBe('ENTRY_NOT_FOUND')
    expect(await code(vol.link('/f', '/nope/g'))).toBe('ENTRY_NOT_FOUND')
    expect(await code(vol.link('/f', '/f/g'))).toBe('NOT_A_DIRECTORY')
    expect((await vol.stat('/f')).nlink).toBe(1)
  })

  it('a rename over a hard link drops one name of the replaced inode; symbolic links and special files link too', async () => {
    const { vol } = await fresh()
    await vol.create('/x')
    await vol.link('/x', '/y')
    await vol.create('/z')
    await vol.rename('/z', '/y')
    expect((await vol.stat('/x')).nlink).toBe(1)
    await vol.symlink('target', '/s')
    await vol.link('/s', '/s2')
    expect(await vol.readlink('/s2')).toBe('target')
    await vol.mknod('/p', 'fifo', { mode: 0o600 })
    await vol.link('/p', '/p2')
    expect(await vol.stat('/p2')).toMatchObject({ type: 'fifo', nlink: 2, mode: 0o600 })
  })

  it('published versions and readers see hard links; old versions keep their link counts', async () => {
    const { vol } = await fresh()
    await vol.create('/f')
    await vol.write('/f', 0, text('v1'))
    await vol.link('/f', '/g')
    const v1 = await vol.publishOnce()
    await vol.unlink('/g')
    await vol.write('/f', 0, text('v2'))
    await vol.publishOnce()
    const old = await vol.snapshot(v1?.seq)
    expect(await old.stat('/g')).toMatchObject({ nlink: 2 })
    expect(str(await old.read('/g', 0, 10))).toBe('v1')
    const now = await vol.snapshot()
    expect(await code(now.stat('/g'))).toBe('ENTRY_NOT_FOUND')
    expect(str(await now.read('/f', 0, 10))).toBe('v2')
  })

  it('rename with noreplace refuses an existing name; exchange swaps two entries, moving link counts with directories', async () => {
    const { vol } = await fresh()
    await vol.mkdir('/a')
    await vol.mkdir('/a/sub')
    await vol.mkdir('/b')
    await vol.create('/b/f')
    await vol.write('/b/f', 0, text('file'))
    expect(await code(vol.rename('/b/f', '/a/sub', { mode: 'noreplace' }))).toBe('ENTRY_EXISTS')
    const sub = await vol.stat('/a/sub')
    await vol.rename('/a/sub', '/b/f', { mode: 'exchange' })
    expect(await vol.stat('/b/f')).toMatchObject({ type: 'dir', ino: sub.ino })
    expect(str(await vol.read('/a/sub', 0, 10))).toBe('file')
    expect((await vol.stat('/a')).nlink).toBe(2)
    expect((await vol.stat('/b')).nlink).toBe(3)
    expect((await vol.stat('/b/f')).ctimeNs).toBeGreaterThan(sub.ctimeNs)
    expect(await code(vol.rename('/b', '/b/f', { mode: 'exchange' }))).toBe('INVALID_NAME') // one inside the other
    expect(await code(vol.rename('/a/sub', '/nope', { mode: 'exchange' }))).toBe('ENTRY_NOT_FOUND')
  })

  it('directories count their subdirectories; the top is inode 1', async () => {
    const { vol } = await fresh()
    expect(await vol.stat('/')).toMatchObject({ ino: 1, nlink: 2, uid: 1000, gid: 100 })
    await vol.mkdir('/a')
    await vol.mkdir('/a/b')
    await vol.mkdir('/c')
    await vol.create('/a/file')
    expect((await vol.stat('/')).nlink).toBe(4)
    expect((await vol.stat('/a')).nlink).toBe(3)
    await vol.rename('/a/b', '/c/b')
    expect((await vol.stat('/a')).nlink).toBe(2)
    expect((await vol.stat('/c')).nlink).toBe(3)
    await vol.rmdir('/c/b')
    expect((await vol.stat('/c')).nlink).toBe(2)
    const inos = new Set(await Promise.all(['/', '/a', '/c', '/a/file'].map(async (p) => (await vol.stat(p)).ino)))
    expect(inos.size).toBe(4)
  })

  it('ctime moves on every change to an inode, and only then', async () => {
    const { vol } = await fresh()
    await vol.create('/f')
    let last = await vol.stat('/f')
    const moved = async (what: string, change: () => Promise<unknown>, expected: boolean): Promise<void> => {
      await change()
      const now = await vol.stat('/f')
      expect(now.ctimeNs > last.ctimeNs, what).toBe(expected)
      last = now
    }
    await moved('chmod', async () => vol.chmod('/f', 0o600), true)
    await moved('chown', async () => vol.chown('/f', 5, undefined), true)
    await moved('setxattr', async () => vol.setxattr('/f', 'user.a', text('1')), true)
    await moved('removexattr', async () => vol.removexattr('/f', 'user.a'), true)
    await moved('utimens', async () => vol.setTimes('/f', { atimeNs: 5n }), true)
    await moved('utimens, both omitted', async () => vol.setTimes('/f', {}), false)
    await moved('write', async () => vol.write('/f', 0, text('x')), true)
    await moved('truncate to the same size', async () => vol.truncate('/f', 1), false)
    await moved('truncate', async () => vol.truncate('/f', 0), true)
    await moved('read', async () => vol.read('/f', 0, 1), false)
    await moved('link', async () => vol.link('/f', '/g'), true)
    await moved('unlink of the other name', async () => vol.unlink('/g'), true)
    await vol.rename('/f', '/h')
    expect((await vol.stat('/h')).ctimeNs).toBeGreaterThan(last.ctimeNs)
    expect((await vol.stat('/h')).atimeNs).toBe(5n) // noatime: reads never change it
  })

  it('owners: given at creation, changed one at a time; setgid directories pass on their group', async () => {
    const { vol } = await fresh()
    await vol.create('/mine')
    await vol.create('/theirs', { owner: { uid: 7, gid: 8 } })
    expect(await vol.stat('/mine')).toMatchObject({ uid: 1000, gid: 100 })
    expect(await vol.stat('/theirs')).toMatchObject({ uid: 7, gid: 8 })
    await vol.chown('/theirs', undefined, 9)
    expect(await vol.stat('/theirs')).toMatchObject({ uid: 7, gid: 9 })
    await vol.mkdir('/shared', { mode: 0o2775 })
    await vol.chown('/shared', 0, 50)
    await vol.create('/shared/f', { owner: { uid: 7, gid: 8 } })
    await vol.mkdir('/shared/sub', { mode: 0o755, owner: { uid: 7, gid: 8 } })
    expect(await vol.stat('/shared/f')).toMatchObject({ uid: 7, gid: 50, mode: 0o644 })
    expect(await vol.stat('/shared/sub')).toMatchObject({ uid: 7, gid: 50, mode: 0o2755 })
    await expect(vol.chown('/mine', -1, undefined)).rejects.toThrow(RangeError)
  })

  it('special files: fifos, sockets and devices keep their type, mode and device number', async () => {
    const { vol } = await fresh()
    await vol.mknod('/fifo', 'fifo', { mode: 0o620 })
    await vol.mknod('/sock', 'socket', { mode: 0o755 })
    await vol.mknod('/null', 'chardev', { mode: 0o666, rdev: (1 << 8) | 3 })
    await vol.mknod('/disk', 'blockdev', { mode: 0o660, rdev: (8 << 8) | 1 })
    expect(await vol.stat('/fifo')).toMatchObject({ type: 'fifo', mode: 0o620, size: 0, rdev: 0 })
    expect(await vol.stat('/sock')).toMatchObject({ type: 'socket', mode: 0o755 })
    expect(await vol.stat('/null')).toMatchObject({ type: 'chardev', rdev: 0x103 })
    expect(await vol.stat('/disk')).toMatchObject({ type: 'blockdev', rdev: 0x801 })
    expect(await code(vol.read('/fifo', 0, 1))).toBe('NOT_SUPPORTED')
    expect(await code(vol.mknod('/fifo', 'fifo'))).toBe('ENTRY_EXISTS')
    const types = (await collect(vol.readdir('/'))).map((e) => e.type)
    expect(types.sort()).toEqual(['blockdev', 'chardev', 'fifo', 'socket'])
  })

  it('extended attributes: set, replace, list, remove, with Linux\'s errors and limits', async () => {
    const { vol } = await fresh()
    await vol.create('/f')
    await vol.setxattr('/f', 'user.b', text('2'))
    await vol.setxattr('/f', 'user.a', new Uint8Array(0))
    expect(await vol.listxattr('/f')).toEqual(['user.a', 'user.b'])
    expect(await vol.getxattr('/f', 'user.b')).toEqual(text('2'))
    expect(await vol.getxattr('/f', 'user.a')).toEqual(new Uint8Array(0))
    expect(await vol.getxattr('/f', 'user.c')).toBeUndefined() // ENODATA
    expect(await code(vol.setxattr('/f', 'user.b', text('x'), 'create'))).toBe('ATTRIBUTE_EXISTS') // EEXIST
    expect(await code(vol.setxattr('/f', 'user.c', text('x'), 'replace'))).toBe('ATTRIBUTE_NOT_FOUND') // ENODATA
    await vol.setxattr('/f', 'user.b', text('3'), 'replace')
    expect(await vol.getxattr('/f', 'user.b')).toEqual(text('3'))
    expect(await code(vol.setxattr('/f', 'user.big', new Uint8Array(64 * 1024 + 1)))).toBe('ATTRIBUTE_TOO_LARGE') // E2BIG
    for (let i = 0; i < 3; i++) await vol.setxattr('/f', `user.v${i}`, new Uint8Array(64 * 1024))
    expect(await code(vol.setxattr('/f', 'user.v3', new Uint8Array(64 * 1024)))).toBe('ATTRIBUTE_TOO_LARGE') // ENOSPC: all together
    await vol.removexattr('/f', 'user.a')
    expect(await code(vol.removexattr('/f', 'user.a'))).toBe('ATTRIBUTE_NOT_FOUND')
    expect(await vol.listxattr('/f')).toEqual(['user.b', 'user.v0', 'user.v1', 'user.v2'])
    await vol.mkdir('/d')
    await vol.setxattr('/d', 'user.dir', text('ok'))
    expect(await vol.listxattr('/d')).toEqual(['user.dir'])
    // Through a hard link, on the shared inode.
    await vol.link('/f', '/g')
    await vol.setxattr('/g', 'user.linked', text('y'))
    expect(await vol.listxattr('/f')).toContain('user.linked')
  })

  it('times to the nanosecond, before 1970 and after 2038, survive publication', async () => {
    const { vol } = await fresh()
    await vol.create('/f')
    const past = -1_234_567_890_123_456_789n
    const future = 4_102_444_800_987_654_321n // 2100
    await vol.setTimes('/f', { atimeNs: past, mtimeNs: future })
    await vol.publishOnce()
    const published = await vol.snapshot(vol.stats.seq)
    expect(await published.stat('/f')).toMatchObject({ atimeNs: past, mtimeNs: future })
    await vol.setTimes('/f', { mtimeNs: 1n })
    expect(await vol.stat('/f')).toMatchObject({ atimeNs: past, mtimeNs: 1n })
  })
})

describe('a volume of file-tree format 1', () => {
  it('is refused at start with a message that says what to do, and nothing is written to it', async () => {
    const owner = newOwner()
    const blocks = new MemoryBlockService()
    // What cfs 0.1 published: a format 1 root record naming a format 1 top directory.
    const top = encodeCbor({ v: 1, t: 'inode', type: 2, mode: 0o755, size: 0, mtime: 1, ctime: 1, entries: null })
    await blocks.put(CONTENT_BLOCK, hashKey(top), top)
    const record = encodeCbor({ v: 1, t: 'root', seq: 1, time: 1, top: hashKey(top), prev: null })
    await blocks.put(CONTENT_BLOCK, hashKey(record), record)
    const rootKey = owner.verifier.rootKey(owner.signer.publicKey)
    await blocks.put(ROOT_BLOCK, rootKey, owner.signer.sign(1, record), { expectSeq: 0 })
    const vol = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
    const err = await vol.start().then(() => undefined, (e: unknown) => e)
    expect(err).toBeInstanceOf(UnsupportedFormatError)
    expect((err as Error).message).toMatch(/format 1.*cfs get/)
    const root = await blocks.get(ROOT_BLOCK, rootKey)
    expect(owner.verifier.decodeRoot(rootKey, root).seq).toBe(1) // untouched
  })
})
