import { AttributeTooLargeError, LogThrottle, isCfsError, type ErrorCode, type Logger } from '../core/index.js'
import { MAX_NAME_BYTES } from '../fs/index.js'

/** Linux errno values, negated as FUSE wants them. */
export const Errno = {
  EPERM: -1,
  ENOENT: -2,
  EIO: -5,
  E2BIG: -7,
  EBADF: -9,
  EACCES: -13,
  EEXIST: -17,
  EXDEV: -18,
  ENOTDIR: -20,
  EISDIR: -21,
  EINVAL: -22,
  EFBIG: -27,
  ENOSPC: -28,
  EROFS: -30,
  ENAMETOOLONG: -36,
  ENOSYS: -38,
  ENOTEMPTY: -39,
  ENODATA: -61,
  ENOTSUP: -95,
  ETIMEDOUT: -110,
  EDQUOT: -122,
} as const

const NAMES = new Map<number, string>(Object.entries(Errno).map(([name, n]) => [n, name]))

/** The name of a negative errno ("ENOENT"), or its number for one not in `Errno`. */
export function errnoName (errno: number): string {
  return NAMES.get(errno) ?? String(-errno)
}

/**
 * The one table from error codes to errno values. Codes not listed are EIO. NOT_SUPPORTED is
 * EPERM: the tree refuses an operation on a kind of entry it has (reading a symbolic link as
 * a file), which is what EPERM means; unsupported kinds of operation (hard links, device
 * nodes, xattrs) are answered in cfs-fuse.ts and never reach the tree.
 */
export const ERRNO_BY_CODE: Readonly<Partial<Record<ErrorCode, number>>> = {
  ENTRY_NOT_FOUND: Errno.ENOENT,
  ENTRY_EXISTS: Errno.EEXIST,
  NOT_A_DIRECTORY: Errno.ENOTDIR,
  IS_A_DIRECTORY: Errno.EISDIR,
  DIRECTORY_NOT_EMPTY: Errno.ENOTEMPTY,
  INVALID_NAME: Errno.EINVAL,
  READ_ONLY: Errno.EROFS,
  NOT_SUPPORTED: Errno.EPERM,
  ATTRIBUTE_NOT_FOUND: Errno.ENODATA,
  ATTRIBUTE_EXISTS: Errno.EEXIST,
  ATTRIBUTE_TOO_LARGE: Errno.E2BIG,
  UNSUPPORTED_FORMAT: Errno.EIO,
  STORAGE_FULL: Errno.ENOSPC,
  QUOTA_EXCEEDED: Errno.EDQUOT,
  BLOCK_TOO_LARGE: Errno.EFBIG,
  ROOT_CONFLICT: Errno.EIO,
  TOO_FEW_REPLICAS: Errno.EIO,
  TIMEOUT: Errno.EIO,
  NODE_UNREACHABLE: Errno.EIO,
  ABORTED: Errno.EIO,
  JOURNAL_FAILED: Errno.EIO,
  FORBIDDEN: Errno.EACCES,
}

/** Codes that mean the volume or the ring is in trouble: logged, not just answered. */
const LOUD: ReadonlySet<ErrorCode> = new Set(['ROOT_CONFLICT', 'TOO_FEW_REPLICAS', 'TIMEOUT', 'NODE_UNREACHABLE', 'BLOCK_INVALID', 'BLOCK_NOT_FOUND', 'LOOKUP_FAILED', 'UNSUPPORTED_FORMAT', 'JOURNAL_FAILED', 'FORBIDDEN'])

/** A failure that is an errno and nothing else (EBADF for an unknown handle). */
export class ErrnoError extends Error {
  constructor (readonly errno: number, message: string) {
    super(message)
    this.name = 'ErrnoError'
  }
}

/** Whether some component of `path` is longer than a name may be. */
export function hasLongName (path: string): boolean {
  return path.split('/').some((name) => name.length > MAX_NAME_BYTES / 4 && Buffer.byteLength(name) > MAX_NAME_BYTES)
}

/**
 * A negative errno for any failure. An ErrnoError is its own errno. INVALID_NAME is ENAMETOOLONG when a name in one of the
 * paths is too long, EINVAL otherwise. Anything that is not a CfsError (a bug, a TypeError
 * from misuse) is EIO and always logged, as are the LOUD codes.
 */
export function toErrno (err: unknown, paths: readonly string[] = [], log?: Logger): number {
  if (err instanceof ErrnoError) return err.errno
  if (!isCfsError(err)) {
    log?.error('%s failed unexpectedly: %s', paths.join(' -> '), err instanceof Error ? (err.stack ?? err.message) : String(err))
    return Errno.EIO
  }
  if (err.code === 'INVALID_NAME' && paths.some(hasLongName)) return Errno.ENAMETOOLONG
  // All of an inode's extended attributes over their limit: no room, as ext4 says.
  if (err instanceof AttributeTooLargeError && err.total) return Errno.ENOSPC
  if (LOUD.has(err.code) && log !== undefined) logOnce(log, err.code, paths, err.message)
  return ERRNO_BY_CODE[err.code] ?? Errno.EIO
}

/**
 * A LOUD code is logged the first time, and then at most once per LOUD_REPEAT_MS with how many
 * more there were: a ring that cannot be reached fails every operation, and says why once.
 */
export const LOUD_REPEAT_MS = 30_000
const throttles = new WeakMap<Logger, LogThrottle>()

function logOnce (log: Logger, code: string, paths: readonly string[], message: string): void {
  let throttle = throttles.get(log)
  if (throttle === undefined) {
    throttle = new LogThrottle(LOUD_REPEAT_MS)
    throttles.set(log, throttle)
  }
  const more = throttle.admit(code)
  if (more !== undefined) log.error('%s: %s (%s)%s', paths.join(' -> '), message, code, more)
}
