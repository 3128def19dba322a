import { readFile, readdir, writeFile } from 'node:fs/promises'
import { resolve } from 'node:path'
import type Fuse from 'fuse-napi'
import { createLogger, type ComponentLogger, type Logger } from '../core/index.js'
import { DEFAULT_BLOCK_SIZE } from '../fs/index.js'
import { INVALIDATE_BY_PATH, loadFuse } from './binding.js'
import { XATTR_NAMESPACES, type CfsFuse } from './cfs-fuse.js'

/** Seconds the kernel trusts attributes and names of a tree that can change. */
export const DEFAULT_ATTR_TIMEOUT_S = 1
/** Attribute and name timeout of an immutable tree, in seconds. */
export const DEFAULT_IMMUTABLE_TIMEOUT_S = 3600
/** Shown by df and mount as the source. */
export const DEFAULT_FSNAME = 'cfs'
/**
 * Kernel requests served at once (fuse-napi's native request workers, 1-64). Handlers are
 * asynchronous, so a slow one (a read from the ring, a publication) does not hold up the others.
 */
export const DEFAULT_MAX_CONCURRENCY = 16

/**
 * The kernel's read-ahead for the mount, in KiB: one data block (fs's DEFAULT_BLOCK_SIZE). The
 * kernel offers FUSE its default, 128 KiB, and FUSE can only lower it; raised on the mount's
 * backing device (sysfs), a sequential read reaches the mount as fewer, larger requests, well
 * ahead of the reader. Measured on a 256 MiB cold `dd bs=128k`: 482-484 against 353-404 MB/s,
 * the mount's CPU 2.0-2.1 against 2.3-3.0 ms/MB (docs/BENCHMARKS.md).
 */
export const DEFAULT_READ_AHEAD_KB = DEFAULT_BLOCK_SIZE / 1024

/** Longest a request waits for the kernel to drop the other names of a hard-linked inode. */
export const INVALIDATE_WAIT_MS = 5_000

export interface MountInit {
  /**
   * The tree never changes under this mount (a read-only view of one version): the kernel
   * keeps file pages across opens (kernel_cache) and attributes for `immutableTimeoutS`.
   * @default false
   */
  immutable?: boolean
  /**
   * Every change to the tree passes through this mount (the owner's read-write mount: another
   * writer of the same key is refused with a conflict), so the kernel's copy of a file's pages
   * is never stale and may be kept across opens, file by file (KernelLink.keepCache: not for
   * hard-linked files).
   * @default false
   */
  soleWriter?: boolean
  /** Seconds the kernel trusts attributes and names of a tree that can change. @default DEFAULT_ATTR_TIMEOUT_S */
  attrTimeoutS?: number
  /** Attribute and name timeout of an immutable tree. @default DEFAULT_IMMUTABLE_TIMEOUT_S */
  immutableTimeoutS?: number
  /** Let other users in (allow_other); the kernel then checks modes (default_permissions). @default false */
  allowOther?: boolean
  /** Unmount when this process dies, however it dies (auto_unmount). @default true */
  autoUnmount?: boolean
  /** Shown by df and mount as the source. @default DEFAULT_FSNAME */
  fsname?: string
  /** Kernel requests served at once (1-64). @default DEFAULT_MAX_CONCURRENCY */
  maxConcurrency?: number
  /** The kernel's read-ahead for this mount, in KiB (raised only; needs root). @default DEFAULT_READ_AHEAD_KB */
  readAheadKb?: number
  /** libfuse's request trace on stderr. @default false */
  debug?: boolean
  logger?: ComponentLogger
}

export interface Mounted {
  readonly dir: string
  /** Unmounts (lazily if busy). */
  unmount: () => Promise<void>
}

/** fuse-napi's options for a mount. */
export function mountOptions (init: MountInit): Fuse.OPTIONS {
  const timeout = init.immutable === true ? (init.immutableTimeoutS ?? DEFAULT_IMMUTABLE_TIMEOUT_S) : (init.attrTimeoutS ?? DEFAULT_ATTR_TIMEOUT_S)
  const allowOther = init.allowOther === true
  return {
    force: true,
    autoUnmount: init.autoUnmount ?? true,
    fsname: init.fsname ?? DEFAULT_FSNAME,
    subtype: 'cfs',
    // The owner's mount keeps pages per file instead (CfsFuse open: not for hard links).
    kernelCache: init.immutable === true,
    attrTimeout: timeout,
    entryTimeout: timeout,
    allowOther,
    // Without the kernel checking modes, allow_other would let anyone read and write anything.
    defaultPermissions: allowOther,
    maxConcurrency: init.maxConcurrency ?? DEFAULT_MAX_CONCURRENCY,
    debug: init.debug === true,
    // None of fuse-napi's own (a timer per request): CfsFuse answers every request by its
    // deadline (opTimeoutMs, syncTimeoutMs for publications).
    timeout: false,
  }
}

/** The `-o` options fuse-napi has no key for. */
export function rawOptions (readOnly: boolean): string[] {
  return readOnly ? ['ro'] : []
}

/**
 * Mounts the operations at `dir`. A dead mount left there by a killed process is cleared
 * first (fuse-napi `force`); a live one, or a directory that is not empty, is an error
 * that says so.
 */
