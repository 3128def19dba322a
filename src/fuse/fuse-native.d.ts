// The parts of fuse-native 2.2.6 that cfs uses (the package ships no types). Callbacks take
// a number first: 0, a negative errno, or (read/write) a byte count; see docs/FUSE.md.
declare module 'fuse-native' {
  namespace Fuse {
    /** Times are milliseconds since the epoch (fuse-native keeps no finer precision). */
    interface Stat {
      mode: number
      uid: number
      gid: number
      size: number
      nlink: number
      blksize: number
      blocks: number
      atime: number
      mtime: number
      ctime: number
      dev?: number
      ino?: number
      rdev?: number
    }

    /** Every field is an unsigned 32-bit integer. */
    interface Statfs {
      bsize: number
      frsize: number
      blocks: number
      bfree: number
      bavail: number
      files: number
      ffree: number
      favail: number
      fsid: number
      flag: number
      namemax: number
    }

    type Done = (code: number) => void

    interface Operations {
      init?: (cb: Done) => void
      statfs?: (path: string, cb: (code: number, statfs?: Statfs) => void) => void
      getattr?: (path: string, cb: (code: number, stat?: Stat) => void) => void
      /** fuse-native routes fgetattr to getattr (by path). */
      fgetattr?: (path: string, fd: number, cb: (code: number, stat?: Stat) => void) => void
      readdir?: (path: string, cb: (code: number, names?: string[]) => void) => void
      readlink?: (path: string, cb: (code: number, target?: string) => void) => void
      open?: (path: string, flags: number, cb: (code: number, fd?: number) => void) => void
      /** No flags: the kernel has already done the O_EXCL lookup. */
      create?: (path: string, mode: number, cb: (code: number, fd?: number) => void) => void
      /** cb(bytesRead) */
      read?: (path: string, fd: number, buffer: Buffer, length: number, position: number, cb: (bytes: number) => void) => void
      /** cb(bytesWritten); `buffer` is detached after the callback. */
      write?: (path: string, fd: number, buffer: Buffer, length: number, position: number, cb: (bytes: number) => void) => void
      flush?: (path: string, fd: number, cb: Done) => void
      fsync?: (path: string, datasync: number, fd: number, cb: Done) => void
      fsyncdir?: (path: string, datasync: number, fd: number, cb: Done) => void
      release?: (path: string, fd: number, cb: Done) => void
      truncate?: (path: string, size: number, cb: Done) => void
      ftruncate?: (path: string, fd: number, size: number, cb: Done) => void
      /** Milliseconds; stock 2.2.6 passes the atime as both (see binding.ts). */
      utimens?: (path: string, atime: number, mtime: number, cb: Done) => void
      chmod?: (path: string, mode: number, cb: Done) => void
      chown?: (path: string, uid: number, gid: number, cb: Done) => void
      mknod?: (path: string, mode: number, dev: number, cb: Done) => void
      unlink?: (path: string, cb: Done) => void
      rmdir?: (path: string, cb: Done) => void
      mkdir?: (path: string, mode: number, cb: Done) => void
      rename?: (src: string, dest: string, cb: Done) => void
      link?: (src: string, dest: string, cb: Done) => void
      symlink?: (target: string, path: string, cb: Done) => void
    }

    interface Options {
      displayFolder?: boolean
      debug?: boolean
      force?: boolean
      mkdir?: boolean
      allowOther?: boolean
      allowRoot?: boolean
      autoUnmount?: boolean
      defaultPermissions?: boolean
      kernelCache?: boolean
      fsname?: string
      subtype?: string
      /** Milliseconds per op before ETIMEDOUT; per-op overrides, `false` for none. */
      timeout?: number | false | Record<string, number | false>
    }
  }

  class Fuse {
    constructor (mnt: string, ops: Fuse.Operations, opts?: Fuse.Options)
    readonly mnt: string
    readonly opts: Fuse.Options
    mount (cb: (err: Error | null) => void): void
    unmount (cb: (err: Error | null) => void): void
    /** Private in fuse-native: builds the `-o` option string. Subclassed for raw options. */
    protected _fuseOptions (): string
    /** `fusermount -uz DIR`. */
    static unmount (mnt: string, cb: (err: Error | null) => void): void
  }

  export = Fuse
}
