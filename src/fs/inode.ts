import { BlockInvalidError, type Key } from '../core/index.js'
import { encodeCbor, decodeCbor } from './codec.js'
import { FS_FORMAT_VERSION, Fields, MAX_BLOCK_BYTES, checkUint } from './format.js'
import { MAX_INLINE_BYTES, depthFor, isInline } from './indirect.js'
import type { NodeCodec } from './tree-store.js'

/**
 * What an inode is. Numeric on disk: 1 file, 2 directory, 3 symbolic link, 4 fifo, 5 socket,
 * 6 character device, 7 block device. The kernel does the I/O of the last four: cfs keeps
 * their attributes (and a device's number) only.
 */
export type EntryType = 'file' | 'dir' | 'symlink' | 'fifo' | 'socket' | 'chardev' | 'blockdev'
export type SpecialType = 'fifo' | 'socket' | 'chardev' | 'blockdev'
export const TYPE_CODES: Readonly<Record<EntryType, number>> = { file: 1, dir: 2, symlink: 3, fifo: 4, socket: 5, chardev: 6, blockdev: 7 }
const TYPES_BY_CODE: ReadonlyMap<number, EntryType> = new Map(Object.entries(TYPE_CODES).map(([t, c]) => [c, t as EntryType]))

export function entryTypeOf (code: unknown, what: string): EntryType {
  const type = typeof code === 'number' ? TYPES_BY_CODE.get(code) : undefined
  if (type === undefined) throw new BlockInvalidError(`${what}: unknown entry type ${String(code)}`)
  return type
}

export function isSpecial (type: EntryType): type is SpecialType {
  return type === 'fifo' || type === 'socket' || type === 'chardev' || type === 'blockdev'
}

/** Permission bits a mode keeps, with setuid, setgid and sticky (no file type bits: the type is its own field). */
export const MODE_MASK = 0o7777
export const S_ISUID = 0o4000
export const S_ISGID = 0o2000
/** Permission bits of a file created without a mode. */
export const DEFAULT_FILE_MODE = 0o644
/** Permission bits of a directory created without a mode (and of a new volume's top). */
export const DEFAULT_DIR_MODE = 0o755
/** Inode number of a volume's top directory; numbers below it are never used. */
export const TOP_INO = 1
/** Largest uid or gid (Linux's are 32-bit; 2^32 - 1 means "unchanged" in chown). */
export const MAX_ID = 0xffff_fffe

/** An owner: the uid and gid new inodes get (the caller's, on a mount). */
export interface Owner { readonly uid: number, readonly gid: number }

/**
 * Attributes every inode has, which its directory entry repeats for `ls -l` (docs/PROTOCOL.md).
 * Times are nanoseconds since the epoch, before 1970 and after 2038 included.
 */
export interface Attributes {
  /** Inode number: unique in the volume, kept for the inode's life (all its names share it). */
  readonly ino: number
  /** Permission bits with setuid, setgid and sticky, 0..0o7777. */
  readonly mode: number
  readonly uid: number
  readonly gid: number
  /** Names of a non-directory; 2 + subdirectories for a directory. */
  readonly nlink: number
  /** Bytes for files, entries for directories, target bytes for symbolic links, 0 otherwise. */
  readonly size: number
  /** Device number of a character or block device; 0 otherwise. */
  readonly rdev: number
  readonly atimeNs: bigint
  readonly mtimeNs: bigint
  readonly ctimeNs: bigint
}

/** An extended attribute: a name (with its namespace, `user.x`) and a value. */
export type Xattr = readonly [name: string, value: Uint8Array]

interface InodeBase extends Attributes {
  /** Extended attributes, sorted by name. */
  readonly xattrs: readonly Xattr[]
}

export interface FileInode extends InodeBase {
  readonly type: 'file'
  /** Data block size of this file, fixed when it was created. */
  readonly blockSize: number
  /** Levels of indirect blocks above the data blocks (file-data.ts). */
  readonly depth: number
  /** Top of the block tree: a data block when depth is 0; null when every byte is zero or the bytes are inline. */
  readonly data: Key | null
  /** A small file's bytes without trailing zeros (isInline in indirect.ts); null otherwise and when all are zero. */
  readonly inline: Uint8Array | null
}

/**
 * What only a volume's top directory carries: its inode table of hard-linked inodes and the
 * next free inode number (tree.ts: "Inode numbers and hard links").
 */
export interface VolumeTable {
  /** Entry tree (directory.ts) of the inodes with more than one name, keyed by inoName(ino). */
  readonly links: Key | null
  readonly nextIno: number
}

export interface DirInode extends InodeBase {
  readonly type: 'dir'
  /** Top node of the entry tree (directory.ts); null when empty. */
  readonly entries: Key | null
  /** Present on a volume's top directory only. */
  readonly table?: VolumeTable
}

export interface SymlinkInode extends InodeBase {
  readonly type: 'symlink'
  readonly target: string
}

export interface SpecialInode extends InodeBase {
  readonly type: SpecialType
}

export type Inode = FileInode | DirInode | SymlinkInode | SpecialInode

