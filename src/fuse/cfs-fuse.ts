/**
 * DEV DOCS: FUSE operations over a cfs FileSystem (fuse-napi 2.3.1, libfuse 3).
 *
 * Every operation is a path-based call on the FileSystem; open files are FileHandles kept
 * by a small fd table. Three rules come from how the binding behaves (docs/FUSE.md):
 * - A handler must always answer, once, with a number: `guard` runs each one as a promise,
 *   turns any failure into a negative errno (errno.ts), and answers once. (fuse-napi turns a
 *   throw into EIO itself, but a handler that never answers holds a request worker until the
 *   binding's timeout.)
 * - Publication is a local file system's durability: fsync, fdatasync and fsyncdir publish the
 *   volume (sync) before answering, so an fsync'd file is in a signed root; concurrent ones
 *   share one publication. close() (`flush`; `release` is asynchronous to it) only hands the
 *   file's gathered writes to the volume, whose timer publishes them within its interval.
 *   With `syncOnClose`, flush of a file written through the handle publishes too.
 * - Unlinking an open file arrives as a rename to `.fuse_hidden*` (the Volume moves the open
 *   handle with it) and the unlink follows the release.
 *
 * - New inodes belong to the caller (fuse-napi's context(), taken as the request arrives: the
 *   uid and gid of the process asking), so with allow_other every local user creates files of
 *   their own; the kernel checks permissions against the stored owners and modes
 *   (default_permissions).
 *
 * Extended attributes of the user, trusted and security namespaces are stored with the inode;
 * other namespaces (system.*: POSIX ACLs) answer EOPNOTSUPP (docs/FUSE.md says why).
 */
import type Fuse from 'fuse-napi'
import {
  InvalidNameError, IsADirectoryError, Mutex, NO_METRICS, NotADirectoryError, NotSupportedError, ReadOnlyError, SharedDeadline, createLogger, deadline,
  lifetimeController, secondsSince, type AbortOptions, type ComponentLogger, type Counter, type Histogram, type Labeled, type Logger, type Metrics,
} from '../core/index.js'
import { MAX_NAME_BYTES, ReadLoans, S_ISGID, S_ISUID, type FileHandle, type FileSystem, type Owner, type WriteOptions } from '../fs/index.js'
import {
  IO_BLOCK_BYTES, PERMISSION_BITS, S_IFMT, SPECIAL_TYPES, S_IFREG, syntheticIno, timespecToNs, toFuseStat, toFuseStatfs, type SpaceInfo,
} from './attrs.js'
import { Errno, ErrnoError, errnoName, toErrno } from './errno.js'
import { LinkedNames } from './linked-names.js'
import { DEFAULT_SNAPSHOTS_DIR, SnapshotsDir, type SnapshotRoute, type VersionSource } from './snapshots.js'

const O_ACCMODE = 3
const S_IXGRP = 0o010
const O_TRUNC = 0o1000
const RENAME_NOREPLACE = 1
const RENAME_EXCHANGE = 2
const XATTR_CREATE = 1
const XATTR_REPLACE = 2
/** chown's "leave this id as it is" (-1 as an unsigned 32-bit integer). */
const UNCHANGED_ID = 0xffff_ffff
/**
 * Namespaces of extended attributes stored (the kernel checks who may set trusted.* and
 * security.*). The binding refuses names in others itself (mount.ts).
 */
export const XATTR_NAMESPACES: readonly string[] = ['user.', 'trusted.', 'security.']

/** An extended attribute name's errno before any lookup: a bare namespace is EINVAL, another namespace ENOTSUP. */
function xattrNameError (name: string): number | undefined {
  const ns = XATTR_NAMESPACES.find((n) => name.startsWith(n))
  if (ns === undefined) return Errno.ENOTSUP
  return name.length === ns.length ? Errno.EINVAL : undefined
}
/** UTIME_NOW and UTIME_OMIT, as the nanoseconds of a utimensat time (Fuse.UTIME_NOW, Fuse.UTIME_OMIT). */
export const UTIME_NOW = (1 << 30) - 1
export const UTIME_OMIT = (1 << 30) - 2

/** Deadline of one publication (fsync; flush with syncOnClose): EIO after it (the mount's --fsync-timeout-ms). */
export const DEFAULT_SYNC_TIMEOUT_MS = 600_000
/** Deadline of any other operation: EIO after it (the mount's --op-timeout-ms). */
export const DEFAULT_OP_TIMEOUT_MS = 30_000
/** Sequential writes to one file gathered before they go to the volume: one data block. */
export const DEFAULT_COALESCE_BYTES = 1024 * 1024
/** Gathered bytes of all files together before they are all written out. */
export const DEFAULT_MAX_PENDING_BYTES = 64 * 1024 * 1024

/**
 * Operations that first write out gathered writes (see CfsFuse#write): they read a size or
 * contents, change a file another way, or publish. utimens writes them out itself, the
 * file's own with its times.
 */
const DRAINS: ReadonlySet<string> = new Set([
  'getattr', 'read', 'truncate', 'ftruncate', 'flush', 'fsync', 'fsyncdir', 'release', 'unlink', 'rename', 'chmod',
])

export interface CfsFuseComponents {
  /** The tree served: the owner's Volume, or a read-only view. */
  fs: FileSystem
  /** Publishes every change (Volume.sync); absent on a read-only mount. */
  sync?: (options?: AbortOptions) => Promise<void>
  /** Past versions, shown under the snapshots directory; absent: no snapshots directory. */
  versions?: VersionSource
  /** Space for statfs (df). @default a nominal 1 TiB, all free */
  space?: (options?: AbortOptions) => Promise<SpaceInfo>
  logger?: ComponentLogger
  /** Where operations, errors and bytes are counted. @default NO_METRICS */
  metrics?: Metrics
}

