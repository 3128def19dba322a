import type FuseNative from 'fuse-native'
import type { EntryType, Stat } from '../fs/index.js'

export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000
export const S_IFMT = 0o170000
export const PERMISSION_BITS = 0o7777

/**
 * Preferred I/O size reported in st_blksize: what one FUSE write carries with big_writes, so
 * cp and friends write in pieces the kernel passes on whole.
 */
export const IO_BLOCK_BYTES = 128 * 1024

/** UTIME_NOW and UTIME_OMIT both arrive as this many milliseconds (tv_sec 0, tv_nsec ~2^30). */
export const UTIME_SPECIAL_MS = 1073

const TYPE_BITS: Readonly<Record<EntryType, number>> = { file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK }

export interface Owner { readonly uid: number, readonly gid: number }

/** Attributes the kernel gets: cfs keeps no owner (everything is the mounting user's) and no atime (it is the mtime). */
export function toFuseStat (stat: Pick<Stat, 'type' | 'mode' | 'size' | 'mtimeMs' | 'ctimeMs'>, owner: Owner): FuseNative.Stat {
  return {
    mode: TYPE_BITS[stat.type] | (stat.mode & PERMISSION_BITS),
    uid: owner.uid,
    gid: owner.gid,
    size: stat.size,
    // Directories say 1, as btrfs does: "unknown", so find does not count subdirectories by it.
    nlink: 1,
    blksize: IO_BLOCK_BYTES,
    blocks: Math.ceil(stat.size / 512),
    atime: stat.mtimeMs,
    mtime: stat.mtimeMs,
    ctime: stat.ctimeMs,
  }
}

/** Files statfs reports when the space has no count: cfs has no inode table. */
export const DEFAULT_STATFS_FILES = 1_000_000_000

/** Space as the node reports it. */
export interface SpaceInfo {
  readonly totalBytes: number
  readonly freeBytes: number
  /** Free to an unprivileged user. @default freeBytes */
  readonly availableBytes?: number
  /** @default DEFAULT_STATFS_FILES: cfs has no inode table */
  readonly files?: number
  readonly freeFiles?: number
}

const UINT32_MAX = 0xffff_ffff

/**
 * statfs numbers: fuse-native passes each as an unsigned 32-bit integer, so the fragment size
 * grows (a power of two from 4 KiB) until the block counts fit.
 */
export function toFuseStatfs (space: SpaceInfo, namemax: number): FuseNative.Statfs {
  let frsize = 4096
  while (space.totalBytes / frsize > UINT32_MAX && frsize < 2 ** 30) frsize *= 2
  const count = (bytes: number): number => Math.min(UINT32_MAX, Math.max(0, Math.floor(bytes / frsize)))
  const files = Math.min(UINT32_MAX, space.files ?? DEFAULT_STATFS_FILES)
  const freeFiles = Math.min(files, space.freeFiles ?? files)
  return {
    bsize: Math.max(frsize, IO_BLOCK_BYTES),
    frsize,
    blocks: count(space.totalBytes),
    bfree: count(space.freeBytes),
    bavail: count(space.availableBytes ?? space.freeBytes),
    files,
    ffree: freeFiles,
    favail: freeFiles,
    fsid: 0x63667300, // "cfs\0"
    flag: 0,
    namemax,
  }
}