/** Largest symbolic link target, in bytes (Linux PATH_MAX). */
export const MAX_TARGET_BYTES = 4096

const NS_PER_S = 1_000_000_000n

/** A time as CBOR stores it: [seconds (negative before 1970), nanoseconds 0..999999999]. */
export function encodeTime (ns: bigint): [number, number] {
  let s = ns / NS_PER_S
  let n = ns % NS_PER_S
  if (n < 0n) {
    s -= 1n
    n += NS_PER_S
  }
  return [Number(s), Number(n)]
}

export function decodeTime (raw: unknown, what: string): bigint {
  if (!Array.isArray(raw) || raw.length !== 2) throw new BlockInvalidError(`${what}: not a time`)
  const [s, n] = raw as unknown[]
  if (typeof s !== 'number' || !Number.isSafeInteger(s)) throw new BlockInvalidError(`${what}: seconds are not an integer`)
  if (typeof n !== 'number' || !Number.isInteger(n) || n < 0 || n >= 1e9) throw new BlockInvalidError(`${what}: nanoseconds out of range`)
  return BigInt(s) * NS_PER_S + BigInt(n)
}

export function nsToMs (ns: bigint): number {
  const ms = ns / 1_000_000n
  return Number(ns < 0n && ms * 1_000_000n !== ns ? ms - 1n : ms)
}

export function msToNs (ms: number): bigint {
  return BigInt(Math.floor(ms)) * 1_000_000n
}

/** The attributes of an inode, in the order a directory entry stores them after name, type and key. */
export function encodeAttributes (a: Attributes): unknown[] {
  return [a.ino, a.mode, a.uid, a.gid, a.nlink, a.size, a.rdev, encodeTime(a.atimeNs), encodeTime(a.mtimeNs), encodeTime(a.ctimeNs)]
}

export const ATTRIBUTE_FIELDS = 10

export function decodeAttributes (raw: readonly unknown[], what: string): Attributes {
  const [ino, mode, uid, gid, nlink, size, rdev, atime, mtime, ctime] = raw
  return checkAttributes({
    ino: checkUint(ino, `${what}.ino`),
    mode: checkUint(mode, `${what}.mode`),
    uid: checkUint(uid, `${what}.uid`),
    gid: checkUint(gid, `${what}.gid`),
    nlink: checkUint(nlink, `${what}.nlink`),
    size: checkUint(size, `${what}.size`),
    rdev: checkUint(rdev, `${what}.rdev`),
    atimeNs: decodeTime(atime, `${what}.atime`),
    mtimeNs: decodeTime(mtime, `${what}.mtime`),
    ctimeNs: decodeTime(ctime, `${what}.ctime`),
  }, what)
}

function checkAttributes (a: Attributes, what: string): Attributes {
  if (a.ino < TOP_INO) throw new BlockInvalidError(`${what}: inode number 0`)
  if (a.mode > MODE_MASK) throw new BlockInvalidError(`${what}: mode out of range`)
  if (a.uid > MAX_ID || a.gid > MAX_ID) throw new BlockInvalidError(`${what}: owner out of range`)
  if (a.nlink < 1) throw new BlockInvalidError(`${what}: no links`)
  return a
}

/** Longest extended attribute name, in bytes (Linux XATTR_NAME_MAX). */
export const MAX_XATTR_NAME_BYTES = 255
/** Largest extended attribute value, in bytes (Linux XATTR_SIZE_MAX). */
export const MAX_XATTR_VALUE_BYTES = 64 * 1024
/** Names and values of all of one inode's extended attributes together, in bytes. */
export const MAX_XATTR_TOTAL_BYTES = 256 * 1024

function decodeXattrs (raw: unknown[], what: string): Xattr[] {
  const out: Xattr[] = []
  for (const [i, x] of raw.entries()) {
    if (!Array.isArray(x) || x.length !== 2) throw new BlockInvalidError(`${what}.xattr[${i}]: not a pair`)
    const [name, value] = x as unknown[]
    if (typeof name !== 'string' || name === '' || Buffer.byteLength(name) > MAX_XATTR_NAME_BYTES || name.includes('\0')) {
      throw new BlockInvalidError(`${what}.xattr[${i}]: bad name`)
    }
    if (!(value instanceof Uint8Array) || value.length > MAX_XATTR_VALUE_BYTES) throw new BlockInvalidError(`${what}.xattr[${i}]: bad value`)
    const prev = out.at(-1)
    if (prev !== undefined && prev[0] >= name) throw new BlockInvalidError(`${what}: extended attributes out of order`)
    out.push([name, value])
  }
  return out
}

const COMMON = ['type', 'ino', 'mode', 'uid', 'gid', 'nlink', 'size', 'atime', 'mtime', 'ctime'] as const

