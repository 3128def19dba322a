import pLimit from 'p-limit'
import { isCfsError, throwIfAborted, type AbortOptions, type Key } from '../core/index.js'
import { dirNodeCodec, type ChildRef, type DirEntry } from './dir-node.js'
import { indirectCodec } from './indirect.js'
import { inodeCodec } from './inode.js'
import { rootRecordCodec } from './root-record.js'
import type { NodeCodec, TreeStore } from './tree-store.js'

/** What a block is to the tree, known from where its key was found (data blocks have no header). */
export type BlockRole = 'record' | 'inode' | 'dir' | 'indirect' | 'data'

export interface WalkStart {
  readonly key: Key
  readonly role: BlockRole
  /** For 'indirect' starts: the level (0 means the key is a data block). */
  readonly level?: number
}

/** Blocks a walk reads at once. */
export const DEFAULT_WALK_CONCURRENCY = 16

export interface WalkOptions extends AbortOptions {
  /** Blocks read at once. @default DEFAULT_WALK_CONCURRENCY */
  concurrency?: number
  /**
   * Called for a block that cannot be read because no node has it; the walk goes on without
   * what lies below it. Without it, the walk fails with BlockNotFoundError.
   */
  onMissing?: (key: Key, role: BlockRole) => void
  /** Called for every pointer from a block read to a block below it, visited or not. */
  onEdge?: (parent: Key, child: WalkStart) => void
}

/**
 * Visits every block reachable from the starts: root records (without their `prev`), inodes, directory nodes, indirect blocks and data blocks, which are
 * reported but never read. `visit` returns whether to read the block and go below it: a walk
 * that skips keys it has seen visits each block of a DAG once, and one that stops at blocks
 * already stored walks only what is new.
 */
export async function walk (
  store: TreeStore,
  starts: readonly WalkStart[],
  visit: (key: Key, role: BlockRole) => boolean,
  options: WalkOptions = {},
): Promise<void> {
  const limit = pLimit(options.concurrency ?? DEFAULT_WALK_CONCURRENCY)
  const read = async <T>(key: Key, role: BlockRole, codec: NodeCodec<T>): Promise<T | undefined> => {
    try {
      return await limit(async () => store.load(key, codec, options))
    } catch (err) {
      if (options.onMissing === undefined || !isCfsError(err, 'BLOCK_NOT_FOUND')) throw err
      options.onMissing(key, role)
      return undefined
    }
  }
  const expand = async (start: WalkStart): Promise<void> => {
    throwIfAborted(options.signal)
    const { key, role } = start
    if (!visit(key, role) || role === 'data') return
    const next: WalkStart[] = []
    switch (role) {
      case 'record': {
        const record = await read(key, role, rootRecordCodec)
        if (record === undefined) return
        next.push({ key: record.top, role: 'inode' }) // not `prev`: the caller picks the versions
        break
      }
      case 'inode': {
        const inode = await read(key, role, inodeCodec)
        if (inode === undefined) return
        if (inode.type === 'dir' && inode.entries !== null) next.push({ key: inode.entries, role: 'dir' })
        // The top's inode table is an entry tree like a directory's.
        if (inode.type === 'dir' && inode.table !== undefined && inode.table.links !== null) next.push({ key: inode.table.links, role: 'dir' })
        if (inode.type === 'file' && inode.data !== null) next.push(inode.depth === 0 ? { key: inode.data, role: 'data' } : { key: inode.data, role: 'indirect', level: inode.depth })
        break
      }
      case 'dir': {
        const node = await read(key, role, dirNodeCodec)
        if (node === undefined) return
        for (const item of node.items) {
          if (node.level > 0) next.push({ key: (item as ChildRef).key, role: 'dir' })
          else if ((item as DirEntry).key !== null) next.push({ key: (item as DirEntry).key as Key, role: 'inode' }) // a hard link's inode is reached through the table
        }
        break
      }
      case 'indirect': {
        const level = start.level ?? 1
        if (level === 0) return
        const node = await read(key, role, indirectCodec)
        if (node === undefined) return
        for (const ptr of node.ptrs) {
          if (ptr !== null) next.push(level === 1 ? { key: ptr, role: 'data' } : { key: ptr, role: 'indirect', level: level - 1 })
        }
        break
      }
    }
    if (options.onEdge !== undefined) for (const child of next) options.onEdge(key, child)
    await Promise.all(next.map(expand))
  }
  await Promise.all(starts.map(expand))
}
