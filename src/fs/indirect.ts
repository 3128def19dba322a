import { BlockInvalidError, type Key } from '../core/index.js'
import { decodeCbor, encodeCbor } from './codec.js'
import { FS_FORMAT_VERSION, Fields, checkKey } from './format.js'
import type { NodeCodec } from './tree-store.js'

/**
 * Pointers per indirect block. 1024 keys make a ~35 KB block; two levels address a million
 * data blocks (256 GiB at 256 KiB blocks), so a 10 GiB file is two levels deep.
 */
export const FANOUT = 1024

/** Data blocks a file of `size` bytes spans. */
export function blockCount (size: number, blockSize: number): number {
  return Math.ceil(size / blockSize)
}

/**
 * Levels of indirection a file of `size` bytes has: 0 while it fits one data block, then the
 * least d with FANOUT^d >= blocks. A function of the size alone, so equal files get equal trees.
 */
export function depthFor (size: number, blockSize: number): number {
  const blocks = blockCount(size, blockSize)
  let depth = 0
  for (let capacity = 1; capacity < blocks; capacity *= FANOUT) depth++
  return depth
}

/**
 * Largest file whose bytes its inode holds (format 3): one page. Such a file has no data
 * block, so writing it stores one block instead of two and reading it cold fetches one.
 */
export const MAX_INLINE_BYTES = 4096

/**
 * Whether a file of `size` bytes keeps them in its inode: it fits one data block (depth 0)
 * and MAX_INLINE_BYTES. A function of the size alone, as the depth is.
 */
export function isInline (size: number, blockSize: number): boolean {
  return size <= MAX_INLINE_BYTES && size <= blockSize
}

/** Data blocks one pointer at `level` covers (level 1 points at data blocks). */
export function span (level: number): number {
  return FANOUT ** (level - 1)
}

/**
 * An indirect block: pointers to the level below (data blocks at level 1), null for a run of
 * zeros. Canonical: no trailing nulls, and never all null (the parent holds null instead).
 */
export interface Indirect {
  readonly level: number
  readonly ptrs: ReadonlyArray<Key | null>
}

export const indirectCodec: NodeCodec<Indirect> = {
  name: 'indirect',
  encode: (node: Indirect): Uint8Array => encodeCbor({ v: FS_FORMAT_VERSION, t: 'ind', level: node.level, ptrs: node.ptrs }),
  decode (bytes: Uint8Array, what: string): Indirect {
    const f = Fields.of(decodeCbor(bytes, what), 'ind', what).only('level', 'ptrs')
    const level = f.uint('level')
    const raw = f.array('ptrs')
    if (level < 1 || raw.length < 1 || raw.length > FANOUT || raw.at(-1) === null) {
      throw new BlockInvalidError(`${what}: not a canonical indirect block`)
    }
    const ptrs = raw.map((p, i) => p === null ? null : checkKey(p, `${what}.ptrs[${i}]`))
    return { level, ptrs }
  },
}