export interface CfsFuseInit {
  /** Name of the snapshots directory at the top; false = none. @default DEFAULT_SNAPSHOTS_DIR (snapshots.ts) */
  snapshotsDir?: string | false
  /**
   * Owner of new inodes when the caller is not known (no kernel: unit tests), and of the
   * snapshots directory's own entries. @default this process's uid and gid
   */
  owner?: Owner
  /**
   * close() of a file written through the handle publishes before it returns, as fsync does.
   * @default false (close hands the writes to the volume; its publish timer takes them)
   */
  syncOnClose?: boolean
  /** Deadline of one publication (fsync, and flush with syncOnClose); EIO after it. @default DEFAULT_SYNC_TIMEOUT_MS */
  syncTimeoutMs?: number
  /** Deadline of any other operation; EIO after it. @default DEFAULT_OP_TIMEOUT_MS */
  opTimeoutMs?: number
  /**
   * Sequential writes to one file are gathered up to this many bytes before they go to the
   * volume as one write (0: each goes alone). @default DEFAULT_COALESCE_BYTES
   */
  coalesceBytes?: number
  /** Gathered bytes of all files together before they are all written out. @default DEFAULT_MAX_PENDING_BYTES */
  maxPendingBytes?: number
}

interface OpenFile {
  readonly handle: FileHandle
  readonly writable: boolean
  /** Written through this handle since it was last published. */
  dirty: boolean
  /** Sequential writes not yet given to the volume (see `write`). */
  pending: Pending | undefined
  /** Orders the writes and pending flushes of this file. */
  readonly lock: Mutex
}

interface Pending {
  readonly offset: number
  bytes: Uint8Array
  length: number
}

/** What the mount gives CfsFuse once the binding exists (mount.ts attach()). */
export interface KernelLink {
  /**
   * The caller of the request being dispatched (fuse-napi's context()). Valid only while the
   * binding calls the handler, before its first await: `guard` takes it there.
   */
  readonly caller: () => Owner | null | undefined
  /** Drops the kernel's attributes and pages of the inode at a path (not one the request in progress holds). */
  readonly invalidate: (path: string) => Promise<void>
  /**
   * The binding forgets which paths it knows to have no security.capability (it answers the
   * kernel's getxattr for them itself): a path may now name a file that has one.
   */
  readonly forgetCapabilities: () => void
  /**
   * The kernel may keep a file's pages across opens: every change passes through this mount
   * (the owner's). Not for hard-linked files, whose other names the kernel does not connect.
   */
  readonly keepCache: boolean
}

/** Kernel invalidations in flight at once (invalidate). */
const INVALIDATE_BATCH = 64

/** Operations after which the kernel's view of other names of a hard-linked inode is stale. */
const CHANGES_INODE: ReadonlySet<string> = new Set([
  'flush', 'truncate', 'ftruncate', 'chmod', 'chown', 'utimens', 'setxattr', 'removexattr', 'link', 'unlink', 'rename',
])

/**
 * Operations libfuse's high-level API follows with a getattr of their path (the last one given
 * to guard) in the same worker thread: the attributes are primed with the answer (the binding's
 * primeAttributes), so that getattr costs no second trip through the event loop.
 */
const PRIMES_ATTRIBUTES: ReadonlySet<string> = new Set([
  'create', 'mkdir', 'mknod', 'symlink', 'link', 'chmod', 'chown', 'utimens', 'truncate', 'ftruncate',
])

/** The attribute the kernel reads before every write(2) and truncate, to drop file capabilities. */
const CAPABILITY_XATTR = 'security.capability'

/**
 * A reply the binding can also hand the attributes of a path after the operation
 * (PRIMES_ATTRIBUTES), and whether the file there has no CAPABILITY_XATTR.
 */
interface PrimingReply {
  primeAttributes?: (path: string, stat: Fuse.Stats, noCapability: boolean) => void
}

/** Operations after which a path may name a file with a CAPABILITY_XATTR it did not have. */
const MOVES_NAMES: ReadonlySet<string> = new Set(['rename', 'link'])

/** One operation's instruments, bound to its name when it is first seen. */
interface OpMetrics {
  readonly count: Counter
  readonly seconds: Histogram
  /** Bytes read or written: the answer of a read or write. */
  readonly bytes: Counter | undefined
  /** By errno, bound when first seen. */
  readonly errors: Map<number, Counter>
}

interface FuseMetrics {
  readonly ops: Labeled<Counter>
  readonly seconds: Labeled<Histogram>
  readonly errors: Labeled<Counter>
  readonly readBytes: Counter
  readonly writtenBytes: Counter
}

type Reply<T> = (code: number, value?: T) => void
type Done = (code: number) => void

/**
 * The operations cfs gives fuse-napi (a subset of its `Fuse.OPERATIONS`). Paths are never null:
 * the mount sets neither nullPathOk nor noPath. Positions, sizes and handles arrive as numbers,
 * or as bigints past 2^53.
 */
