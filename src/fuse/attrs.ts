import { createHash } from 'node:crypto'
import type Fuse from 'fuse-napi'
import { encodeTime, type EntryType, type SpecialType, type Stat } from '../fs/index.js'

export const S_IFREG = 0o100000
export const S_IFDIR = 0o040000
export const S_IFLNK = 0o120000
export const S_IFIFO = 0o010000
export const S_IFSOCK = 0o140000
export const S_IFCHR = 0o020000
export const S_IFBLK = 0o060000
export const S_IFMT = 0o170000
export const PERMISSION_BITS = 0o7777

/**
 * Preferred I/O size reported in st_blksize, and the largest write the mount asks the kernel
 * for (max_write): cp and friends write in pieces the kernel passes on whole, one data block each.
 */
export const IO_BLOCK_BYTES = 1024 * 1024

const TYPE_BITS: Readonly<Record<EntryType, number>> = {
  file: S_IFREG, dir: S_IFDIR, symlink: S_IFLNK, fifo: S_IFIFO, socket: S_IFSOCK, chardev: S_IFCHR, blockdev: S_IFBLK,
}

/** The special file types by their S_IFMT bits (mknod). */
export const SPECIAL_TYPES: ReadonlyMap<number, SpecialType> = new Map([
  [S_IFIFO, 'fifo'], [S_IFSOCK, 'socket'], [S_IFCHR, 'chardev'], [S_IFBLK, 'blockdev'],
])

/**
 * What toFuseStat needs. Entries of the snapshots directory itself (not of a version) have
 * no inode: they get the mount owner's uid and gid, one link (two for a directory), and the
 * mtime as the atime.
 */
export type StatInput = Pick<Stat, 'type' | 'mode' | 'size' | 'mtimeNs' | 'ctimeNs' | 'uid' | 'gid'> & Partial<Pick<Stat, 'nlink' | 'rdev' | 'atimeNs'>>

const NS_PER_S = 1_000_000_000n
const HIGH_BIT = 1n << 63n

/**
 * Inode numbers of what is not in the mounted tree, kept apart from the tree's own (which are
 * small): the high bit set, then 63 bits of the SHA-256 of `parts`. The mount sets libfuse's
 * use_ino (patches/), so st_ino is what getattr says: a past version's entries must not show
 * the numbers of the live tree's (find and du would take /.snapshots/N for a loop back to /).
 */
export function syntheticIno (...parts: ReadonlyArray<string | number>): bigint {
  const h = createHash('sha256').update(parts.join('\0')).digest().readBigUInt64LE(0)
  return HIGH_BIT | (h & (HIGH_BIT - 1n))
}

/** Nanoseconds since the epoch as a timespec (the format's own split: seconds, then 0..999999999 ns). */
export function nsToTimespec (ns: bigint): Fuse.Timespec {
  const [seconds, nanoseconds] = encodeTime(ns)
  return { seconds, nanoseconds }
}

/** A timespec as nanoseconds since the epoch (UTIME_NOW and UTIME_OMIT are the caller's). */
export function timespecToNs (t: Fuse.Timespec): bigint {
  return BigInt(t.seconds) * NS_PER_S + BigInt(t.nanoseconds)
}

/** Attributes the kernel gets: the inode's own, with `ino` as st_ino. */
export function toFuseStat (stat: StatInput, ino: number | bigint): Fuse.Stats {
  return {
    mode: TYPE_BITS[stat.type] | (stat.mode & PERMISSION_BITS),
    ino,
    uid: stat.uid,
    gid: stat.gid,
    size: stat.size,
    nlink: stat.nlink ?? (stat.type === 'dir' ? 2 : 1),
    rdev: stat.rdev ?? 0,
    blksize: IO_BLOCK_BYTES,
    blocks: Math.ceil(stat.size / 512),
    atime: nsToTimespec(stat.atimeNs ?? stat.mtimeNs),
    mtime: nsToTimespec(stat.mtimeNs),
    ctime: nsToTimespec(stat.ctimeNs),
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

/** Fragment size of statfs's block counts (64-bit through fuse-napi and libfuse 3: no need to grow it). */
export const STATFS_FRAGMENT_BYTES = 4096

/** statfs numbers, in 4 KiB fragments. */
export function toFuseStatfs (space: SpaceInfo, namemax: number): Fuse.Statfs {
  const count = (n: number): number => Math.max(0, Math.floor(n))
  const blocks = (bytes: number): number => count(bytes / STATFS_FRAGMENT_BYTES)
  const files = count(space.files ?? DEFAULT_STATFS_FILES)
  const freeFiles = Math.min(files, count(space.freeFiles ?? files))
  return {
    bsize: IO_BLOCK_BYTES,
    frsize: STATFS_FRAGMENT_BYTES,
    blocks: blocks(space.totalBytes),
    bfree: blocks(space.freeBytes),
    bavail: blocks(space.availableBytes ?? space.freeBytes),
    files,
    ffree: freeFiles,
    favail: freeFiles,
    fsid: 0x63667300, // "cfs\0"
    flag: 0,
    namemax,
  }
}
