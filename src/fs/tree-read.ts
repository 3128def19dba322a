import {
  EntryNotFoundError, NotADirectoryError, BlockInvalidError, hashKey, type AbortOptions, type Key,
} from '../core/index.js'
import type { DirEntry, InodeEntry } from './dir-node.js'
import { lookupEntry } from './directory.js'
import { inodeCodec, type Attributes, type DirInode, type EntryType, type Inode } from './inode.js'
import { joinPath } from './names.js'
import type { TreeStore } from './tree-store.js'

/** What stat answers: an inode's attributes and key (which changes with every change to it). */
export interface Stat extends Attributes {
  readonly type: EntryType
  /** Key of the inode block: equal keys mean equal contents and attributes. */
  readonly key: Key
}

/** A resolved directory: its inode and the inode's key. */
export interface DirAt { readonly key: Key, readonly inode: DirInode }

export function statOf (key: Key, inode: Inode): Stat {
  return {
    type: inode.type, key, ino: inode.ino, mode: inode.mode, uid: inode.uid, gid: inode.gid, nlink: inode.nlink,
    size: inode.size, rdev: inode.rdev, atimeNs: inode.atimeNs, mtimeNs: inode.mtimeNs, ctimeNs: inode.ctimeNs,
  }
}

/**
 * The attributes of an inode that is in no block yet (a staged or detached file of a volume's
 * open files): its key, the hash of its encoding, is computed if someone reads it. FUSE's
 * getattr, which the kernel sends right after each create, does not.
 */
export function unsavedStatOf (inode: Inode): Stat {
  let key: Key | undefined
  const stat = statOf(undefined as unknown as Key, inode)
  return Object.defineProperty(stat, 'key', { enumerable: true, get: () => (key ??= hashKey(inodeCodec.encode(inode))) })
}

/** The entry naming `inode` (stored at `key`) directly: attributes repeated. */
export function entryFor (name: string, key: Key, inode: Inode): InodeEntry {
  return { name, ...statOf(key, inode) }
}

/** Name of inode `ino` in the inode table: fixed-width hex, so names sort as numbers do. */
export function inoName (ino: number): string {
  return ino.toString(16).padStart(14, '0')
}

export async function loadTopDir (store: TreeStore, top: Key, options: AbortOptions = {}): Promise<DirAt> {
  const inode = await store.load(top, inodeCodec, options)
  if (inode.type !== 'dir' || inode.table === undefined) throw new BlockInvalidError('the top of a tree is not a volume\'s top directory')
  return { key: top, inode }
}

/** The inode table entry of a hard-linked inode. */
export async function lookupLinked (store: TreeStore, top: DirInode, ino: number, options: AbortOptions = {}): Promise<InodeEntry> {
  const found = await lookupEntry(store, top.table?.links ?? null, inoName(ino), options)
  if (found === undefined || found.key === null || found.ino !== ino) throw new BlockInvalidError(`inode ${ino} is missing from the inode table`)
  return found
}

/** An entry with its inode's key and attributes, looked up in the inode table for a hard link. */
export async function resolveLinked (store: TreeStore, top: DirInode, entry: DirEntry, options: AbortOptions = {}): Promise<InodeEntry> {
  if (entry.key !== null) return entry
  const linked = await lookupLinked(store, top, entry.ino, options)
  if (linked.type !== entry.type) throw new BlockInvalidError(`entry ${entry.name} disagrees with inode ${entry.ino}`)
  return { ...linked, name: entry.name }
}

/**
 * The directories from the top down to `names` (chain[0] is the top, chain[i] the directory
 * at names[0..i)). Symbolic links are not followed: one in the middle of a path is
 * NotADirectoryError, as is any other non-directory. Directories have one name each, so their
 * entries always hold their keys.
 */
export async function dirChain (store: TreeStore, top: Key, names: readonly string[], options: AbortOptions = {}): Promise<DirAt[]> {
  const chain = [await loadTopDir(store, top, options)]
  for (let i = 0; i < names.length; i++) {
    const entry = await lookupEntry(store, (chain[i] as DirAt).inode.entries, names[i] as string, options)
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names.slice(0, i + 1))}`)
    if (entry.type !== 'dir' || entry.key === null) throw new NotADirectoryError(`not a directory: ${joinPath(names.slice(0, i + 1))}`)
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

/** The directory entry at a non-empty path, with its inode's key and attributes. */
export async function resolveEntry (store: TreeStore, top: Key, names: readonly string[], options: AbortOptions = {}): Promise<InodeEntry> {
  const chain = await dirChain(store, top, names.slice(0, -1), options)
  const entry = await lookupEntry(store, (chain.at(-1) as DirAt).inode.entries, names.at(-1) as string, options)
  if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
  return resolveLinked(store, (chain[0] as DirAt).inode, entry, options)
}