export interface CfsOperations {
  /** Asks the kernel for writes of up to IO_BLOCK_BYTES (max_write). */
  initWithConfig: (connection: Readonly<Fuse.ConnectionInfo>, cb: (code: number, config?: Fuse.InitConfig) => void) => void
  statfs: (path: string, cb: (code: number, statfs?: Fuse.Statfs) => void) => void
  getattr: (path: string, cb: (code: number, stat?: Fuse.Stats) => void) => void
  readdir: (path: string, cb: (code: number, names?: string[]) => void) => void
  readlink: (path: string, cb: (code: number, target?: string) => void) => void
  /**
   * The handle, whether the kernel may keep the file's cached pages (KernelLink.keepCache), and
   * whether it may skip the flush at close (noflush: an open only for reading).
   */
  open: (path: string, flags: number, cb: (code: number, result?: number | Fuse.FileInfoResult) => void) => void
  /** No flags: the kernel has already done the O_EXCL lookup. */
  create: (path: string, mode: number, cb: (code: number, result?: number | Fuse.FileInfoResult) => void) => void
  /**
   * FUSE read_buf: cb(0, bytes) with at most `length` bytes (fewer at the end of the file), or
   * cb(-errno). The binding copies the bytes into libfuse's reply before anything else runs,
   * so they may be a view of a cached block.
   */
  readBuffer: (path: string, fd: Fuse.FileHandle, length: number, position: Fuse.Int64, cb: (code: number, bytes?: Buffer) => void) => void
  /** cb(bytesWritten); the buffer is the binding's once answered. */
  write: (path: string, fd: Fuse.FileHandle, buffer: Buffer, length: number, position: Fuse.Int64, cb: (bytes: number) => void) => void
  flush: (path: string, fd: Fuse.FileHandle, cb: Done) => void
  fsync: (path: string, dataSync: boolean, fd: Fuse.FileHandle, cb: Done) => void
  fsyncdir: (path: string, dataSync: boolean, fd: Fuse.FileHandle, cb: Done) => void
  release: (path: string, fd: Fuse.FileHandle, cb: Done) => void
  truncate: (path: string, size: Fuse.Int64, cb: Done) => void
  ftruncate: (path: string, fd: Fuse.FileHandle, size: Fuse.Int64, cb: Done) => void
  /** Nanosecond times; UTIME_NOW or UTIME_OMIT as the nanoseconds. */
  utimensWithTimespec: (path: string, atime: Readonly<Fuse.Timespec>, mtime: Readonly<Fuse.Timespec>, cb: Done) => void
  chmod: (path: string, mode: number, cb: Done) => void
  chown: (path: string, uid: number, gid: number, cb: Done) => void
  mknod: (path: string, mode: number, dev: Fuse.Uint64, cb: Done) => void
  unlink: (path: string, cb: Done) => void
  rmdir: (path: string, cb: Done) => void
  mkdir: (path: string, mode: number, cb: Done) => void
  /** renameat2 flags: RENAME_NOREPLACE, RENAME_EXCHANGE; RENAME_WHITEOUT is EINVAL. */
  renameWithFlags: (src: string, dest: string, flags: number, cb: Done) => void
  link: (src: string, dest: string, cb: Done) => void
  symlink: (target: string, path: string, cb: Done) => void
  /** flags: XATTR_CREATE, XATTR_REPLACE; position is for macOS resource forks (always 0 here). */
  setxattr: (path: string, name: string, value: Buffer, position: number, flags: number, cb: Done) => void
  /** The binding sizes the caller's buffer (size 0 asks the size; ERANGE when too small). */
  getxattr: (path: string, name: string, position: number, cb: (code: number, value?: Buffer) => void) => void
  listxattr: (path: string, cb: (code: number, names?: string[]) => void) => void
  removexattr: (path: string, name: string, cb: Done) => void
}

/** A position, size or handle from the binding as a number: EFBIG past 2^53 (a bigint). */
function toNumber (v: number | bigint): number {
  if (typeof v === 'number') return v
  if (v > BigInt(Number.MAX_SAFE_INTEGER) || v < BigInt(Number.MIN_SAFE_INTEGER)) throw new ErrnoError(Errno.EFBIG, 'beyond 2^53')
  return Number(v)
}

/**
 * The FUSE operations for one mounted tree, as fuse-napi wants them (`ops`). No kernel is
 * needed to call them, which is how the unit tests drive them; mount.ts mounts them.
 */
export class CfsFuse {
  readonly ops: CfsOperations
  private kernel: KernelLink = { caller: () => undefined, invalidate: async () => {}, forgetCapabilities: () => {}, keepCache: false }
  /** Names of hard-linked inodes the kernel holds (linked-names.ts). */
  private readonly linked = new LinkedNames()
  private readonly log: Logger
  private readonly files = new Map<number, OpenFile>()
  private nextFd = 1
  private readonly snapshots: SnapshotsDir | undefined
  private readonly owner: Owner
  private shutdown = lifetimeController()
  /** Deadlines of requests (a signal shared by those that start within a second). */
  private deadlines: { op: SharedDeadline, sync: SharedDeadline }
  private counts = { ops: 0, errors: 0, syncs: 0 }
  private readonly opMetrics = new Map<string, OpMetrics>()
  private readonly families: FuseMetrics
  private readonly pendingFiles = new Set<OpenFile>()
  private pendingBytes = 0
  private readonly coalesceBytes: number
  private readonly maxPendingBytes: number
  private readonly syncTimeoutMs: number
  private readonly opTimeoutMs: number
  private readonly syncOnClose: boolean