export async function mountCfs (dir: string, fuse: CfsFuse, init: MountInit = {}): Promise<Mounted> {
  const log = (init.logger ?? createLogger()).forComponent('fuse:mount')
  const mnt = resolve(dir)
  await checkMountpoint(mnt)
  const { Fuse, native: binding } = loadFuse()
  // Names in other namespaces are refused by the binding, without a trip to JavaScript.
  binding.fuse_native_set_xattr_namespaces(XATTR_NAMESPACES)
  const options = mountOptions(init)
  const raw = rawOptions(fuse.readOnly)
  const debug = init.debug === true
  const baseOptions = (Fuse.prototype as unknown as { _fuseOptions: (this: Fuse) => string })._fuseOptions
  class CfsFuseNapi extends Fuse {
    // fuse-napi 2.3.1 builds the `-o` string here (a private method: the version is pinned).
    // It adds libfuse's `debug` (every request on stderr) whenever $DEBUG holds a `*`, as ours
    // does for cfs:* logs: only an explicit ask turns it on. `ro` has no option key.
    _fuseOptions (): string {
      const base = baseOptions.call(this).replace(/^-o/, '').split(',').filter((o) => o !== '' && (debug || o !== 'debug'))
      const all = [...base, ...raw]
      return all.length > 0 ? `-o${all.join(',')}` : ''
    }
  }
  // Paths are strings: the options set neither nullPathOk nor noPath (CfsOperations).
  const native = new CfsFuseNapi(mnt, fuse.ops as Fuse.OPERATIONS, options)
  fuse.attach({
    // New inodes belong to whoever asks (the request's uid and gid), not to the mounting user.
    caller: () => native.context(),
    invalidate: async (path) => new Promise<void>((resolve) => {
      // fuse-napi's invalidateEntry would look the parent up by its st_ino (binding.ts).
      const thread = (native as unknown as { _thread: unknown })._thread
      if (thread === null || thread === undefined) {
        resolve()
        return
      }
      // The request waits for this: never longer than INVALIDATE_WAIT_MS, whatever the kernel does.
      const timer = setTimeout(() => {
        log('dropping %s from the kernel cache: no answer after %d ms, going on', path, INVALIDATE_WAIT_MS)
        resolve()
      }, INVALIDATE_WAIT_MS)
      binding.fuse_native_invalidate_entry(thread, INVALIDATE_BY_PATH, path, (result) => {
        clearTimeout(timer)
        if (result !== 0 && result !== -2) log('dropping %s from the kernel cache: errno %d', path, -result) // -2: not cached, nothing to do
        resolve()
      })
    }),
    forgetCapabilities: () => { binding.fuse_native_forget_capabilities() },
    keepCache: init.soleWriter === true,
  })
  await new Promise<void>((resolve, reject) => {
    native.mount((err) => {
      if (err === null || err === undefined) resolve()
      else reject(mountError(mnt, err))
    })
  })
  log('mounted %s (%s)', mnt, baseOptions.call(native).replace(/^-o/, '') + (raw.length > 0 ? `,${raw.join(',')}` : ''))
  await raiseReadAhead(mnt, init.readAheadKb ?? DEFAULT_READ_AHEAD_KB, log)
  let unmounting: Promise<void> | undefined
  return {
    dir: mnt,
    unmount: async () => {
      unmounting ??= new Promise<void>((resolve, reject) => {
        native.unmount((err) => {
          if (err === null || err === undefined) resolve()
          else reject(new Error(`could not unmount ${mnt}: ${err.message}`, { cause: err }))
        })
      })
      return unmounting
    },
  }
}

/**
 * Raises the kernel's read-ahead of the mount at `mnt` to `kb`, through its backing device in
 * sysfs (found in /proc/self/mountinfo: nothing here touches the mount, which this process
 * serves). Without the permission (not root) or the file, the mount keeps the kernel's
 * default, and the log says why.
 */
export async function raiseReadAhead (mnt: string, kb: number, log: Logger): Promise<void> {
  try {
    const device = mountDevice(await readFile('/proc/self/mountinfo', 'utf8'), mnt)
    if (device === undefined) throw new Error('not in /proc/self/mountinfo')
    const file = `/sys/class/bdi/${device}/read_ahead_kb`
    const current = Number((await readFile(file, 'utf8')).trim())
    if (current >= kb) return
    await writeFile(file, `${kb}\n`)
    log('kernel read-ahead of %s: %d KiB (was %d)', mnt, kb, current)
  } catch (err) {
    log('kernel read-ahead of %s left at its default: %s', mnt, (err as Error).message)
  }
}

/** The major:minor of the last mount at `mnt` in a mountinfo text (mount points escape space, tab, newline and backslash in octal). */
export function mountDevice (mountinfo: string, mnt: string): string | undefined {
  let device: string | undefined
  for (const line of mountinfo.split('\n')) {
    const fields = line.split(' ')
    const point = fields[4]?.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)))
    if (point === mnt) device = fields[2]
  }
  return device
}

async function checkMountpoint (mnt: string): Promise<void> {
  let names: string[]
  try {
    names = await readdir(mnt)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (code === 'ENOTCONN' || code === 'ENXIO') return // a dead mount: `force` clears it
    if (code === 'ENOENT') throw new Error(`mount point ${mnt} does not exist`)
    if (code === 'ENOTDIR') throw new Error(`mount point ${mnt} is not a directory`)
    throw err
  }
  if (names.length > 0) throw new Error(`mount point ${mnt} is not empty (or is mounted already)`)
}

function mountError (mnt: string, err: Error): Error {
  if (/in use/i.test(err.message)) return new Error(`${mnt} is mounted already (cfs unmount ${mnt})`, { cause: err })
  return new Error(`could not mount ${mnt}: ${err.message} (is /dev/fuse there, and fusermount3 installed?)`, { cause: err })
}
