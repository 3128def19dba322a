import { describe, expect, it } from 'vitest'
import type Fuse from 'fuse-napi'
import { Reader, Volume } from '../../../src/fs/index.js'
import { CfsFuse, Errno, LatestView, UTIME_NOW, UTIME_OMIT, type CfsFuseComponents, type CfsFuseInit, type CfsOperations } from '../../../src/fuse/index.js'
import { MemoryBlockService, newOwner } from '../../helpers/memory-block-service.js'

const O_RDONLY = 0
const O_WRONLY = 1
const O_RDWR = 2
const S_IFREG = 0o100000
const S_IFIFO = 0o010000
const S_IFCHR = 0o020000
const O_TRUNC = 0o1000

/** A time as utimensat gives it: seconds and nanoseconds (or UTIME_NOW / UTIME_OMIT). */
const ts = (seconds: number, nanoseconds = 0): Fuse.Timespec => ({ seconds, nanoseconds })

type Ops = CfsOperations
type Args<K extends keyof Ops> = Parameters<Ops[K]> extends [...infer A, unknown] ? A : never

/** Calls one operation and resolves with what it answered: [code, value]. */
async function call<K extends keyof Ops> (fuse: CfsFuse, op: K, ...args: Args<K>): Promise<[number, unknown]> {
  return new Promise((resolve) => {
    const fn = fuse.ops[op] as (...a: unknown[]) => void
    let answers = 0
    fn(...args, (code: unknown, value?: unknown) => {
      answers++
      expect(answers, `${op} answered twice`).toBe(1)
      expect(typeof code, `${op} answered with a non-number`).toBe('number')
      // open and create answer {fd, keepCache} where the kernel may keep pages: the handle is what the tests use.
      const fd = typeof value === 'object' && value !== null && 'fd' in value ? value.fd : value
      resolve([code as number, fd])
    })
  })
}

async function code<K extends keyof Ops> (fuse: CfsFuse, op: K, ...args: Args<K>): Promise<number> {
  return (await call(fuse, op, ...args))[0]
}

async function owned (init: CfsFuseInit = {}): Promise<{ fuse: CfsFuse, volume: Volume, blocks: MemoryBlockService, owner: ReturnType<typeof newOwner> }> {
  const blocks = new MemoryBlockService()
  const owner = newOwner()
  const volume = new Volume({ blocks, signer: owner.signer, verifier: owner.verifier }, { publishIntervalMs: 0 })
  await volume.start()
  const components: CfsFuseComponents = { fs: volume, sync: async (o) => { await volume.sync(o) }, versions: volume }
  return { fuse: new CfsFuse(components, { owner: { uid: 1000, gid: 100 }, ...init }), volume, blocks, owner }
}

async function writeFile (fuse: CfsFuse, path: string, text: string): Promise<void> {
  const [c, fd] = await call(fuse, 'create', path, 0o644)
  expect(c).toBe(0)
  const buf = Buffer.from(text)
  expect(await code(fuse, 'write', path, fd as number, buf, buf.length, 0)).toBe(buf.length)
  expect(await code(fuse, 'fsync', path, false, fd as number)).toBe(0) // published
  expect(await code(fuse, 'flush', path, fd as number)).toBe(0)
  expect(await code(fuse, 'release', path, fd as number)).toBe(0)
}

async function readFile (fuse: CfsFuse, path: string): Promise<string> {
  const [c, fd] = await call(fuse, 'open', path, O_RDONLY)
  expect(c).toBe(0)
  const [r, bytes] = await call(fuse, 'readBuffer', path, fd as number, 4096, 0)
  expect(r).toBe(0)
  await code(fuse, 'release', path, fd as number)
  return (bytes as Buffer).toString()
}