  constructor (private readonly components: CfsFuseComponents, init: CfsFuseInit = {}) {
    this.log = (components.logger ?? createLogger()).forComponent('fuse')
    this.owner = init.owner ?? { uid: process.getuid?.() ?? 0, gid: process.getgid?.() ?? 0 }
    const name = init.snapshotsDir ?? DEFAULT_SNAPSHOTS_DIR
    this.snapshots = components.versions === undefined || name === false ? undefined : new SnapshotsDir(components.versions, { name })
    this.coalesceBytes = init.coalesceBytes ?? DEFAULT_COALESCE_BYTES
    this.maxPendingBytes = init.maxPendingBytes ?? DEFAULT_MAX_PENDING_BYTES
    this.syncTimeoutMs = init.syncTimeoutMs ?? DEFAULT_SYNC_TIMEOUT_MS
    this.opTimeoutMs = init.opTimeoutMs ?? DEFAULT_OP_TIMEOUT_MS
    this.syncOnClose = init.syncOnClose === true
    this.deadlines = this.newDeadlines()
    const metrics = components.metrics ?? NO_METRICS
    this.families = {
      ops: metrics.counter({ name: 'cfs_fuse_operations_total', help: 'FUSE requests answered, by operation (errors included)', labelNames: ['op'] }),
      seconds: metrics.histogram({ name: 'cfs_fuse_operation_duration_seconds', help: 'Time from a FUSE request to its answer, by operation', labelNames: ['op'] }),
      errors: metrics.counter({ name: 'cfs_fuse_errors_total', help: 'FUSE requests answered with an error, by operation and errno (ENOENT, EIO, ...)', labelNames: ['op', 'errno'] }),
      readBytes: metrics.counter({ name: 'cfs_fuse_read_bytes_total', help: 'Bytes answered to FUSE reads' }),
      writtenBytes: metrics.counter({ name: 'cfs_fuse_written_bytes_total', help: 'Bytes taken by FUSE writes' }),
    }
    metrics.collect({ name: 'cfs_fuse_open_files', help: 'Files open through the mount', type: 'gauge', collect: (r) => { r(this.files.size) } })
    metrics.collect({
      name: 'cfs_fuse_pending_write_bytes', help: 'Written bytes gathered and not yet given to the volume', type: 'gauge', collect: (r) => { r(this.pendingBytes) },
    })
    this.ops = this.makeOps()
  }

  /** The instruments of an operation. */
  private metricsOf (op: string): OpMetrics {
    let m = this.opMetrics.get(op)
    if (m === undefined) {
      const f = this.families
      m = { count: f.ops.labels(op), seconds: f.seconds.labels(op), bytes: op === 'read' ? f.readBytes : op === 'write' ? f.writtenBytes : undefined, errors: new Map() }
      this.opMetrics.set(op, m)
    }
    return m
  }

  /** Whether writes are refused (EROFS). */
  get readOnly (): boolean { return this.components.sync === undefined }

  get stats (): { readonly ops: number, readonly errors: number, readonly syncs: number, readonly openFiles: number } {
    return { ...this.counts, openFiles: this.files.size }
  }

  /** Aborts operations in flight (they answer EIO) and closes every open file. */
  async close (): Promise<void> {
    await this.drain({}).catch((err: unknown) => { this.log.error('writing out gathered writes failed: %s', (err as Error).message) })
    this.shutdown.abort()
    const open = [...this.files.values()]
    this.files.clear()
    await Promise.allSettled(open.map(async (f) => f.handle.close()))
    this.shutdown = lifetimeController()
    this.deadlines = this.newDeadlines()
  }

  private newDeadlines (): { op: SharedDeadline, sync: SharedDeadline } {
    return { op: new SharedDeadline(this.shutdown.signal, this.opTimeoutMs), sync: new SharedDeadline(this.shutdown.signal, this.syncTimeoutMs) }
  }

  /** Publishes now, within the sync deadline. */
  private async publish (): Promise<void> {
    const sync = this.components.sync
    if (sync === undefined) return
    const d = deadline([this.shutdown.signal], this.syncTimeoutMs)
    try {
      this.counts.syncs++
      await sync({ signal: d.signal })
    } finally {
      d.dispose()
    }
  }

  /**
   * Runs one operation: whatever happens, `cb` is called exactly once with a number (and
   * the value on success), and nothing is thrown into the binding.
   */
  private guard<T> (
    op: string,
    paths: readonly string[],
    cb: Reply<T>,
    /** `caller`: who asks (undefined without a kernel), taken before the first await. */
    work: (options: AbortOptions, caller: Owner | undefined) => Promise<number | { value: T }>,
    /** Under the publication deadline (syncTimeoutMs) instead of opTimeoutMs. */
    sync = false,
  ): void {
    this.counts.ops++
    const started = performance.now()
    const caller = this.kernel.caller() ?? undefined
    const m = this.metricsOf(op)
    let answered = false
    const answer = (code: number, value?: T): void => {
      if (answered) return
      answered = true
      m.count.inc()
      m.seconds.observe(secondsSince(started))
      if (code < 0) {
        this.counts.errors++
        let errors = m.errors.get(code)
        if (errors === undefined) {
          errors = this.families.errors.labels(op, errnoName(code))
          m.errors.set(code, errors)
        }
        errors.inc()
      } else if (m.bytes !== undefined) {
        // Bytes answered: a write's count, a read's buffer.
        const n = value instanceof Uint8Array ? value.length : code
        if (n > 0) m.bytes.inc(n)
      }
      try {
        if (value === undefined) cb(code)
        else cb(code, value)
      } catch (err) {
        this.log.error('%s %s: callback threw: %s', op, paths.join(' '), (err as Error).message)
      }
    }
    const signal = (sync ? this.deadlines.sync : this.deadlines.op).signal()
    // An async wrapper: a handler that throws before its first await rejects too.
    const pending = (async () => {
      if (DRAINS.has(op)) await this.drain({ signal })
      const r = await work({ signal }, caller)
      // Before the answer: the kernel holds the names the operation went through until then.
      if (r === 0 && MOVES_NAMES.has(op)) this.kernel.forgetCapabilities()
      if (r === 0 && CHANGES_INODE.has(op)) await this.afterChange(op, paths)
      if ((r === 0 || typeof r !== 'number') && PRIMES_ATTRIBUTES.has(op)) await this.primeAttributes(cb as PrimingReply, paths.at(-1) as string, { signal })
      return r
    })()
    pending.then((r) => {
      this.log.trace('%s %s: %s in %s ms', op, paths.join(' '), typeof r === 'number' ? r : 0, (performance.now() - started).toFixed(1))
      if (typeof r === 'number') answer(Number.isFinite(r) ? r : Errno.EIO)
      else answer(0, r.value)
    }, (err: unknown) => {
      const code = toErrno(err, paths, this.log)
      this.log.trace('%s %s: %d (%s) in %s ms', op, paths.join(' '), code, (err as Error).message, (performance.now() - started).toFixed(1))
      answer(code)
    })
  }

