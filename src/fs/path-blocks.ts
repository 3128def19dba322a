import pLimit from 'p-limit'
import {
  BlockInvalidError, BlockNotFoundError, EntryNotFoundError, NotADirectoryError, ReadOnlyError, isCfsError, shortHex, toHex, type AbortOptions, type Key,
} from '../core/index.js'
import type { BlockService } from '../dhash/index.js'
import { dirNodeCodec, type ChildRef } from './dir-node.js'
import { lookupEntry } from './directory.js'
import { CONTENT_BLOCK } from './format.js'
import { indirectCodec, span } from './indirect.js'
import { inodeCodec, type DirInode, type EntryType, type FileInode, type Inode } from './inode.js'
import { joinPath, splitPath } from './names.js'
import { rootRecordCodec } from './root-record.js'
import type { VersionInfo } from './snapshot.js'
import { lookupLinked } from './tree-read.js'
import type { NodeCodec, TreeStore } from './tree-store.js'

/**
 * What a block is to the tree: walk.ts's roles, with the nodes of the top directory's inode
 * table (hard links) as 'links'.
 */
export type ListedRole = 'record' | 'inode' | 'dir' | 'links' | 'indirect' | 'data'

/** One block of a path (listPathBlocks). */
export interface ListedBlock {
  readonly key: Key
  readonly role: ListedRole
  /**
   * 'path': a block a reader goes through to reach the path (the version's record, and each
   * ancestor's inode and the entry-tree nodes that lead to the next name); 'self': the path's
   * own blocks (its inode and, for a file, its indirect and data blocks; for a directory, its
   * entry tree).
   */
  readonly part: 'path' | 'self'
  /** The path the block belongs to: '/a' for the inode of /a, for the entry nodes of /a, ... */
  readonly of: string
  /** Size of the block, for the blocks read (every one but data blocks). */
  readonly bytes?: number
  /** Directory, inode-table and indirect nodes: their level (0: entries; 1: pointers to data). */
  readonly level?: number
  /** Data blocks: index in the file and the range of the file they cover (the block holds at most `length` bytes: trailing zeros are not stored). */
  readonly index?: number
  readonly offset?: number
  readonly length?: number
  /** No node gave the block: nothing below it is listed. */
  readonly unreadable?: boolean
}

export interface PathBlocks {
  /** The path's type and size; undefined when a block on the way to it could not be read. */
  readonly target?: { readonly type: EntryType, readonly size: number, readonly key: Key }
  /** In reading order: the record, the way down, then the path's own blocks, depth first. */
  readonly blocks: readonly ListedBlock[]
  /** False when some block could not be read (marked `unreadable`): what lies below it is missing. */
  readonly complete: boolean
}

/** Blocks read at once while listing a file's or a directory's own blocks. */
export const DEFAULT_LIST_CONCURRENCY = 16

export interface ListPathOptions extends AbortOptions {
  /** Blocks read at once. @default DEFAULT_LIST_CONCURRENCY */
  concurrency?: number
  /**
   * For a past version: the records of the newer versions, newest first, which a reader goes
   * through (by `prev`) to reach it. Listed first. @default none (the latest version)
   */
  newerRecords?: readonly Key[]
}

/** A block loaded (value and bytes undefined: it could not be read). */
interface Touched { readonly key: Key, readonly value?: unknown, readonly bytes?: number }

/**
 * A TreeStore that reads through the BlockService and remembers which blocks it read and
 * their sizes, so the ordinary lookups (lookupEntry, lookupLinked) tell which nodes a path
 * goes through. Read-only.
 */
class ListingStore implements TreeStore {
  private touched: Touched[] = []
  private readonly seen = new Map<string, { value: unknown, bytes: number }>()

  constructor (private readonly blocks: Pick<BlockService, 'get'>) {}

  /** The blocks loaded since the last call, in order; the last one is unreadable if a load failed. */
  take (): Touched[] {
    const t = this.touched
    this.touched = []
    return t
  }

  async load<T> (key: Key, codec: NodeCodec<T>, options: AbortOptions = {}): Promise<T> {
    const got = await this.read(key, codec, options)
    if (got === undefined) {
      this.touched.push({ key }) // listed as unreadable; the way down ends here
      throw new BlockNotFoundError(`block ${shortHex(key)} not found`)
    }
    this.touched.push({ key, ...got })
    return got.value
  }

