import { BlockInvalidError, isCfsError, type Key } from '../core/index.js'
import { CborRaw } from './cbor-writer.js'
import { decodeCbor, encodeCbor, encodeCborWithRaw } from './codec.js'
import { FS_FORMAT_VERSION, Fields, checkKey, checkUint } from './format.js'
import { ATTRIBUTE_FIELDS, TOP_INO, TYPE_CODES, decodeAttributes, encodeAttributes, entryTypeOf, type Attributes, type EntryType } from './inode.js'
import { checkName, compareNames } from './names.js'
import type { NodeCodec } from './tree-store.js'

/**
 * A directory entry whose inode has one name: the entry holds the inode's key and repeats its
 * attributes, so `ls -l` reads no inode.
 */
export interface InodeEntry extends Attributes {
  readonly name: string
  readonly type: EntryType
  /** Key of the entry's inode. */
  readonly key: Key
}

/**
 * A directory entry of an inode with more than one name (a hard link): the inode and its
 * attributes are in the volume's inode table (tree.ts), found by number.
 */
export interface LinkEntry {
  readonly name: string
  readonly type: EntryType
  readonly ino: number
  readonly key: null
}

export type DirEntry = InodeEntry | LinkEntry

export function isLinkEntry (entry: DirEntry): entry is LinkEntry {
  return entry.key === null
}

/** A pointer from an inner directory node to a child node. */
export interface ChildRef {
  /** The greatest name in the child's subtree. */
  readonly last: string
  readonly key: Key
  /** Entries in the child's subtree. */
  readonly count: number
}

/** A node of a directory's entry tree: entries at level 0, child pointers above. */
export type DirNode =
  | { readonly level: 0, readonly items: readonly DirEntry[] }
  | { readonly level: number, readonly items: readonly ChildRef[] }

export type DirItem = DirEntry | ChildRef

export function itemName (item: DirItem): string {
  return 'name' in item ? item.name : item.last
}

/** Average items per node: a node ends after an item whose boundary hash is below 1/64. */
export const TARGET_ITEMS = 64
/**
 * A node ends after this many items whatever the hashes say, so no run of unlucky (or chosen)
 * names makes a block too large: 2048 entries of 255-byte names stay well under 1 MiB.
 */
export const MAX_ITEMS = 2048

/**
 * Whether a node ends after `name`, the `count`-th item of the node being filled at `level`.
 * It depends only on the items since the previous boundary, never on the edit history, so
 * the same entries always give the same nodes (a content-defined, "prolly" tree).
 */
export function isBoundary (level: number, name: string, count: number): boolean {
  if (count >= MAX_ITEMS) return true
  // Top 6 bits zero: probability 1/64 = 1/TARGET_ITEMS.
  return boundaryHash(level, name) >>> 26 === 0
}

/**
 * fmix32(FNV-1a-32(level byte || UTF-8 name)): a fast, well-mixed 32-bit hash. Boundaries
 * need no resistance to chosen names (only the owner writes a tree, and MAX_ITEMS bounds the
 * damage), but every item of every edited node is hashed, and hashKey (BLAKE3 through a
 * native call) costs ~5x more per short name.
 */
export function boundaryHash (level: number, name: string): number {
  let h = fnv(0x811c9dc5, level & 0xff)
  for (let i = 0; i < name.length; i++) {
    let c = name.charCodeAt(i)
    if (c < 0x80) {
      h = fnv(h, c)
    } else if (c >= 0xd800 && c <= 0xdbff && i + 1 < name.length) { // a surrogate pair: one code point
      c = 0x10000 + ((c - 0xd800) << 10) + (name.charCodeAt(++i) - 0xdc00)
      h = fnv(fnv(fnv(fnv(h, 0xf0 | (c >> 18)), 0x80 | ((c >> 12) & 0x3f)), 0x80 | ((c >> 6) & 0x3f)), 0x80 | (c & 0x3f))
    } else if (c < 0x800) {
      h = fnv(fnv(h, 0xc0 | (c >> 6)), 0x80 | (c & 0x3f))
    } else {
      h = fnv(fnv(fnv(h, 0xe0 | (c >> 12)), 0x80 | ((c >> 6) & 0x3f)), 0x80 | (c & 0x3f))
    }
  }
  h ^= h >>> 16
  h = Math.imul(h, 0x85ebca6b)
  h ^= h >>> 13
  h = Math.imul(h, 0xc2b2ae35)
  h ^= h >>> 16
  return h >>> 0
}

