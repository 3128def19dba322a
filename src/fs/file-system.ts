import type { AbortOptions } from '../core/index.js'
import type { InodeEntry } from './dir-node.js'
import type { ListOptions } from './directory.js'
import type { ReadLoans } from './loans.js'
import type { Owner, SpecialType } from './inode.js'
import type { RenameMode, SetTimes, XattrMode } from './tree.js'
import type { Stat } from './tree-read.js'

export interface ReadStreamOptions extends AbortOptions {
  /** @default 0 */
  offset?: number
  /** @default to the end of the file */
  length?: number
}

export interface OpenOptions {
  /** Open for writing (ReadOnlyError on a read-only tree). @default false */
  write?: boolean
  /** Create the file if it is missing (O_CREAT). @default false */
  create?: boolean
  /** With `create`: fail with EntryExistsError if it exists (O_EXCL). @default false */
  exclusive?: boolean
  /** Cut the file to 0 bytes (O_TRUNC; as on Linux, also for a read-only open). @default false */
  truncate?: boolean
  /** Permission bits of a created file. @default DEFAULT_FILE_MODE (inode.ts) */
  mode?: number
  /** Owner of a created file. @default the volume's (VolumeInit.owner) */
  owner?: Owner
}

/** Who creates an inode: its owner (the caller's uid and gid on a mount). */
export interface OwnerOptions extends AbortOptions {
  /** @default the volume's owner (VolumeInit.owner) */
  owner?: Owner
}

/** How a write is made. */
export interface WriteOptions extends AbortOptions {
  /**
   * Then sets the file's times, in the same change: what a utimens right after the last
   * write would do (cp -a, tar -x and rsync set the times of each file they write), with one
   * rewrite of the file's directory chain instead of two.
   */
  times?: SetTimes
  /**
   * The caller hands `data` over and never writes to it again: the file system may keep it as
   * it is (as a block's bytes until the ring has them) instead of copying it.
   */
  transfer?: boolean
}

/** How a read may answer. */
export interface FileReadOptions extends AbortOptions {
  /**
   * The result may be a view of a cached block's bytes (a read within one block that holds
   * every byte asked for), which the caller must not write to and copies if it keeps it.
   * Otherwise the result is the caller's own.
   */
  shared?: boolean
  /**
   * With `shared`: the view may be lent, its block's memory used for other blocks once these
   * loans end (ReadLoans.end), which the caller does as soon as it has copied the bytes.
   * Without loans, a view stays valid as long as it is held.
   */
  loans?: ReadLoans
}

/**
 * An open regular file. A handle on a published version reads that version however the
 * volume changes meanwhile; a handle on the owner's volume follows the file through renames
 * and sees every write at once.
 */
export interface FileHandle {
  /** The path it was opened at (or renamed to since). */
  readonly path: string
  /** The file has no name any more (unlinked, or replaced by a rename): `path` is not it. */
  readonly unlinked: boolean
  stat: (options?: AbortOptions) => Promise<Stat>
  /** Up to `length` bytes at `offset` (fewer at the end of the file); `shared`: see FileReadOptions. */
  read: (offset: number, length: number, options?: FileReadOptions) => Promise<Uint8Array>
  readStream: (options?: ReadStreamOptions) => AsyncIterable<Uint8Array>
  /** Writes all of `data` at `offset` and returns its length. */
  write: (offset: number, data: Uint8Array, options?: WriteOptions) => Promise<number>
  truncate: (size: number, options?: AbortOptions) => Promise<void>
  /** A close(2) of one of its descriptors: the file is in the tree afterwards (a created one, too). */
  flush: (options?: AbortOptions) => Promise<void>
  close: () => Promise<void>
}

/**
 * The file operations FUSE and the CLI need, by path. Paths are absolute names separated
 * by `/`; `.`/`..` are not resolved and symbolic links are not followed (the kernel does
 * both before calling FUSE). Errors are CfsError subclasses with stable codes.
 */
export interface FileSystem {
  /** Attributes of what is at `path` (lstat: a final symbolic link is not followed). */
  stat: (path: string, options?: AbortOptions) => Promise<Stat>
  /** The entries of a directory in name order with their attributes, streamed. */
  readdir: (path: string, options?: ListOptions) => AsyncIterable<InodeEntry>
  readlink: (path: string, options?: AbortOptions) => Promise<string>
  /**
   * One extended attribute's value; undefined when there is none (ENODATA). Not an error: the
   * kernel asks for `security.capability` before every write of a file.
   */
  getxattr: (path: string, name: string, options?: AbortOptions) => Promise<Uint8Array | undefined>
  /** The names of an inode's extended attributes, sorted. */
  listxattr: (path: string, options?: AbortOptions) => Promise<string[]>
  read: (file: string | FileHandle, offset: number, length: number, options?: AbortOptions) => Promise<Uint8Array>
  readStream: (path: string, options?: ReadStreamOptions) => AsyncIterable<Uint8Array>
  open: (path: string, options?: OpenOptions & AbortOptions) => Promise<FileHandle>

  /** An empty file; with `exclusive: false` an existing file is left as it is. */
  create: (path: string, options?: { mode?: number, exclusive?: boolean } & OwnerOptions) => Promise<void>
  mkdir: (path: string, options?: { mode?: number } & OwnerOptions) => Promise<void>
  symlink: (target: string, path: string, options?: OwnerOptions) => Promise<void>
  /** A fifo, socket or device node (`rdev`: a device's number). */
  mknod: (path: string, type: SpecialType, options?: { mode?: number, rdev?: number } & OwnerOptions) => Promise<void>
  /** A new name for the non-directory at `existing` (link(2)). */
  link: (existing: string, path: string, options?: AbortOptions) => Promise<void>
  unlink: (path: string, options?: AbortOptions) => Promise<void>
  rmdir: (path: string, options?: AbortOptions) => Promise<void>
  /** `mode`: renameat2's RENAME_NOREPLACE ('noreplace') or RENAME_EXCHANGE ('exchange'). @default 'replace' */
  rename: (from: string, to: string, options?: { mode?: RenameMode } & AbortOptions) => Promise<void>
  chmod: (path: string, mode: number, options?: AbortOptions) => Promise<void>
  /** Sets the owner and/or group; undefined leaves one as it is. */
  chown: (path: string, uid: number | undefined, gid: number | undefined, options?: AbortOptions) => Promise<void>
  /** Sets the access and/or modification time (nanoseconds); ctime becomes now. */
  setTimes: (path: string, times: SetTimes, options?: AbortOptions) => Promise<void>
  /** Sets an extended attribute; `mode` is XATTR_CREATE / XATTR_REPLACE / neither. */
  setxattr: (path: string, name: string, value: Uint8Array, mode?: XattrMode, options?: AbortOptions) => Promise<void>
  removexattr: (path: string, name: string, options?: AbortOptions) => Promise<void>
  truncate: (path: string, size: number, options?: AbortOptions) => Promise<void>
  write: (file: string | FileHandle, offset: number, data: Uint8Array, options?: WriteOptions) => Promise<number>
  /** Writes a stream at `offset` (default 0), holding only a few blocks in memory. Returns bytes written. */
  writeStream: (path: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: { offset?: number } & AbortOptions) => Promise<number>
}
