import { describe, expect, it } from 'vitest'
import {
  AbortError, BlockInvalidError, DirectoryNotEmptyError, EntryExistsError, EntryNotFoundError, InvalidNameError,
  IsADirectoryError, NodeUnreachableError, NotADirectoryError, NotSupportedError, QuotaExceededError, ReadOnlyError,
  RootConflictError, StorageFullError, TimeoutError, type ErrorCode, type Logger,
} from '../../../src/core/index.js'
import { Errno, ErrnoError, toErrno } from '../../../src/fuse/index.js'

function recordingLogger (): Logger & { errors: string[] } {
  const errors: string[] = []
  const log = Object.assign(() => {}, {
    errors,
    error: (fmt: string, ...args: unknown[]) => { errors.push([fmt, ...args].join(' ')) },
    trace: () => {},
  })
  return log
}

describe('errno table', () => {
  it.each([
    [new EntryNotFoundError('x'), Errno.ENOENT, -2],
    [new EntryExistsError('x'), Errno.EEXIST, -17],
    [new NotADirectoryError('x'), Errno.ENOTDIR, -20],
    [new IsADirectoryError('x'), Errno.EISDIR, -21],
    [new DirectoryNotEmptyError('x'), Errno.ENOTEMPTY, -39],
    [new InvalidNameError('x'), Errno.EINVAL, -22],
    [new ReadOnlyError('x'), Errno.EROFS, -30],
    [new NotSupportedError('x'), Errno.EPERM, -1],
    [new StorageFullError('x'), Errno.ENOSPC, -28],
    [new QuotaExceededError('x'), Errno.EDQUOT, -122],
    [new RootConflictError('x'), Errno.EIO, -5],
    [new TimeoutError('x'), Errno.EIO, -5],
    [new NodeUnreachableError('x'), Errno.EIO, -5],
    [new AbortError('x'), Errno.EIO, -5],
    [new BlockInvalidError('x'), Errno.EIO, -5],
  ])('%s -> %i', (err, errno, linux) => {
    expect(toErrno(err)).toBe(errno)
    expect(errno).toBe(linux) // the Linux numbers, negated
  })

  it('says ENAMETOOLONG for an invalid name only when a name is too long', () => {
    const long = 'x'.repeat(256)
    expect(toErrno(new InvalidNameError('too long'), [`/a/${long}`])).toBe(Errno.ENAMETOOLONG)
    expect(toErrno(new InvalidNameError('too long'), ['/a', `/b/${'é'.repeat(128)}`])).toBe(Errno.ENAMETOOLONG) // 256 bytes of UTF-8
    expect(toErrno(new InvalidNameError('bad'), [`/a/${'x'.repeat(255)}`])).toBe(Errno.EINVAL)
  })

  it('answers EIO for anything that is not a CfsError, and logs it', () => {
    const log = recordingLogger()
    expect(toErrno(new TypeError('bug'), ['/p'], log)).toBe(Errno.EIO)
    expect(toErrno('a string', ['/p'], log)).toBe(Errno.EIO)
    expect(toErrno(undefined, [], log)).toBe(Errno.EIO)
    expect(log.errors).toHaveLength(3)
  })

  it('logs a conflict and unreachable peers, not ordinary answers', () => {
    const log = recordingLogger()
    toErrno(new EntryNotFoundError('x'), ['/p'], log)
    expect(log.errors).toEqual([])
    toErrno(new RootConflictError('another writer'), ['/p'], log)
    toErrno(new NodeUnreachableError('gone'), ['/p'], log)
    expect(log.errors).toHaveLength(2)
    expect(log.errors[0]).toContain('ROOT_CONFLICT')
  })

  it('passes an ErrnoError through', () => {
    expect(toErrno(new ErrnoError(Errno.EBADF, 'no such open file'))).toBe(-9)
  })

  it('maps every code it lists to a negative errno', async () => {
    const { ERRNO_BY_CODE } = await import('../../../src/fuse/index.js')
    for (const [code, errno] of Object.entries(ERRNO_BY_CODE) as Array<[ErrorCode, number]>) {
      expect(errno, code).toBeLessThan(0)
      expect(Number.isInteger(errno), code).toBe(true)
    }
  })
})

describe('trouble is logged once, not per operation', () => {
  it('a LOUD code is logged the first time and then not again within LOUD_REPEAT_MS; another code is logged on its own', () => {
    const log = recordingLogger()
    for (let i = 0; i < 50; i++) expect(toErrno(new NodeUnreachableError('the ring is away'), [`/f${i}`], log)).toBe(Errno.EIO)
    expect(log.errors).toHaveLength(1)
    expect(log.errors[0]).toMatch(/\/f0 .*the ring is away .*NODE_UNREACHABLE/)
    toErrno(new TimeoutError('deadline'), ['/g'], log)
    expect(log.errors).toHaveLength(2)
    // Another mount's logger has its own memory.
    const other = recordingLogger()
    toErrno(new NodeUnreachableError('the ring is away'), ['/h'], other)
    expect(other.errors).toHaveLength(1)
  })
})