describe('CfsFuse operations', () => {
  it('creates, writes, reads and lists; attributes carry type bits and the mount owner', async () => {
    const { fuse } = await owned()
    expect(await code(fuse, 'mkdir', '/docs', 0o40755)).toBe(0)
    await writeFile(fuse, '/docs/a.txt', 'hello')
    expect(await readFile(fuse, '/docs/a.txt')).toBe('hello')
    const [c, st] = await call(fuse, 'getattr', '/docs/a.txt')
    expect(c).toBe(0)
    expect(st).toMatchObject({ mode: S_IFREG | 0o644, size: 5, uid: 1000, gid: 100, nlink: 1 })
    const [, dir] = await call(fuse, 'getattr', '/docs')
    expect((dir as Fuse.Stats).mode).toBe(0o040755)
    expect((await call(fuse, 'readdir', '/docs'))[1]).toEqual(['.', '..', 'a.txt'])
    expect((await call(fuse, 'readdir', '/'))[1]).toEqual(['.', '..', 'docs', '.snapshots'])
    expect(await code(fuse, 'getattr', '/nope')).toBe(Errno.ENOENT)
    expect(await code(fuse, 'mkdir', '/docs', 0o755)).toBe(Errno.EEXIST)
    expect(await code(fuse, 'rmdir', '/docs')).toBe(Errno.ENOTEMPTY)
    expect(await code(fuse, 'unlink', '/docs')).toBe(Errno.EISDIR)
    expect(await code(fuse, 'readdir', '/docs/a.txt')).toBe(Errno.ENOTDIR)
    expect(await code(fuse, 'mkdir', `/${'n'.repeat(256)}`, 0o755)).toBe(Errno.ENAMETOOLONG)
  })

  it('publishes on fsync, fdatasync and fsyncdir; close hands the writes to the volume and leaves publishing to its timer', async () => {
    const { fuse, volume } = await owned()
    const [, fd] = await call(fuse, 'create', '/f', 0o600)
    const data = Buffer.from('abc')
    await code(fuse, 'write', '/f', fd as number, data, 3, 0)
    expect((await volume.stat('/f')).size).toBe(0) // gathered in the mount
    expect(await code(fuse, 'flush', '/f', fd as number)).toBe(0)
    expect((await volume.stat('/f')).size).toBe(3) // in the volume's tree, not yet published
    expect(volume.stats).toMatchObject({ seq: 0, dirty: true })
    expect(await code(fuse, 'fsync', '/f', false, fd as number)).toBe(0)
    expect(volume.stats).toMatchObject({ seq: 1, dirty: false })
    await code(fuse, 'write', '/f', fd as number, data, 3, 3)
    expect(await code(fuse, 'fsync', '/f', true, fd as number)).toBe(0) // fdatasync
    expect(volume.stats.seq).toBe(2)
    expect(await code(fuse, 'mkdir', '/d', 0o755)).toBe(0)
    expect(await code(fuse, 'fsyncdir', '/', false, 0)).toBe(0)
    expect(volume.stats).toMatchObject({ seq: 3, dirty: false })
    expect(await code(fuse, 'release', '/f', fd as number)).toBe(0)
    expect(fuse.stats.openFiles).toBe(0)
  })

  it('with syncOnClose, close of a written file publishes, and close of an unwritten one does not', async () => {
    const { fuse, volume } = await owned({ syncOnClose: true })
    const [, fd] = await call(fuse, 'create', '/f', 0o600)
    expect(await code(fuse, 'flush', '/f', fd as number)).toBe(0)
    expect(volume.stats.seq).toBe(0) // created, nothing written: the publish timer takes it
    await code(fuse, 'write', '/f', fd as number, Buffer.from('abc'), 3, 0)
    expect(await code(fuse, 'flush', '/f', fd as number)).toBe(0)
    expect(volume.stats).toMatchObject({ seq: 1, dirty: false })
    expect(await code(fuse, 'release', '/f', fd as number)).toBe(0)
  })

  it('concurrent fsyncs share publications (group commit), and each sees its own write published', async () => {
    const { fuse, volume } = await owned()
    const fds = await Promise.all(Array.from({ length: 20 }, async (_, i) => (await call(fuse, 'create', `/f${i}`, 0o644))[1] as number))
    await Promise.all(fds.map(async (fd, i) => {
      const b = Buffer.from(`file ${i}`)
      expect(await code(fuse, 'write', `/f${i}`, fd, b, b.length, 0)).toBe(b.length)
      expect(await code(fuse, 'fsync', `/f${i}`, false, fd)).toBe(0)
      // Published: the current version names this file with its bytes.
      const published = await volume.snapshot(volume.stats.seq)
      expect((await published.stat(`/f${i}`)).size).toBe(b.length)
    }))
    expect(volume.stats.publishes).toBeGreaterThanOrEqual(1)
    expect(volume.stats.publishes).toBeLessThanOrEqual(3) // one in flight, one queued behind it (and a first one)
    for (const [i, fd] of fds.entries()) await code(fuse, 'release', `/f${i}`, fd)
  })

  it('keeps no view of the write buffer: the binding may reuse or detach it after the answer', async () => {
    const { fuse } = await owned()
    const [, fd] = await call(fuse, 'create', '/f', 0o644)
    const buf = Buffer.alloc(8, 'a')
    await code(fuse, 'write', '/f', fd as number, buf, 8, 0)
    buf.fill('z')
    await code(fuse, 'flush', '/f', fd as number)
    await code(fuse, 'release', '/f', fd as number)
    expect(await readFile(fuse, '/f')).toBe('aaaaaaaa')
  })

  it('writes the gathered bytes of a file and the times utimens sets as one change; the file at the path, not an unlinked one', async () => {
    const { fuse, volume } = await owned()
    let setTimes = 0
    const plain = volume.setTimes.bind(volume)
    volume.setTimes = async (...args) => { setTimes++; return plain(...args) }
    const [, fd] = await call(fuse, 'create', '/f', 0o644)
    await code(fuse, 'write', '/f', fd as number, Buffer.from('gathered'), 8, 0)
    expect((await volume.stat('/f')).size).toBe(0)
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(1_000), ts(2_000, 5))).toBe(0) // as cp -a does after the last write
    expect(setTimes).toBe(0)
    expect(await volume.stat('/f')).toMatchObject({ size: 8, atimeNs: 1_000n * 1_000_000_000n, mtimeNs: 2_000n * 1_000_000_000n + 5n })
    expect(await readFile(fuse, '/f')).toBe('gathered')
    // Without gathered bytes: an ordinary setTimes.
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(3_000), ts(4_000))).toBe(0)
    expect(setTimes).toBe(1)
    // An open file replaced by a rename, written to after: utimens of the path is the new file's.
    await writeFile(fuse, '/g', 'new')
    expect(await code(fuse, 'renameWithFlags', '/g', '/f', 0)).toBe(0)
    await code(fuse, 'write', '/f', fd as number, Buffer.from('more'), 4, 8) // gathered for the unlinked file
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(5_000), ts(6_000))).toBe(0)
    expect(setTimes).toBe(2)
    expect(await volume.stat('/f')).toMatchObject({ size: 3, mtimeNs: 6_000n * 1_000_000_000n })
    expect(await code(fuse, 'release', '/f', fd as number)).toBe(0)
    expect(await readFile(fuse, '/f')).toBe('new')
  })

  it('gathers sequential writes, and writes them out before anything reads or changes the file', async () => {
    const { fuse, volume } = await owned({ coalesceBytes: 512 * 1024 })
    const piece = (i: number): Buffer => Buffer.alloc(128 * 1024, i)
    const [, fd] = await call(fuse, 'create', '/f', 0o644)
    for (let i = 0; i < 3; i++) expect(await code(fuse, 'write', '/f', fd as number, piece(i), piece(i).length, i * 128 * 1024)).toBe(128 * 1024)
    expect((await volume.stat('/f')).size).toBe(0) // gathered, not yet written
    expect(((await call(fuse, 'getattr', '/f'))[1] as Fuse.Stats).size).toBe(3 * 128 * 1024)
    expect((await volume.stat('/f')).size).toBe(3 * 128 * 1024)
    // Four pieces fill the buffer: written at once. A write elsewhere writes out what was gathered.
    for (let i = 3; i < 7; i++) await code(fuse, 'write', '/f', fd as number, piece(i), piece(i).length, i * 128 * 1024)
    expect((await volume.stat('/f')).size).toBe(7 * 128 * 1024)
    await code(fuse, 'write', '/f', fd as number, Buffer.from('head'), 4, 0)
    await code(fuse, 'write', '/f', fd as number, Buffer.from('tail'), 4, 7 * 128 * 1024)
    const [, other] = await call(fuse, 'open', '/f', O_RDONLY)
    const read = async (length: number, at: number): Promise<Buffer> => (await call(fuse, 'readBuffer', '/f', other as number, length, at))[1] as Buffer
    expect((await read(4, 7 * 128 * 1024)).toString()).toBe('tail')
    expect([...await read(8, 0)]).toEqual([...Buffer.from('head'), 0, 0, 0, 0])
    expect([...await read(1, 5 * 128 * 1024 + 7)]).toEqual([5])
    expect((await read(64, 7 * 128 * 1024)).length).toBe(4) // short at the end of the file
    // utimens after the last write (cp -a, tar): the time set stays.
    await code(fuse, 'write', '/f', fd as number, Buffer.from('more'), 4, 7 * 128 * 1024 + 4)
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(1_000_000_000), ts(1_000_000_000))).toBe(0)
    expect(await code(fuse, 'fsync', '/f', false, fd as number)).toBe(0)
    expect((await volume.stat('/f')).mtimeNs).toBe(1_000_000_000n * 1_000_000_000n)
    expect(volume.stats.dirty).toBe(false)
    await code(fuse, 'release', '/f', fd as number)
    await code(fuse, 'release', '/f', other as number)
    expect((await volume.stat('/f')).size).toBe(7 * 128 * 1024 + 8)
  })

  it('a stat or close that starts while another one writes a file\'s gathered bytes out waits for them', async () => {
    const { fuse, volume } = await owned()
    // The volume takes a while over each write (as with the owner's journal on disk).
    const write = volume.write.bind(volume)
    volume.write = async (...args: Parameters<Volume['write']>) => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      return write(...args)
    }
    const [, a] = await call(fuse, 'create', '/a', 0o644)
    const [, b] = await call(fuse, 'create', '/b', 0o644)
    await code(fuse, 'write', '/a', a as number, Buffer.from('aaaa'), 4, 0)
    await code(fuse, 'write', '/b', b as number, Buffer.from('bb'), 2, 0)
    // close of b drains every file, a too; a stat of a from another process arrives meanwhile.
    const closing = code(fuse, 'flush', '/b', b as number)
    await new Promise((resolve) => setTimeout(resolve, 10)) // the write-outs have begun
    const [, st] = await call(fuse, 'getattr', '/a')
    expect((st as Fuse.Stats).size).toBe(4)
    expect(await closing).toBe(0)
    // And a close that starts while a stat writes the file out returns only once it is written.
    await code(fuse, 'write', '/a', a as number, Buffer.from('AA'), 2, 4)
    const stat = call(fuse, 'getattr', '/b')
    await new Promise((resolve) => setTimeout(resolve, 10))
    expect(await code(fuse, 'flush', '/a', a as number)).toBe(0)
    expect((await volume.stat('/a')).size).toBe(6)
    await stat
  })

  it('renames over files and across directories, and follows an open file through a rename', async () => {
    const { fuse } = await owned()
    await code(fuse, 'mkdir', '/a', 0o755)
    await code(fuse, 'mkdir', '/b', 0o755)
    await writeFile(fuse, '/a/x', 'x')
    await writeFile(fuse, '/b/y', 'y')
    const [, fd] = await call(fuse, 'open', '/a/x', O_RDWR)
    expect(await code(fuse, 'renameWithFlags', '/a/x', '/b/y', 0)).toBe(0)
    expect(await readFile(fuse, '/b/y')).toBe('x')
    const buf = Buffer.from('X')
    expect(await code(fuse, 'write', '/b/y', fd as number, buf, 1, 0)).toBe(1)
    await code(fuse, 'release', '/b/y', fd as number)
    expect(await readFile(fuse, '/b/y')).toBe('X')
    expect(await code(fuse, 'getattr', '/a/x')).toBe(Errno.ENOENT)
    expect(await code(fuse, 'renameWithFlags', '/a', '/b', 0)).toBe(Errno.ENOTEMPTY)
    expect(await code(fuse, 'renameWithFlags', '/b', '/b/inside', 0)).toBe(Errno.EINVAL)
  })

  it('truncates by path and by handle; symbolic links; chmod; chown is accepted', async () => {
    const { fuse } = await owned()
    await writeFile(fuse, '/f', 'hello world')
    expect(await code(fuse, 'truncate', '/f', 5)).toBe(0)
    expect(await readFile(fuse, '/f')).toBe('hello')
    const [, fd] = await call(fuse, 'open', '/f', O_WRONLY)
    expect(await code(fuse, 'ftruncate', '/f', fd as number, 2)).toBe(0)
    await code(fuse, 'release', '/f', fd as number)
    expect(await readFile(fuse, '/f')).toBe('he')
    expect(await code(fuse, 'symlink', 'f', '/l')).toBe(0)
    expect(await call(fuse, 'readlink', '/l')).toEqual([0, 'f'])
    expect(((await call(fuse, 'getattr', '/l'))[1] as Fuse.Stats).mode).toBe(0o120777)
    expect(await code(fuse, 'chmod', '/f', 0o100600)).toBe(0)
    expect(((await call(fuse, 'getattr', '/f'))[1] as Fuse.Stats).mode).toBe(S_IFREG | 0o600)
    expect(await code(fuse, 'chown', '/f', 0, 0)).toBe(0)
    expect(await code(fuse, 'chown', '/nope', 0, 0)).toBe(Errno.ENOENT)
  })

  it('links, special files, owners from the caller, and extended attributes', async () => {
    const { fuse, volume } = await owned({ owner: { uid: 1, gid: 2 } })
    const stat = async (p: string): Promise<Fuse.Stats> => (await call(fuse, 'getattr', p))[1] as Fuse.Stats
    await writeFile(fuse, '/f', 'x')
    expect(await stat('/f')).toMatchObject({ uid: 1, gid: 2, nlink: 1 }) // no kernel: the owner given
    expect(await code(fuse, 'link', '/f', '/g')).toBe(0)
    expect(await stat('/g')).toMatchObject({ nlink: 2, ino: (await stat('/f')).ino })
    expect(await code(fuse, 'link', '/', '/d')).toBe(Errno.EPERM)
    // As mount.ts attaches fuse-napi's context(): the binding knows the caller only while it
    // calls the handler, not after the handler's first await.
    let dispatching: { uid: number, gid: number } | null = null
    fuse.attach({ caller: () => dispatching, invalidate: async () => {}, forgetCapabilities: () => {}, keepCache: false })
    const asCaller = async <K extends keyof Ops>(f: CfsFuse, op: K, ...args: Args<K>): Promise<number> => {
      dispatching = { uid: 500, gid: 600 }
      const answered = code(f, op, ...args)
      dispatching = null
      return answered
    }
    expect(await asCaller(fuse, 'mknod', '/fifo', S_IFIFO | 0o640, 0)).toBe(0)
    expect(await asCaller(fuse, 'mknod', '/null', S_IFCHR | 0o666, 0x103)).toBe(0)
    expect(await asCaller(fuse, 'mknod', '/reg', S_IFREG | 0o644, 0)).toBe(0)
    expect(await asCaller(fuse, 'mkdir', '/dir', 0o755)).toBe(0)
    expect(await asCaller(fuse, 'symlink', 'f', '/sym')).toBe(0)
    expect((await call(fuse, 'create', '/made', 0o600))[0]).toBe(0) // no caller known: the owner given
    expect((await asCaller(fuse, 'create', '/theirs', 0o600))).toBe(0)
    expect(await stat('/fifo')).toMatchObject({ mode: S_IFIFO | 0o640, uid: 500, gid: 600 })
    expect(await volume.stat('/dir')).toMatchObject({ uid: 500, gid: 600 })
    expect(await volume.stat('/sym')).toMatchObject({ uid: 500, gid: 600 })
    expect(await volume.stat('/theirs')).toMatchObject({ uid: 500, gid: 600 })
    expect(await volume.stat('/made')).toMatchObject({ uid: 1, gid: 2 })
    // O_TRUNC by someone other than root drops setuid: decided after the open's awaits, by
    // the caller taken when the request came.
    await volume.chmod('/made', 0o4755)
    const [opened, fd] = await new Promise<[number, unknown]>((resolve) => {
      dispatching = { uid: 500, gid: 600 }
      void call(fuse, 'open', '/made', O_WRONLY | O_TRUNC).then(resolve)
      dispatching = null
    })
    expect(opened).toBe(0)
    expect(await code(fuse, 'release', '/made', fd as number)).toBe(0)
    expect((await volume.stat('/made')).mode & 0o7777).toBe(0o755)
    expect(await stat('/null')).toMatchObject({ mode: S_IFCHR | 0o666, rdev: 0x103 })
    expect(await stat('/reg')).toMatchObject({ mode: S_IFREG | 0o644, size: 0 })
    expect(await code(fuse, 'chown', '/reg', 0xffff_ffff, 7)).toBe(0) // -1: the uid stays
    expect(await volume.stat('/reg')).toMatchObject({ uid: 500, gid: 7 })
    expect(await code(fuse, 'setxattr', '/f', 'user.a', Buffer.from('v'), 0, 0)).toBe(0)
    expect(await call(fuse, 'getxattr', '/g', 'user.a', 0)).toEqual([0, Buffer.from('v')])
    expect(await call(fuse, 'listxattr', '/g')).toEqual([0, ['user.a']])
    expect(await code(fuse, 'setxattr', '/f', 'user.a', Buffer.from('w'), 0, 1)).toBe(Errno.EEXIST) // XATTR_CREATE
    expect(await code(fuse, 'setxattr', '/f', 'user.b', Buffer.from('w'), 0, 2)).toBe(Errno.ENODATA) // XATTR_REPLACE
    expect(await code(fuse, 'setxattr', '/f', 'system.posix_acl_access', Buffer.from('w'), 0, 0)).toBe(Errno.ENOTSUP)
    expect(await code(fuse, 'setxattr', '/f', 'user.big', Buffer.alloc(65 * 1024), 0, 0)).toBe(Errno.E2BIG)
    expect(await code(fuse, 'getxattr', '/f', 'user.none', 0)).toBe(Errno.ENODATA)
    expect(await code(fuse, 'removexattr', '/f', 'user.a')).toBe(0)
    expect(await code(fuse, 'removexattr', '/f', 'user.a')).toBe(Errno.ENODATA)
  })

  it('hands the binding the attributes after the operations libfuse follows with a getattr, and whether a file has no capability', async () => {
    const { fuse } = await owned()
    const forgot: string[] = []
    let op = ''
    fuse.attach({ caller: () => null, invalidate: async () => {}, forgetCapabilities: () => { forgot.push(op) }, keepCache: false })
    /** Calls an operation with a reply that takes primed attributes, as fuse-napi's (patched) does. */
    const primed = async <K extends keyof Ops>(name: K, ...args: Args<K>): Promise<Array<{ path: string, stat: Fuse.Stats, noCapability: boolean }>> => {
      op = name
      const got: Array<{ path: string, stat: Fuse.Stats, noCapability: boolean }> = []
      await new Promise<void>((resolve) => {
        const reply = Object.assign((c: number) => { expect(c, name).toBe(0); resolve() }, {
          primeAttributes: (path: string, stat: Fuse.Stats, noCapability: boolean) => { got.push({ path, stat, noCapability }) },
        })
        ;(fuse.ops[name] as (...a: unknown[]) => void)(...args, reply)
      })
      return got
    }
    const stat = async (p: string): Promise<Fuse.Stats> => (await call(fuse, 'getattr', p))[1] as Fuse.Stats
    const [created] = await primed('create', '/f', 0o640)
    expect(created).toEqual({ path: '/f', stat: await stat('/f'), noCapability: true })
    expect(created?.stat).toMatchObject({ mode: S_IFREG | 0o640, size: 0 })
    expect(await primed('chmod', '/f', 0o600)).toEqual([{ path: '/f', stat: await stat('/f'), noCapability: true }])
    expect(await primed('utimensWithTimespec', '/f', ts(5), ts(7))).toEqual([{ path: '/f', stat: await stat('/f'), noCapability: true }])
    expect(await primed('truncate', '/f', 3)).toEqual([{ path: '/f', stat: await stat('/f'), noCapability: true }])
    expect((await stat('/f')).size).toBe(3)
    expect((await primed('mkdir', '/d', 0o755))[0]).toMatchObject({ path: '/d', noCapability: false }) // only files are written to
    expect((await primed('symlink', 'f', '/s'))[0]).toMatchObject({ path: '/s', stat: await stat('/s') })
    expect(await primed('link', '/f', '/g')).toEqual([{ path: '/g', stat: await stat('/g'), noCapability: true }])
    expect((await stat('/g')).nlink).toBe(2)
    // A capability: the file says so, and every name the binding knew as without one is forgotten.
    expect(await primed('setxattr', '/g', 'security.capability', Buffer.from([1, 0, 0, 2]), 0, 0)).toEqual([])
    expect(await primed('chown', '/f', 0, 0)).toEqual([{ path: '/f', stat: await stat('/f'), noCapability: false }])
    expect(await primed('setxattr', '/g', 'user.x', Buffer.from('v'), 0, 0)).toEqual([])
    expect(await primed('renameWithFlags', '/g', '/h', 0)).toEqual([])
    op = 'invalidate'
    await fuse.invalidate(['/h'])
    // The link, the capability's setxattr, the rename, and a change from outside (invalidate).
    expect(forgot).toEqual(['link', 'setxattr', 'renameWithFlags', 'invalidate'])
  })

  it('sets times to the nanosecond; UTIME_OMIT leaves a time, UTIME_NOW is now', async () => {
    const { fuse, volume } = await owned()
    await writeFile(fuse, '/f', 'x')
    const mtime = async (): Promise<Fuse.Timespec> => ((await call(fuse, 'getattr', '/f'))[1] as Fuse.Stats).mtime as Fuse.Timespec
    const atimeNs = async (): Promise<bigint> => (await volume.stat('/f')).atimeNs
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(1_600_000_000), ts(981_173_106, 789_123_456))).toBe(0)
    expect(await mtime()).toEqual(ts(981_173_106, 789_123_456))
    expect(await atimeNs()).toBe(1_600_000_000n * 1_000_000_000n)
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(915_148_800), ts(0, UTIME_OMIT))).toBe(0) // touch -a -d 1999-01-01
    expect(await mtime()).toEqual(ts(981_173_106, 789_123_456))
    expect(await atimeNs()).toBe(915_148_800n * 1_000_000_000n)
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(0, UTIME_OMIT), ts(-1, 500_000_000))).toBe(0) // touch -m, before 1970
    expect(await mtime()).toEqual(ts(-1, 500_000_000))
    expect(await atimeNs()).toBe(915_148_800n * 1_000_000_000n)
    const before = Date.now()
    expect(await code(fuse, 'utimensWithTimespec', '/f', ts(0, UTIME_NOW), ts(0, UTIME_NOW))).toBe(0) // touch
    expect(Number((await mtime()).seconds)).toBeGreaterThanOrEqual(Math.floor(before / 1000))
    expect(await atimeNs()).toBeGreaterThanOrEqual(BigInt(before) * 1_000_000n)
  })

  it('truncates on an open with O_TRUNC (libfuse 3 asks for atomic_o_trunc), gathered writes first', async () => {
    const { fuse } = await owned()
    await writeFile(fuse, '/f', 'hello world')
    const [, w] = await call(fuse, 'open', '/f', O_WRONLY)
    await code(fuse, 'write', '/f', w as number, Buffer.from('HELLO WORLD, AGAIN'), 18, 0) // gathered
    const [c, fd] = await call(fuse, 'open', '/f', O_WRONLY | O_TRUNC)
    expect(c).toBe(0)
    expect(((await call(fuse, 'getattr', '/f'))[1] as Fuse.Stats).size).toBe(0)
    await code(fuse, 'write', '/f', fd as number, Buffer.from('new'), 3, 0)
    await code(fuse, 'release', '/f', fd as number)
    await code(fuse, 'release', '/f', w as number)
    expect(await readFile(fuse, '/f')).toBe('new')
    const [, r] = await call(fuse, 'open', '/f', O_RDONLY | O_TRUNC) // as on Linux: cut, though opened for reading
    await code(fuse, 'release', '/f', r as number)
    expect(await readFile(fuse, '/f')).toBe('')
  })

  it('renames with RENAME_NOREPLACE and RENAME_EXCHANGE; other flags are EINVAL', async () => {
    const { fuse } = await owned()
    await writeFile(fuse, '/a', 'a')
    await writeFile(fuse, '/b', 'b')
    expect(await code(fuse, 'renameWithFlags', '/a', '/b', 1)).toBe(Errno.EEXIST) // RENAME_NOREPLACE
    expect(await code(fuse, 'renameWithFlags', '/a', '/c', 1)).toBe(0)
    expect(await code(fuse, 'mkdir', '/d', 0o755)).toBe(0)
    expect(await code(fuse, 'renameWithFlags', '/c', '/d', 2)).toBe(0) // RENAME_EXCHANGE: a file and a directory swap
    expect(await readFile(fuse, '/d')).toBe('a')
    expect(((await call(fuse, 'getattr', '/c'))[1] as Fuse.Stats).mode! & 0o170000).toBe(0o040000)
    expect(await code(fuse, 'renameWithFlags', '/c', '/nope', 2)).toBe(Errno.ENOENT)
    expect(await code(fuse, 'renameWithFlags', '/b', '/d', 3)).toBe(Errno.EINVAL)
    expect(await code(fuse, 'renameWithFlags', '/b', '/d', 4)).toBe(Errno.EINVAL) // RENAME_WHITEOUT
  })

  it('asks the kernel for 1 MiB writes, or what it offers if less', async () => {
    const { fuse } = await owned()
    const connection = { maxWrite: 0xffff_ffff, protoMinor: 45 } as Fuse.ConnectionInfo
    expect(await call(fuse, 'initWithConfig', connection)).toEqual([0, { maxWrite: 1024 * 1024 }])
    expect(await call(fuse, 'initWithConfig', { ...connection, maxWrite: 65536 })).toEqual([0, { maxWrite: 65536 }])
  })

  it('shows the tree\'s inode numbers, and numbers of its own under /.snapshots', async () => {
    const { fuse, volume } = await owned()
    await code(fuse, 'mkdir', '/d', 0o755)
    await writeFile(fuse, '/d/f', 'x')
    const ino = async (path: string): Promise<Fuse.Uint64 | undefined> => ((await call(fuse, 'getattr', path))[1] as Fuse.Stats).ino
    expect(await ino('/')).toBe(1)
    expect(await ino('/d/f')).toBe((await volume.stat('/d/f')).ino)
    expect(await code(fuse, 'renameWithFlags', '/d/f', '/g', 0)).toBe(0)
    expect(await ino('/g')).toBe((await volume.stat('/g')).ino) // kept through a rename
    const seen = [await ino('/'), await ino('/d'), await ino('/g'), await ino('/.snapshots'), await ino('/.snapshots/1'), await ino('/.snapshots/1/d'), await ino('/.snapshots/1/d/f')]
    expect(new Set(seen).size).toBe(seen.length)
    expect(await ino('/.snapshots/1/d/f')).toBe(await ino('/.snapshots/1/d/f'))
  })

  it('reports space in 4 KiB fragments, 64-bit counts', async () => {
    const { fuse } = await owned()
    const [c, s] = await call(fuse, 'statfs', '/')
    expect(c).toBe(0)
    const st = s as Fuse.Statfs
    expect(st.blocks).toBeGreaterThan(0)
    expect(st.bavail).toBeGreaterThan(0)
    expect(st.namemax).toBe(255)
    const big = new CfsFuse({ fs: (await owned()).volume, space: async () => ({ totalBytes: 2 ** 55, freeBytes: 2 ** 54 }) })
    const huge = (await call(big, 'statfs', '/'))[1] as Fuse.Statfs
    expect(huge).toMatchObject({ frsize: 4096, blocks: 2 ** 43, bfree: 2 ** 42, bavail: 2 ** 42 })
  })

  it('never throws into the binding: a failing or throwing tree answers EIO, once', async () => {
    const { volume } = await owned()
    const broken = new Proxy(volume, {
      get (target, prop, receiver) {
        if (prop === 'stat') return () => { throw new Error('boom (sync)') }
        if (prop === 'mkdir') return async () => { throw new RangeError('boom (async)') }
        return Reflect.get(target, prop, receiver) as unknown
      },
    })
    const fuse = new CfsFuse({ fs: broken, sync: async () => {} })
    expect(await code(fuse, 'getattr', '/x')).toBe(Errno.EIO)
    expect(await code(fuse, 'mkdir', '/x', 0o755)).toBe(Errno.EIO)
    expect(await code(fuse, 'write', '/x', 99, Buffer.alloc(1), 1, 0)).toBe(Errno.EBADF)
    expect(await code(fuse, 'readBuffer', '/nope', 99, 1, 0)).toBe(Errno.ENOENT)
    expect(fuse.stats.errors).toBe(4)
  })

  it('a failed publication answers EIO on fsync (and on close with syncOnClose), and the next one tries again', async () => {
    const { volume } = await owned()
    let fail = true
    const sync = async (o?: { signal?: AbortSignal }): Promise<void> => { if (fail) throw new Error('ring down'); await volume.sync(o) }
    const flaky = new CfsFuse({ fs: volume, sync }, { syncOnClose: true })
    const [, fd] = await call(flaky, 'create', '/f', 0o644)
    await code(flaky, 'write', '/f', fd as number, Buffer.from('x'), 1, 0)
    expect(await code(flaky, 'fsync', '/f', false, fd as number)).toBe(Errno.EIO)
    expect(await code(flaky, 'flush', '/f', fd as number)).toBe(Errno.EIO)
    fail = false
    expect(await code(flaky, 'flush', '/f', fd as number)).toBe(0)
    expect(volume.stats.seq).toBe(1)
  })

  it('shows past versions read-only under /.snapshots, by number and by time', async () => {
    const { fuse, volume } = await owned()
    await writeFile(fuse, '/f', 'one') // version 1
    await code(fuse, 'truncate', '/f', 0)
    const [, fd] = await call(fuse, 'open', '/f', O_WRONLY)
    await code(fuse, 'write', '/f', fd as number, Buffer.from('two'), 3, 0)
    await code(fuse, 'fsync', '/f', false, fd as number) // version 2
    await code(fuse, 'release', '/f', fd as number)
    expect(volume.stats.seq).toBe(2)
    const [, names] = await call(fuse, 'readdir', '/.snapshots')
    const list = names as string[]
    expect(list.slice(0, 4)).toEqual(['.', '..', '2', '1'])
    const times = list.slice(4)
    expect(times.length).toBeGreaterThanOrEqual(1)
    expect(times[0]).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
    expect(await readFile(fuse, '/.snapshots/1/f')).toBe('one')
    expect(await readFile(fuse, '/.snapshots/2/f')).toBe('two')
    expect(await call(fuse, 'readlink', `/.snapshots/${times[0]}`)).toEqual([0, '2'])
    expect(((await call(fuse, 'getattr', '/.snapshots'))[1] as Fuse.Stats).mode).toBe(0o040555)
    expect(await code(fuse, 'unlink', '/.snapshots/1/f')).toBe(Errno.EROFS)
    expect(await code(fuse, 'open', '/.snapshots/1/f', O_WRONLY)).toBe(Errno.EROFS)
    expect(await code(fuse, 'mkdir', '/.snapshots/3', 0o755)).toBe(Errno.EROFS)
    expect(await code(fuse, 'getattr', '/.snapshots/9')).toBe(Errno.ENOENT)
  })

  it('a read-only mount by public key answers EROFS to every change and follows new versions', async () => {
    const { fuse: ownerFuse, blocks, owner, volume } = await owned()
    await writeFile(ownerFuse, '/f', 'v1')
    const reader = new Reader({ blocks, verifier: owner.verifier })
    const view = await LatestView.open({ reader, publicKey: owner.signer.publicKey }, { pollIntervalMs: 0 })
    const ro = new CfsFuse({ fs: view, versions: view })
    expect(ro.readOnly).toBe(true)
    expect(await readFile(ro, '/f')).toBe('v1')
    expect(await code(ro, 'create', '/g', 0o644)).toBe(Errno.EROFS)
    expect(await code(ro, 'open', '/f', O_WRONLY)).toBe(Errno.EROFS)
    expect(await code(ro, 'open', '/f', O_RDWR)).toBe(Errno.EROFS)
    for (const [op, args] of [
      ['mkdir', ['/d', 0o755]], ['rmdir', ['/d']], ['unlink', ['/f']], ['renameWithFlags', ['/f', '/g', 0]],
      ['symlink', ['f', '/l']], ['chmod', ['/f', 0o600]], ['chown', ['/f', 0, 0]], ['truncate', ['/f', 0]],
      ['utimensWithTimespec', ['/f', ts(1), ts(1)]], ['mknod', ['/n', S_IFREG | 0o644, 0]], ['link', ['/f', '/h']],
    ] as const) {
      expect(await code(ro, op, ...(args as unknown as Args<typeof op>)), op).toBe(Errno.EROFS)
    }
    await writeFile(ownerFuse, '/f', 'v2')
    expect(await readFile(ro, '/f')).toBe('v1')
    expect(await view.pollOnce()).toBe(true)
    expect(await readFile(ro, '/f')).toBe('v2')
    expect(await readFile(ro, '/.snapshots/1/f')).toBe('v1')
    void volume
  })
})
