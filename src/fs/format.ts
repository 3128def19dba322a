import { BlockInvalidError, KEY_BYTES, UnsupportedFormatError, type Key } from '../core/index.js'
import type { BlockKind } from '../dhash/index.js'

/**
 * Version of the file-tree block formats this cfs writes (docs/PROTOCOL.md#file-tree-formats).
 * Format 3 keeps a small file's bytes in its inode; it reads format 2 as well, whose blocks
 * differ only there. A reader refuses other versions instead of guessing at them.
 */
export const FS_FORMAT_VERSION = 3
/** The oldest version read: a tree may mix blocks of this and FS_FORMAT_VERSION. */
export const FS_FORMAT_OLDEST_READ = 2

/**
 * Largest block the block layer stores: dhash's MAX_BLOCK_BYTES (fs may import dhash types
 * only; test/unit/fs/formats.test.ts checks the two agree).
 */
export const MAX_BLOCK_BYTES = 1024 * 1024

/** dhash's block kinds (fs imports dhash types only; the types pin the values). */
export const CONTENT_BLOCK: typeof BlockKind.CONTENT = 0
export const ROOT_BLOCK: typeof BlockKind.ROOT = 1

/** A decoded CBOR map, field by field, failing with BlockInvalidError naming the block. */
export class Fields {
  private constructor (private readonly map: Record<string, unknown>, readonly what: string, readonly version: number) {}

  /** Checks the map shape, the version and the block type tag `t`. */
  static of (value: unknown, type: string, what: string): Fields {
    if (typeof value !== 'object' || value === null || Array.isArray(value) || value instanceof Uint8Array) {
      throw new BlockInvalidError(`${what}: not a map`)
    }
    const map = value as Record<string, unknown>
    if (map.v === 1) {
      // Format 1 had no owners, link counts or inode numbers: its trees cannot be read as format 2.
      throw new UnsupportedFormatError(`${what} is in file-tree format 1, written by cfs 0.1; this cfs reads formats ${FS_FORMAT_OLDEST_READ} to ${FS_FORMAT_VERSION} only: copy the files out with cfs 0.1 (cfs get) and in again`)
    }
    const v = map.v
    if (typeof v !== 'number' || !Number.isInteger(v) || v < FS_FORMAT_OLDEST_READ || v > FS_FORMAT_VERSION) {
      throw new BlockInvalidError(`${what}: unknown format version ${String(v)}`)
    }
    if (map.t !== type) throw new BlockInvalidError(`${what}: not a ${type} block`)
    return new Fields(map, what, v)
  }

  /** Throws unless the map has exactly these fields (besides `v` and `t`). */
  only (...names: string[]): this {
    const allowed = new Set(['v', 't', ...names])
    for (const name of Object.keys(this.map)) {
      if (!allowed.has(name)) throw new BlockInvalidError(`${this.what}: unexpected field ${name}`)
    }
    return this
  }

  uint (name: string): number {
    return checkUint(this.map[name], `${this.what}.${name}`)
  }

  int (name: string): number {
    const v = this.map[name]
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) throw new BlockInvalidError(`${this.what}.${name}: not an integer`)
    return v
  }

  /** The field as decoded, for the caller to check. */
  raw (name: string): unknown {
    return this.map[name]
  }

  string (name: string): string {
    const v = this.map[name]
    if (typeof v !== 'string') throw new BlockInvalidError(`${this.what}.${name}: not a string`)
    return v
  }

  key (name: string): Key {
    return checkKey(this.map[name], `${this.what}.${name}`)
  }

  keyOrNull (name: string): Key | null {
    const v = this.map[name]
    return v === null ? null : checkKey(v, `${this.what}.${name}`)
  }

  bytes (name: string): Uint8Array {
    const v = this.map[name]
    if (!(v instanceof Uint8Array)) throw new BlockInvalidError(`${this.what}.${name}: not a byte string`)
    return v
  }

  array (name: string): unknown[] {
    const v = this.map[name]
    if (!Array.isArray(v)) throw new BlockInvalidError(`${this.what}.${name}: not an array`)
    return v
  }

  has (name: string): boolean {
    return Object.hasOwn(this.map, name)
  }
}

export function checkUint (v: unknown, what: string): number {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new BlockInvalidError(`${what}: not an unsigned integer`)
  return v
}

export function checkKey (v: unknown, what: string): Key {
  if (!(v instanceof Uint8Array) || v.length !== KEY_BYTES) throw new BlockInvalidError(`${what}: not a ${KEY_BYTES}-byte key`)
  return v as Key
}