  /** What getattr answers for `path` (routed to `r`); notes the names of hard-linked inodes as it goes. */
  private async attributesOf (path: string, r: SnapshotRoute, options: AbortOptions): Promise<Fuse.Stats> {
    if (r.kind !== 'tree') return toFuseStat({ ...r.stat, ...this.owner }, syntheticIno(path))
    const stat = await r.fs.stat(r.path, options)
    if (r.seq === undefined) this.linked.note(path, stat.ino, stat.nlink, stat.type === 'dir')
    // A past version's inode numbers are its own: apart from the live tree's and each other's.
    return toFuseStat(stat, r.seq === undefined ? stat.ino : syntheticIno(r.seq, stat.ino))
  }

  /**
   * Hands the binding `path`'s attributes after a PRIMES_ATTRIBUTES operation. Best effort: if
   * they cannot be read, libfuse's getattr asks as usual.
   */
  private async primeAttributes (reply: PrimingReply, path: string, options: AbortOptions): Promise<void> {
    if (reply.primeAttributes === undefined) return
    try {
      const r = await this.route(path, options)
      const stat = await this.attributesOf(path, r, options)
      const noCapability = ((stat.mode ?? 0) & S_IFMT) === S_IFREG && r.kind === 'tree' && await r.fs.getxattr(r.path, CAPABILITY_XATTR, options) === undefined
      reply.primeAttributes(path, stat, noCapability)
    } catch (err) {
      this.log.trace('%s: attributes not primed: %s', path, (err as Error).message)
    }
  }

  /** The mount's kernel side: mount.ts calls it once the binding exists. */
  attach (kernel: KernelLink): void {
    this.kernel = kernel
  }

  /**
   * After a change through `paths`, the kernel drops what it holds of the other names of the
   * same inodes (hard links), before the request is answered: the caller's next stat of any
   * name is fresh. Those are other kernel inodes than the ones the request holds locked.
   */
  private async afterChange (op: string, paths: readonly string[]): Promise<void> {
    if (this.linked.size === 0) return
    const stale = new Set(paths.flatMap((p) => this.linked.others(p)))
    if (op === 'unlink') this.linked.forget(paths[0] as string)
    if (op === 'rename') {
      this.linked.forget(paths[1] as string, true)
      this.linked.move(paths[0] as string, paths[1] as string)
    }
    // The kernel refreshes the names an operation went through, except a link's source.
    for (const p of op === 'link' ? paths.slice(1) : paths) stale.delete(p)
    await Promise.all([...stale].map(async (p) => this.kernel.invalidate(p)))
  }

  /**
   * Drops what the kernel cached of these paths (attributes, pages), a few at a time: the
   * tree under them changed without a request of this mount (a followed volume moved to a
   * newer version). Paths the kernel does not hold cost one quick refusal each.
   */
  async invalidate (paths: readonly string[]): Promise<void> {
    this.kernel.forgetCapabilities()
    for (let i = 0; i < paths.length; i += INVALIDATE_BATCH) {
      await Promise.all(paths.slice(i, i + INVALIDATE_BATCH).map(async (p) => this.kernel.invalidate(p)))
    }
  }

  /** The tree for a path: the mounted one, or a version under the snapshots directory. */
  private async route (path: string, options: AbortOptions): Promise<SnapshotRoute> {
    if (this.snapshots?.owns(path) === true) return this.snapshots.route(path, options)
    return { kind: 'tree', fs: this.components.fs, path }
  }

  /** The mounted tree for a change; EROFS under the snapshots directory or on a read-only mount. */
  private writable (path: string): FileSystem {
    if (this.snapshots?.owns(path) === true) throw new ReadOnlyError('past versions are read-only')
    if (this.readOnly) throw new ReadOnlyError('this mount is read-only')
    return this.components.fs
  }

  private file (fd: Fuse.FileHandle): OpenFile {
    const f = this.files.get(Number(fd))
    if (f === undefined) throw new ErrnoError(Errno.EBADF, 'no such open file')
    return f
  }

  private addFile (handle: FileHandle, writable: boolean, dirty: boolean): number {
    while (this.files.has(this.nextFd) || this.nextFd === 0) this.nextFd = (this.nextFd + 1) >>> 0
    const fd = this.nextFd
    this.nextFd = (this.nextFd + 1) >>> 0
    this.files.set(fd, { handle, writable, dirty, pending: undefined, lock: new Mutex() })
    return fd
  }

  /**
   * Gives a file's gathered writes to the volume (inside the file's lock). The file stays in
   * `pendingFiles` until the volume has them: a drain that starts meanwhile (another close, a
   * stat from another process) waits on the file's lock for them instead of passing it by.
   */
  private async writeOut (f: OpenFile, options: WriteOptions): Promise<boolean> {
    const p = f.pending
    if (p === undefined) return false
    f.pending = undefined
    this.pendingBytes -= p.length
    try {
      // Handed over: the gathered buffer is dropped (f.pending is already cleared).
      await f.handle.write(p.offset, p.bytes.subarray(0, p.length), { ...options, transfer: true })
      return true
    } finally {
      if (f.pending === undefined) this.pendingFiles.delete(f)
    }
  }