/** One byte into FNV-1a-32. */
function fnv (h: number, byte: number): number {
  return Math.imul(h ^ byte, 0x01000193)
}

function encodeItem (item: DirItem): unknown[] {
  if (!('name' in item)) return [item.last, item.key, item.count]
  if (item.key === null) return [item.name, TYPE_CODES[item.type], item.ino]
  return [item.name, TYPE_CODES[item.type], item.key, ...encodeAttributes(item)]
}

function decodeEntry (raw: unknown, what: string): DirEntry {
  if (!Array.isArray(raw) || (raw.length !== 3 && raw.length !== 3 + ATTRIBUTE_FIELDS)) throw new BlockInvalidError(`${what}: not an entry`)
  const name = checkedName(raw[0], what)
  const type = entryTypeOf(raw[1], what)
  if (raw.length === 3) {
    const ino = checkUint(raw[2], `${what}.ino`)
    if (ino <= TOP_INO) throw new BlockInvalidError(`${what}: inode number out of range`)
    if (type === 'dir') throw new BlockInvalidError(`${what}: a directory has one name`)
    return { name, type, ino, key: null }
  }
  return { name, type, key: checkKey(raw[2], `${what}.key`), ...decodeAttributes(raw.slice(3), what) }
}

function decodeChild (raw: unknown, what: string): ChildRef {
  if (!Array.isArray(raw) || raw.length !== 3) throw new BlockInvalidError(`${what}: not a child pointer`)
  const [last, key, count] = raw as unknown[]
  const n = checkUint(count, `${what}.count`)
  if (n < 1) throw new BlockInvalidError(`${what}: empty child`)
  return { last: checkedName(last, what), key: checkKey(key, `${what}.key`), count: n }
}

function checkedName (name: unknown, what: string): string {
  if (typeof name !== 'string') throw new BlockInvalidError(`${what}: name is not a string`)
  try {
    checkName(name)
  } catch (err) {
    if (isCfsError(err, 'INVALID_NAME')) throw new BlockInvalidError(`${what}: ${err.message}`, { cause: err })
    throw err
  }
  return name
}

/**
 * Each item's encoding, kept while the item lives. Items are immutable and an edit carries the
 * unchanged ones of a node over as the same objects, so a node rewritten for one entry encodes
 * that entry and copies the bytes of the rest: the node's encoding was most of the CPU of a
 * one-entry change (bench/edits.ts).
 */
const encodedItems = new WeakMap<DirItem, CborRaw>()

function encodedItem (item: DirItem): CborRaw {
  let raw = encodedItems.get(item)
  if (raw === undefined) {
    raw = new CborRaw(encodeCbor(encodeItem(item)))
    encodedItems.set(item, raw)
  }
  return raw
}

export const dirNodeCodec: NodeCodec<DirNode> = {
  name: 'directory node',
  encode: (node: DirNode): Uint8Array => encodeCborWithRaw({ v: FS_FORMAT_VERSION, t: 'dir', level: node.level, items: node.items.map(encodedItem) }),
  decode (bytes: Uint8Array, what: string): DirNode {
    const f = Fields.of(decodeCbor(bytes, what), 'dir', what).only('level', 'items')
    const level = f.uint('level')
    const raw = f.array('items')
    if (raw.length < 1 || raw.length > MAX_ITEMS) throw new BlockInvalidError(`${what}: ${raw.length} items`)
    const items: DirItem[] = level === 0
      ? raw.map((r, i) => decodeEntry(r, `${what}.items[${i}]`))
      : raw.map((r, i) => decodeChild(r, `${what}.items[${i}]`))
    for (let i = 1; i < items.length; i++) {
      if (compareNames(itemName(items[i - 1] as DirItem), itemName(items[i] as DirItem)) >= 0) {
        throw new BlockInvalidError(`${what}: items out of order`)
      }
    }
    return level === 0 ? { level: 0, items: items as DirEntry[] } : { level, items: items as ChildRef[] }
  },
}