  /** A block decoded, with its size; undefined when no node has it. */
  async read<T> (key: Key, codec: NodeCodec<T>, options: AbortOptions = {}): Promise<{ value: T, bytes: number } | undefined> {
    const id = `${codec.name}:${toHex(key)}`
    const hit = this.seen.get(id)
    if (hit !== undefined) return hit as { value: T, bytes: number }
    let bytes: Uint8Array
    try {
      bytes = await this.blocks.get(CONTENT_BLOCK, key, options)
    } catch (err) {
      if (isCfsError(err, 'BLOCK_NOT_FOUND')) return undefined
      throw err
    }
    const got = { value: codec.decode(bytes, `${codec.name} ${shortHex(key)}`), bytes: bytes.length }
    this.seen.set(id, got)
    return got
  }

  async getData (): Promise<Uint8Array> { throw new TypeError('a listing reads no file data') }
  async save (): Promise<Key> { throw new ReadOnlyError('this tree is read-only') }
  async putData (): Promise<Key> { throw new ReadOnlyError('this tree is read-only') }
}

/**
 * Every block a path of one version stands on, for `cfs where`: the version's root record
 * (after the newer ones, for a past version), then for each directory on the way its inode
 * and the nodes of its entry tree that lead to the next name (and the inode table's nodes,
 * for a hard link), then the path's inode and what lies below it (a file's indirect and data blocks; a directory's entry tree, not its
 * children's). Metadata blocks are read (and sized); data blocks are not. A block no node
 * has is listed as unreadable and the listing goes on without what lies below it. An unknown
 * path is EntryNotFoundError, as for any read; symbolic links are not followed.
 */
export async function listPathBlocks (
  blocks: Pick<BlockService, 'get'>,
  version: VersionInfo,
  path: string,
  options: ListPathOptions = {},
): Promise<PathBlocks> {
  const store = new ListingStore(blocks)
  const names = splitPath(path)
  const out: ListedBlock[] = []
  let complete = true
  // The signed root carries the latest record too, so a reader gets past a lost record block:
  // one that cannot be read is listed so, and the listing goes on.
  for (const key of [...options.newerRecords ?? [], version.recordKey]) {
    const record = await store.read(key, rootRecordCodec, options)
    out.push(record === undefined ? { key, role: 'record', part: 'path', of: '/', unreadable: true } : { key, role: 'record', part: 'path', of: '/', bytes: record.bytes })
    if (record === undefined) complete = false
  }

  /** Runs one step of the way down, listing the blocks it loaded. */
  const step = async <T>(role: ListedRole, of: string, part: ListedBlock['part'], f: () => Promise<T>): Promise<T> => {
    try {
      return await f()
    } finally {
      for (const t of store.take()) out.push(listed(t, role, of, part))
    }
  }

  let found: { key: Key, inode: Inode, top: DirInode }
  try {
    found = await resolveListing(store, version.top, names, step, options)
  } catch (err) {
    if (!isCfsError(err, 'BLOCK_NOT_FOUND')) throw err
    return { blocks: out, complete: false } // the last block listed is the one that could not be read
  }
  const { key, inode, top } = found
  const own = new OwnBlocks(store, joinPath(names), options)
  if (inode.type === 'file') out.push(...await own.file(inode))
  if (inode.type === 'dir') {
    out.push(...await own.dir(inode.entries, 'dir'))
    if (names.length === 0) out.push(...await own.dir(top.table?.links ?? null, 'links'))
  }
  return { target: { type: inode.type, size: inode.size, key }, blocks: out, complete: complete && own.complete }
}

type Step = <T>(role: ListedRole, of: string, part: ListedBlock['part'], f: () => Promise<T>) => Promise<T>

