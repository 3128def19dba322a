import type { AbortOptions } from '../core/index.js'
import type { DirEntry } from './dir-node.js'
import type { ListOptions } from './directory.js'
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
  /** Cut the file to 0 bytes (O_TRUNC; needs `write`). @default false */
  truncate?: boolean
  /** Permission bits of a created file. @default DEFAULT_FILE_MODE (inode.ts) */
  mode?: number
}

/**
 * An open regular file. A handle on a published version reads that version however the
 * volume changes meanwhile; a handle on the owner's volume follows the file through renames
 * and sees every write at once.
 */
export interface FileHandle {
  /** The path it was opened at (or renamed to since). */
  readonly path: string
  stat: (options?: AbortOptions) => Promise<Stat>
  /** Up to `length` bytes at `offset`; fewer at the end of the file. */
  read: (offset: number, length: number, options?: AbortOptions) => Promise<Uint8Array>
  readStream: (options?: ReadStreamOptions) => AsyncIterable<Uint8Array>
  /** Writes all of `data` at `offset` and returns its length. */
  write: (offset: number, data: Uint8Array, options?: AbortOptions) => Promise<number>
  truncate: (size: number, options?: AbortOptions) => Promise<void>
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
  /** The entries of a directory in name order, streamed. */
  readdir: (path: string, options?: ListOptions) => AsyncIterable<DirEntry>
  readlink: (path: string, options?: AbortOptions) => Promise<string>
  read: (file: string | FileHandle, offset: number, length: number, options?: AbortOptions) => Promise<Uint8Array>
  readStream: (path: string, options?: ReadStreamOptions) => AsyncIterable<Uint8Array>
  open: (path: string, options?: OpenOptions & AbortOptions) => Promise<FileHandle>

  /** An empty file; with `exclusive: false` an existing file is left as it is. */
  create: (path: string, options?: { mode?: number, exclusive?: boolean } & AbortOptions) => Promise<void>
  mkdir: (path: string, options?: { mode?: number } & AbortOptions) => Promise<void>
  symlink: (target: string, path: string, options?: AbortOptions) => Promise<void>
  unlink: (path: string, options?: AbortOptions) => Promise<void>
  rmdir: (path: string, options?: AbortOptions) => Promise<void>
  rename: (from: string, to: string, options?: AbortOptions) => Promise<void>
  chmod: (path: string, mode: number, options?: AbortOptions) => Promise<void>
  setTimes: (path: string, mtimeMs: number, options?: AbortOptions) => Promise<void>
  truncate: (path: string, size: number, options?: AbortOptions) => Promise<void>
  write: (file: string | FileHandle, offset: number, data: Uint8Array, options?: AbortOptions) => Promise<number>
  /** Writes a stream at `offset` (default 0), holding only a few blocks in memory. Returns bytes written. */
  writeStream: (path: string, source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, options?: { offset?: number } & AbortOptions) => Promise<number>
}