  /**
   * Writes out every file's gathered writes: before any operation that reads sizes or
   * contents, changes a file by other means, or publishes. A failed write-out fails that
   * operation (EIO): the bytes it carried are lost, as with a failed writeback.
   */
  private async drain (options: AbortOptions, except?: OpenFile): Promise<void> {
    if (this.pendingFiles.size === 0) return
    const files = [...this.pendingFiles].filter((f) => f !== except)
    const results = await Promise.allSettled(files.map(async (f) => f.lock.run(async () => this.writeOut(f, options))))
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')
    if (failed !== undefined) throw failed.reason
  }

  /**
   * A write: sequential pieces (one per write(2), up to max_write: IO_BLOCK_BYTES) are gathered
   * and given to the volume `coalesceBytes` at a time. That spares the volume hashing and
   * linking a half-filled block for every small write, and re-linking the file for each.
   */
  private async write (f: OpenFile, position: number, data: Uint8Array, options: AbortOptions): Promise<number> {
    const n = await f.lock.run(async () => {
      f.dirty = true
      const p = f.pending
      if (p !== undefined && (position !== p.offset + p.length || p.length + data.length > this.coalesceBytes)) await this.writeOut(f, options)
      if (data.length >= this.coalesceBytes) return f.handle.write(position, data, options)
      let q = f.pending
      if (q === undefined) {
        // Sized to what came, grown as more does: most files written are small, and a 1 MiB
        // buffer for each would cost more to allocate and collect than the file itself.
        q = { offset: position, bytes: new Uint8Array(data.length), length: 0 }
        f.pending = q
        this.pendingFiles.add(f)
      }
      if (q.length + data.length > q.bytes.length) {
        const grown = new Uint8Array(Math.min(this.coalesceBytes, Math.max(2 * q.bytes.length, q.length + data.length)))
        grown.set(q.bytes.subarray(0, q.length))
        q.bytes = grown
      }
      q.bytes.set(data, q.length) // gathered: the pieces become one buffer
      q.length += data.length
      this.pendingBytes += data.length
      if (q.length === this.coalesceBytes) await this.writeOut(f, options)
      return data.length
    })
    if (this.pendingBytes > this.maxPendingBytes) await this.drain(options)
    return n
  }

  private makeOps (): CfsOperations {
    return {
      initWithConfig: (connection, cb) => {
        this.guard('init', [], cb, async () => {
          const maxWrite = Math.min(IO_BLOCK_BYTES, connection.maxWrite)
          this.log('kernel protocol 7.%d; asking max_write %d', connection.protoMinor, maxWrite)
          return { value: { maxWrite } }
        })
      },

      getattr: (path, cb) => {
        this.guard('getattr', [path], cb, async (options) => ({ value: await this.attributesOf(path, await this.route(path, options), options) }))
      },

      readdir: (path, cb) => {
        this.guard('readdir', [path], cb, async (options) => {
          const r = await this.route(path, options)
          const names = ['.', '..']
          if (r.kind === 'top') return { value: [...names, ...await (this.snapshots as SnapshotsDir).names(options)] }
          if (r.kind === 'link') throw new NotADirectoryError('a symbolic link is not a directory')
          for await (const e of r.fs.readdir(r.path, options)) names.push(e.name)
          if (path === '/' && this.snapshots !== undefined && !names.includes(this.snapshots.name)) names.push(this.snapshots.name)
          return { value: names }
        })
      },

      readlink: (path, cb) => {
        this.guard('readlink', [path], cb, async (options) => {
          const r = await this.route(path, options)
          if (r.kind === 'link') return { value: r.target }
          if (r.kind === 'top') throw new InvalidNameError('not a symbolic link')
          return { value: await r.fs.readlink(r.path, options) }
        })
      },

      open: (path, flags, cb) => {
        this.guard('open', [path], cb, async (options, caller) => {
          const write = (flags & O_ACCMODE) !== 0
          const r = write ? { kind: 'tree' as const, fs: this.writable(path), path } : await this.route(path, options)
          if (r.kind === 'top') throw new IsADirectoryError('is a directory')
          if (r.kind === 'link') throw new NotSupportedError('a symbolic link is not opened')
          // libfuse 3 asks the kernel for atomic_o_trunc: O_TRUNC comes with the open, not as a
          // truncate first. Linux truncates even for O_RDONLY (the kernel checked write permission).
          const truncate = (flags & O_TRUNC) !== 0
          const fs = truncate ? this.writable(path) : r.fs
          if (truncate) await this.drain(options) // as for a truncate: gathered writes first
          const handle = await fs.open(r.path, { write, truncate, signal: options.signal })
          if (truncate) await this.dropPrivileges(fs, r.path, caller, options)
          const fd = this.addFile(handle, write, truncate)
          // Closing a descriptor that only read has nothing to write out or publish: the kernel
          // need not ask (FOPEN_NOFLUSH); release still comes.
          const noflush = !write && !truncate
          if (r.seq !== undefined) return { value: { fd, keepCache: true, noflush } } // a past version never changes
          if (!this.kernel.keepCache) return { value: { fd, noflush } }
          return { value: { fd, keepCache: (await handle.stat(options)).nlink === 1, noflush } }
        })
      },

      create: (path, mode, cb) => {
        this.guard('create', [path], cb, async (options, caller) => {
          const fs = this.writable(path)
          const handle = await fs.open(path, { write: true, create: true, mode: mode & PERMISSION_BITS, owner: caller ?? this.owner, signal: options.signal })
          return { value: { fd: this.addFile(handle, true, false), keepCache: this.kernel.keepCache } }
        })
      },

      readBuffer: (path, fd, length, position, cb) => {
        // The block a view is lent from is given back once the binding has copied the reply
        // (it copies before cb returns).
        const loans = new ReadLoans()
        const reply = (code: number, bytes?: Buffer): void => {
          try {
            cb(code, bytes)
          } finally {
            loans.end()
          }
        }
        this.guard('read', [path], reply, async (options) => {
          const f = this.files.get(Number(fd))
          const at = toNumber(position)
          // A view of the cached block where the read lies within one: the binding's copy into
          // libfuse's reply is then the only one (read, the alternative, hands a new buffer of
          // the read's size to fill, which is one more allocation and copy per request).
          const bytes = f !== undefined
            ? await f.handle.read(at, length, { ...options, shared: true, loans })
            : await this.readByPath(path, at, length, options)
          return { value: Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.length, length)) }
        })
      },