/** The way down to `names`, as tree-read.ts's resolve goes, one listed step at a time. */
async function resolveListing (
  store: ListingStore,
  topKey: Key,
  names: readonly string[],
  step: Step,
  options: AbortOptions,
): Promise<{ key: Key, inode: Inode, top: DirInode }> {
  const top = await step('inode', '/', names.length === 0 ? 'self' : 'path', async () => store.load(topKey, inodeCodec, options))
  if (top.type !== 'dir' || top.table === undefined) throw new BlockInvalidError('the top of a tree is not a volume\'s top directory')
  let dir: DirInode = top
  let key = topKey
  let inode: Inode = top
  for (let i = 0; i < names.length; i++) {
    const here = joinPath(names.slice(0, i + 1))
    const last = i === names.length - 1
    const entry = await step('dir', joinPath(names.slice(0, i)), 'path', async () => lookupEntry(store, dir.entries, names[i] as string, options))
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${here}`)
    if (!last && entry.type !== 'dir') throw new NotADirectoryError(`not a directory: ${here}`)
    const inodeKey = entry.key ?? (await step('links', '/', 'path', async () => lookupLinked(store, top, entry.ino, options))).key
    inode = await step('inode', here, last ? 'self' : 'path', async () => store.load(inodeKey, inodeCodec, options))
    if (inode.type !== entry.type) throw new BlockInvalidError(`entry ${here} disagrees with its inode`)
    if (inode.type === 'dir') dir = inode
    key = inodeKey
  }
  return { key, inode, top }
}

function listed (t: Touched, role: ListedRole, of: string, part: ListedBlock['part']): ListedBlock {
  if (t.value === undefined) return { key: t.key, role, part, of, unreadable: true }
  const level = (role === 'dir' || role === 'links') ? (t.value as { level: number }).level : undefined
  return { key: t.key, role, part, of, ...(t.bytes === undefined ? {} : { bytes: t.bytes }), ...(level === undefined ? {} : { level }) }
}

/** A file's or a directory's own blocks, depth first, `concurrency` reads at a time. */
class OwnBlocks {
  complete = true
  private readonly limit: ReturnType<typeof pLimit>

  constructor (private readonly store: ListingStore, private readonly of: string, private readonly options: ListPathOptions) {
    this.limit = pLimit(options.concurrency ?? DEFAULT_LIST_CONCURRENCY)
  }

  async file (inode: FileInode): Promise<ListedBlock[]> {
    if (inode.data === null) return []
    if (inode.depth === 0) return [this.data(inode, inode.data, 0)]
    return this.indirect(inode, inode.data, inode.depth, 0)
  }

  async dir (key: Key | null, role: 'dir' | 'links'): Promise<ListedBlock[]> {
    if (key === null) return []
    const got = await this.limit(async () => this.store.read(key, dirNodeCodec, this.options))
    if (got === undefined) return [this.unreadable(key, role)]
    const own: ListedBlock = { key, role, part: 'self', of: this.of, bytes: got.bytes, level: got.value.level }
    if (got.value.level === 0) return [own]
    const below = await Promise.all((got.value.items as readonly ChildRef[]).map(async (c) => this.dir(c.key, role)))
    return [own, ...below.flat()]
  }

  private async indirect (inode: FileInode, key: Key, level: number, first: number): Promise<ListedBlock[]> {
    const got = await this.limit(async () => this.store.read(key, indirectCodec, this.options))
    if (got === undefined) return [{ ...this.unreadable(key, 'indirect'), level }]
    if (got.value.level !== level) throw new BlockInvalidError(`indirect block ${shortHex(key)} is at level ${got.value.level}, not ${level}`)
    const own: ListedBlock = { key, role: 'indirect', part: 'self', of: this.of, bytes: got.bytes, level }
    const below = await Promise.all(got.value.ptrs.map(async (ptr, j) => {
      if (ptr === null) return []
      const index = first + j * span(level)
      return level === 1 ? [this.data(inode, ptr, index)] : this.indirect(inode, ptr, level - 1, index)
    }))
    return [own, ...below.flat()]
  }

  private data (inode: FileInode, key: Key, index: number): ListedBlock {
    const offset = index * inode.blockSize
    return { key, role: 'data', part: 'self', of: this.of, index, offset, length: Math.min(inode.blockSize, inode.size - offset) }
  }

  private unreadable (key: Key, role: ListedRole): ListedBlock {
    this.complete = false
    return { key, role, part: 'self', of: this.of, unreadable: true }
  }
}
