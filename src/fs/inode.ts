import { BlockInvalidError, type Key } from '../core/index.js'
import { encodeCbor, decodeCbor } from './codec.js'
import { Fields, MAX_BLOCK_BYTES } from './format.js'
import { depthFor } from './indirect.js'
import type { NodeCodec } from './tree-store.js'

/** What an entry is. Numeric on disk: 1 file, 2 directory, 3 symbolic link. */
export type EntryType = 'file' | 'dir' | 'symlink'
export const TYPE_CODES: Readonly<Record<EntryType, number>> = { file: 1, dir: 2, symlink: 3 }
const TYPES_BY_CODE: ReadonlyMap<number, EntryType> = new Map([[1, 'file'], [2, 'dir'], [3, 'symlink']])

export function entryTypeOf (code: unknown, what: string): EntryType {
  const type = typeof code === 'number' ? TYPES_BY_CODE.get(code) : undefined
  if (type === undefined) throw new BlockInvalidError(`${what}: unknown entry type ${String(code)}`)
  return type
}

/** Permission bits a mode keeps (no file type bits: the type is its own field). */
export const MODE_MASK = 0o7777
/** Permission bits of a file created without a mode. */
export const DEFAULT_FILE_MODE = 0o644
/** Permission bits of a directory created without a mode (and of a new volume's top). */
export const DEFAULT_DIR_MODE = 0o755

/** Attributes every inode has, and that its directory entry repeats for `ls -l`. */
export interface Attributes {
  /** Permission bits, 0..0o7777. */
  readonly mode: number
  /** Bytes for files, entries for directories, target bytes for symbolic links. */
  readonly size: number
  /** Milliseconds since the epoch. */
  readonly mtimeMs: number
  readonly ctimeMs: number
}

export interface FileInode extends Attributes {
  readonly type: 'file'
  /** Data block size of this file, fixed when it was created. */
  readonly blockSize: number
  /** Levels of indirect blocks above the data blocks (file-data.ts). */
  readonly depth: number
  /** Top of the block tree: a data block when depth is 0; null when every byte is zero. */
  readonly data: Key | null
}

export interface DirInode extends Attributes {
  readonly type: 'dir'
  /** Top node of the entry tree (directory.ts); null when empty. */
  readonly entries: Key | null
}

export interface SymlinkInode extends Attributes {
  readonly type: 'symlink'
  readonly target: string
}

export type Inode = FileInode | DirInode | SymlinkInode

/** Largest symbolic link target, in bytes (Linux PATH_MAX). */
export const MAX_TARGET_BYTES = 4096

export const inodeCodec: NodeCodec<Inode> = {
  name: 'inode',
  encode (inode: Inode): Uint8Array {
    const base = { v: 1, t: 'inode', type: TYPE_CODES[inode.type], mode: inode.mode, size: inode.size, mtime: inode.mtimeMs, ctime: inode.ctimeMs }
    switch (inode.type) {
      case 'file': return encodeCbor({ ...base, bs: inode.blockSize, depth: inode.depth, data: inode.data })
      case 'dir': return encodeCbor({ ...base, entries: inode.entries })
      case 'symlink': return encodeCbor({ ...base, target: inode.target })
    }
  },
  decode (bytes: Uint8Array, what: string): Inode {
    const f = Fields.of(decodeCbor(bytes, what), 'inode', what)
    const type = entryTypeOf(f.uint('type'), what)
    const mode = f.uint('mode')
    if (mode > MODE_MASK) throw new BlockInvalidError(`${what}: mode out of range`)
    const base = { mode, size: f.uint('size'), mtimeMs: f.int('mtime'), ctimeMs: f.int('ctime') }
    switch (type) {
      case 'file': {
        f.only('type', 'mode', 'size', 'mtime', 'ctime', 'bs', 'depth', 'data')
        const blockSize = f.uint('bs')
        const depth = f.uint('depth')
        const data = f.keyOrNull('data')
        if (blockSize < 1 || blockSize > MAX_BLOCK_BYTES) throw new BlockInvalidError(`${what}: block size out of range`)
        if (depth !== depthFor(base.size, blockSize) || (base.size === 0 && data !== null)) {
          throw new BlockInvalidError(`${what}: block tree does not fit the size`)
        }
        return { type, ...base, blockSize, depth, data }
      }
      case 'dir':
        f.only('type', 'mode', 'size', 'mtime', 'ctime', 'entries')
        return { type, ...base, entries: f.keyOrNull('entries') }
      case 'symlink': {
        f.only('type', 'mode', 'size', 'mtime', 'ctime', 'target')
        const target = f.string('target')
        if (base.size !== Buffer.byteLength(target)) throw new BlockInvalidError(`${what}: size is not the target's length`)
        return { type, ...base, target }
      }
    }
  },
}