      write: (path, fd, buffer, length, position, cb) => {
        this.guard('write', [path], cb, async (options) => {
          const f = this.file(fd)
          if (!f.writable) throw new ErrnoError(Errno.EBADF, 'no such open file')
          // The binding copies each write into a Buffer of its own (fuse-napi's
          // create_owned_buffer). Kept as a block's bytes until the ring has them (write's
          // `transfer`), the mount's collector took 2.5-3.3 times the samples of a 256 MiB
          // write in two paired runs (docs/BENCHMARKS.md), so a whole block is copied into
          // the volume's own memory and the Buffer dies young. A plain Uint8Array view, not a
          // Buffer: Buffer#slice shares memory, Uint8Array#slice copies.
          const data = new Uint8Array(buffer.buffer, buffer.byteOffset, Math.min(length, buffer.length))
          return this.write(f, toNumber(position), data, options)
        })
      },

      truncate: (path, size, cb) => {
        this.guard('truncate', [path], cb, async (options) => {
          await this.writable(path).truncate(path, toNumber(size), options)
          return 0
        })
      },

      ftruncate: (path, fd, size, cb) => {
        this.guard('ftruncate', [path], cb, async (options) => {
          const f = this.file(fd)
          if (!f.writable) throw new ReadOnlyError('the file is open read-only')
          await f.handle.truncate(toNumber(size), options)
          f.dirty = true
          return 0
        })
      },

      flush: (path, fd, cb) => {
        // Gathered writes are written out first (DRAINS): a later read sees them, and the
        // publish timer takes them.
        // A file this descriptor created joins the tree now if its first block has not made it.
        this.guard('flush', [path], cb, async (options) => {
          await this.files.get(Number(fd))?.handle.flush(options)
          return this.syncOnClose ? this.publishFile(Number(fd)) : 0
        }, true)
      },

      fsync: (path, _dataSync, fd, cb) => {
        this.guard('fsync', [path], cb, async () => {
          // Whether or not this handle wrote: the file's name and attributes become durable too.
          return this.publishFile(Number(fd), true)
        }, true)
      },

      fsyncdir: (path, _dataSync, _fd, cb) => {
        this.guard('fsyncdir', [path], cb, async () => {
          await this.publish()
          return 0
        }, true)
      },

      release: (path, fd, cb) => {
        this.guard('release', [path], cb, async () => {
          const f = this.files.get(Number(fd))
          if (f === undefined) return 0
          this.files.delete(Number(fd))
          // Written after the last flush (a shared mapping): the publish timer takes it.
          await f.handle.close()
          return 0
        })
      },

      mkdir: (path, mode, cb) => {
        this.guard('mkdir', [path], cb, async (options, caller) => {
          await this.writable(path).mkdir(path, { mode: mode & PERMISSION_BITS, owner: caller ?? this.owner, ...options })
          return 0
        })
      },

      rmdir: (path, cb) => {
        this.guard('rmdir', [path], cb, async (options) => {
          await this.writable(path).rmdir(path, options)
          return 0
        })
      },

      unlink: (path, cb) => {
        this.guard('unlink', [path], cb, async (options) => {
          await this.writable(path).unlink(path, options)
          return 0
        })
      },

      renameWithFlags: (src, dest, flags, cb) => {
        this.guard('rename', [src, dest], cb, async (options) => {
          this.writable(src)
          const fs = this.writable(dest)
          const mode = flags === 0 ? 'replace' : flags === RENAME_NOREPLACE ? 'noreplace' : flags === RENAME_EXCHANGE ? 'exchange' : undefined
          if (mode === undefined) return Errno.EINVAL // RENAME_WHITEOUT, or both at once
          await fs.rename(src, dest, { mode, ...options })
          return 0
        })
      },

      symlink: (target, path, cb) => {
        this.guard('symlink', [path], cb, async (options, caller) => {
          await this.writable(path).symlink(target, path, { owner: caller ?? this.owner, ...options })
          return 0
        })
      },

      link: (src, dest, cb) => {
        this.guard('link', [src, dest], cb, async (options) => {
          this.writable(src)
          const fs = this.writable(dest)
          await fs.link(src, dest, options)
          const { ino, nlink } = await fs.stat(dest, options)
          this.linked.note(src, ino, nlink, false)
          this.linked.note(dest, ino, nlink, false)
          return 0
        })
      },

      mknod: (path, mode, dev, cb) => {
        this.guard('mknod', [path], cb, async (options, caller) => {
          const fs = this.writable(path)
          const owner = caller ?? this.owner
          const format = mode & S_IFMT
          if (format === S_IFREG) {
            await fs.create(path, { mode: mode & PERMISSION_BITS, exclusive: true, owner, ...options })
            return 0
          }
          const type = SPECIAL_TYPES.get(format)
          if (type === undefined) return Errno.EINVAL
          await fs.mknod(path, type, { mode: mode & PERMISSION_BITS, rdev: toNumber(dev), owner, ...options })
          return 0
        })
      },