export const inodeCodec: NodeCodec<Inode> = {
  name: 'inode',
  encode (inode: Inode): Uint8Array {
    const base: Record<string, unknown> = {
      v: FS_FORMAT_VERSION,
      t: 'inode',
      type: TYPE_CODES[inode.type],
      ino: inode.ino,
      mode: inode.mode,
      uid: inode.uid,
      gid: inode.gid,
      nlink: inode.nlink,
      size: inode.size,
      atime: encodeTime(inode.atimeNs),
      mtime: encodeTime(inode.mtimeNs),
      ctime: encodeTime(inode.ctimeNs),
    }
    if (inode.xattrs.length > 0) base.xattr = inode.xattrs.map(([n, v]) => [n, v])
    switch (inode.type) {
      case 'file':
        return encodeCbor(inode.inline === null
          ? { ...base, bs: inode.blockSize, depth: inode.depth, data: inode.data }
          : { ...base, bs: inode.blockSize, depth: inode.depth, data: inode.data, inline: inode.inline })
      case 'dir':
        return encodeCbor(inode.table === undefined
          ? { ...base, entries: inode.entries }
          : { ...base, entries: inode.entries, links: inode.table.links, next: inode.table.nextIno })
      case 'symlink': return encodeCbor({ ...base, target: inode.target })
      case 'chardev': case 'blockdev': return encodeCbor({ ...base, rdev: inode.rdev })
      case 'fifo': case 'socket': return encodeCbor(base)
    }
  },
  decode (bytes: Uint8Array, what: string): Inode {
    const f = Fields.of(decodeCbor(bytes, what), 'inode', what)
    const type = entryTypeOf(f.uint('type'), what)
    const xattrs = f.has('xattr') ? decodeXattrs(f.array('xattr'), what) : []
    if (f.has('xattr') && xattrs.length === 0) throw new BlockInvalidError(`${what}: empty xattr list`)
    const attrs = (rdev: number): Attributes => checkAttributes({
      ino: f.uint('ino'),
      mode: f.uint('mode'),
      uid: f.uint('uid'),
      gid: f.uint('gid'),
      nlink: f.uint('nlink'),
      size: f.uint('size'),
      rdev,
      atimeNs: decodeTime(f.raw('atime'), `${what}.atime`),
      mtimeNs: decodeTime(f.raw('mtime'), `${what}.mtime`),
      ctimeNs: decodeTime(f.raw('ctime'), `${what}.ctime`),
    }, what)
    switch (type) {
      case 'file': {
        f.only(...COMMON, 'xattr', 'bs', 'depth', 'data', ...(f.version >= 3 ? ['inline'] : []))
        const base = attrs(0)
        const blockSize = f.uint('bs')
        const depth = f.uint('depth')
        const data = f.keyOrNull('data')
        const inline = f.has('inline') ? f.bytes('inline') : null
        if (blockSize < 1 || blockSize > MAX_BLOCK_BYTES) throw new BlockInvalidError(`${what}: block size out of range`)
        if (depth !== depthFor(base.size, blockSize) || (base.size === 0 && data !== null)) {
          throw new BlockInvalidError(`${what}: block tree does not fit the size`)
        }
        // Format 3: a file of an inline size has no data block, and only such a file has inline
        // bytes, 1 .. size of them, the last not zero (format 2 has no inline bytes at all).
        if (f.version >= 3 && (isInline(base.size, blockSize) ? data !== null : inline !== null)) {
          throw new BlockInvalidError(isInline(base.size, blockSize)
            ? `${what}: a file of ${base.size} bytes keeps them in its inode, not in a data block`
            : `${what}: a file of ${base.size} bytes (over ${MAX_INLINE_BYTES}, or its block size) has no inline bytes`)
        }
        if (inline !== null && (inline.length === 0 || inline.length > base.size || inline[inline.length - 1] === 0)) {
          throw new BlockInvalidError(`${what}: inline bytes are not the file's trimmed bytes`)
        }
        return { type, ...base, xattrs, blockSize, depth, data, inline }
      }
      case 'dir': {
        f.only(...COMMON, 'xattr', 'entries', 'links', 'next')
        const base = attrs(0)
        if (base.nlink < 2) throw new BlockInvalidError(`${what}: a directory has at least 2 links`)
        const entries = f.keyOrNull('entries')
        if (f.has('links') !== f.has('next')) throw new BlockInvalidError(`${what}: half an inode table`)
        if (!f.has('next')) return { type, ...base, xattrs, entries }
        const nextIno = f.uint('next')
        if (nextIno <= base.ino) throw new BlockInvalidError(`${what}: next inode number out of range`)
        return { type, ...base, xattrs, entries, table: { links: f.keyOrNull('links'), nextIno } }
      }
      case 'symlink': {
        f.only(...COMMON, 'xattr', 'target')
        const base = attrs(0)
        const target = f.string('target')
        if (base.size !== Buffer.byteLength(target)) throw new BlockInvalidError(`${what}: size is not the target's length`)
        return { type, ...base, xattrs, target }
      }
      case 'chardev': case 'blockdev': {
        f.only(...COMMON, 'xattr', 'rdev')
        const base = attrs(f.uint('rdev'))
        if (base.size !== 0) throw new BlockInvalidError(`${what}: a device has no size`)
        return { type, ...base, xattrs }
      }
      case 'fifo': case 'socket': {
        f.only(...COMMON, 'xattr')
        const base = attrs(0)
        if (base.size !== 0) throw new BlockInvalidError(`${what}: a ${type} has no size`)
        return { type, ...base, xattrs }
      }
    }
  },
}
