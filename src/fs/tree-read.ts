import {
  EntryNotFoundError, NotADirectoryError, BlockInvalidError, type AbortOptions, type Key,
} from '../core/index.js'
import type { DirEntry } from './dir-node.js'
import { lookupEntry } from './directory.js'
import { inodeCodec, type Attributes, type DirInode, type EntryType, type Inode } from './inode.js'
import { joinPath } from './names.js'
import type { TreeStore } from './tree-store.js'

/** What stat answers: an inode's attributes and key (which changes with every write). */
export interface Stat extends Attributes {
  readonly type: EntryType
  /** Key of the inode block: equal keys mean equal contents and attributes. */
  readonly key: Key
}

/** A resolved directory: its inode and the inode's key. */
export interface DirAt { readonly key: Key, readonly inode: DirInode }

export function statOf (key: Key, inode: Inode): Stat {
  return { type: inode.type, key, mode: inode.mode, size: inode.size, mtimeMs: inode.mtimeMs, ctimeMs: inode.ctimeMs }
}

export function entryFor (name: string, key: Key, inode: Inode): DirEntry {
  return { name, type: inode.type, key, mode: inode.mode, size: inode.size, mtimeMs: inode.mtimeMs, ctimeMs: inode.ctimeMs }
}

export async function loadTopDir (store: TreeStore, top: Key, options: AbortOptions = {}): Promise<DirAt> {
  const inode = await store.load(top, inodeCodec, options)
  if (inode.type !== 'dir') throw new BlockInvalidError('the top of a tree is not a directory')
  return { key: top, inode }
}

/**
 * The directories from the top down to `names` (chain[0] is the top, chain[i] the directory
 * at names[0..i)). Symbolic links are not followed: one in the middle of a path is
 * NotADirectoryError, as is any other non-directory.
 */
export async function dirChain (store: TreeStore, top: Key, names: readonly string[], options: AbortOptions = {}): Promise<DirAt[]> {
  const chain = [await loadTopDir(store, top, options)]
  for (let i = 0; i < names.length; i++) {
    const entry = await lookupEntry(store, (chain[i] as DirAt).inode.entries, names[i] as string, options)
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names.slice(0, i + 1))}`)
    if (entry.type !== 'dir') throw new NotADirectoryError(`not a directory: ${joinPath(names.slice(0, i + 1))}`)
    const inode = await store.load(entry.key, inodeCodec, options)
    if (inode.type !== 'dir') throw new BlockInvalidError(`entry ${joinPath(names.slice(0, i + 1))} disagrees with its inode`)
    chain.push({ key: entry.key, inode })
  }
  return chain
}

/** The inode at a path (the top for `[]`), without following a final symbolic link. */
export async function resolve (store: TreeStore, top: Key, names: readonly string[], options: AbortOptions = {}): Promise<{ key: Key, inode: Inode }> {
  if (names.length === 0) return loadTopDir(store, top, options)
  const entry = await resolveEntry(store, top, names, options)
  const inode = await store.load(entry.key, inodeCodec, options)
  if (inode.type !== entry.type) throw new BlockInvalidError(`entry ${joinPath(names)} disagrees with its inode`)
  return { key: entry.key, inode }
}

/** The directory entry at a non-empty path. */
export async function resolveEntry (store: TreeStore, top: Key, names: readonly string[], options: AbortOptions = {}): Promise<DirEntry> {
  const chain = await dirChain(store, top, names.slice(0, -1), options)
  const entry = await lookupEntry(store, (chain.at(-1) as DirAt).inode.entries, names.at(-1) as string, options)
  if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
  return entry
}