      chmod: (path, mode, cb) => {
        this.guard('chmod', [path], cb, async (options) => {
          await this.writable(path).chmod(path, mode & PERMISSION_BITS, options)
          return 0
        })
      },

      chown: (path, uid, gid, cb) => {
        this.guard('chown', [path], cb, async (options) => {
          // The kernel has checked who may (default_permissions) and sends the setuid/setgid
          // clearing that follows as a chmod of its own.
          const id = (n: number): number | undefined => (n >>> 0) === UNCHANGED_ID ? undefined : n >>> 0
          await this.writable(path).chown(path, id(uid), id(gid), options)
          return 0
        })
      },

      setxattr: (path, name, value, _position, flags, cb) => {
        this.guard('setxattr', [path], cb, async (options) => {
          const fs = this.writable(path)
          const bad = xattrNameError(name)
          if (bad !== undefined) return bad
          if ((flags & ~(XATTR_CREATE | XATTR_REPLACE)) !== 0 || flags === (XATTR_CREATE | XATTR_REPLACE)) return Errno.EINVAL
          const mode = flags === XATTR_CREATE ? 'create' : flags === XATTR_REPLACE ? 'replace' : 'either'
          // A copy: the binding's buffer is not ours once answered.
          await fs.setxattr(path, name, Uint8Array.from(value), mode, options)
          if (name === CAPABILITY_XATTR) this.kernel.forgetCapabilities()
          return 0
        })
      },

      getxattr: (path, name, _position, cb) => {
        this.guard('getxattr', [path], cb, async (options) => {
          const bad = xattrNameError(name)
          if (bad !== undefined) return bad
          const r = await this.route(path, options)
          if (r.kind !== 'tree') return Errno.ENODATA
          const value = await r.fs.getxattr(r.path, name, options)
          if (value === undefined) return Errno.ENODATA
          return { value: Buffer.from(value.buffer, value.byteOffset, value.length) }
        })
      },

      listxattr: (path, cb) => {
        this.guard('listxattr', [path], cb, async (options) => {
          const r = await this.route(path, options)
          return { value: r.kind === 'tree' ? await r.fs.listxattr(r.path, options) : [] }
        })
      },

      removexattr: (path, name, cb) => {
        this.guard('removexattr', [path], cb, async (options) => {
          const fs = this.writable(path)
          const bad = xattrNameError(name)
          if (bad !== undefined) return bad
          await fs.removexattr(path, name, options)
          return 0
        })
      },

      utimensWithTimespec: (path, atime, mtime, cb) => {
        this.guard('utimens', [path], cb, async (options) => {
          const fs = this.writable(path)
          // UTIME_OMIT leaves that time as it is (`touch -m`, `touch -a`); UTIME_NOW is the volume's now.
          const time = (t: Readonly<Fuse.Timespec>): bigint | 'now' | undefined =>
            t.nanoseconds === UTIME_OMIT ? undefined : t.nanoseconds === UTIME_NOW ? 'now' : timespecToNs(t)
          const times = { atimeNs: time(atime), mtimeNs: time(mtime) }
          // The file's own gathered writes go to the volume with the times, as one change (cp -a,
          // tar -x and rsync set the times of each file right after writing it); every other
          // file's first, as for any operation that changes a file by other means.
          const own = [...this.pendingFiles].find((f) => f.handle.path === path && !f.handle.unlinked)
          await this.drain(options, own)
          if (own !== undefined && await own.lock.run(async () => this.writeOut(own, { ...options, times }))) return 0
          await fs.setTimes(path, times, options)
          return 0
        })
      },

      statfs: (path, cb) => {
        this.guard('statfs', [path], cb, async (options) => {
          const space = this.components.space === undefined
            ? { totalBytes: 2 ** 40, freeBytes: 2 ** 40 }
            : await this.components.space(options)
          return { value: toFuseStatfs(space, MAX_NAME_BYTES) }
        })
      },
    }
  }

  /**
   * What the kernel does for every other truncate but leaves to the file system with
   * atomic_o_trunc: an O_TRUNC by someone other than root clears setuid, and setgid when the
   * group may execute (Linux's setattr_should_drop_suidgid).
   */
  private async dropPrivileges (fs: FileSystem, path: string, caller: Owner | undefined, options: AbortOptions): Promise<void> {
    if (caller === undefined || caller.uid === 0) return
    const { mode } = await fs.stat(path, options)
    const kept = mode & ~(S_ISUID | ((mode & S_IXGRP) !== 0 ? S_ISGID : 0))
    if (kept !== mode) await fs.chmod(path, kept, options)
  }

  private async readByPath (path: string, position: number, length: number, options: AbortOptions): Promise<Uint8Array> {
    const r = await this.route(path, options)
    if (r.kind !== 'tree') throw new ErrnoError(Errno.EBADF, 'no such open file')
    return r.fs.read(r.path, position, length, options)
  }

  /**
   * Publishes if the file was written through this handle since its last publication (or
   * always, with `always`: fsync; a file not written here may have been changed by its name).
   */
  private async publishFile (fd: number, always = false): Promise<number> {
    const f = this.files.get(fd)
    if (!always && (f === undefined || !f.dirty)) return 0
    if (f !== undefined) f.dirty = false
    try {
      await this.publish()
    } catch (err) {
      if (f !== undefined) f.dirty = true
      throw err
    }
    return 0
  }
}
