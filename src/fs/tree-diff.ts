import { keysEqual, throwIfAborted, toHex, type AbortOptions, type Key } from '../core/index.js'
import { dirNodeCodec, type ChildRef, type DirEntry } from './dir-node.js'
import { inodeCodec, type DirInode } from './inode.js'
import { compareNames, joinPath } from './names.js'
import type { TreeStore } from './tree-store.js'

/** Changed paths one diff reports at most. */
export const DEFAULT_DIFF_LIMIT = 10_000

export interface DiffOptions extends AbortOptions {
  /** Paths reported at most; past it the diff stops and says it is incomplete. @default DEFAULT_DIFF_LIMIT */
  limit?: number
}

export interface TreeChanges {
  /**
   * Paths whose entry was added, removed or changed, and directories whose listing changed;
   * parents before their children; '/' when anything changed.
   */
  readonly paths: string[]
  /** False when the limit cut the diff short. */
  readonly complete: boolean
}

/**
 * What differs between two trees of one volume, found the copy-on-write way: subtrees whose
 * keys are equal are equal and never read, so the cost follows the size of the change, not
 * of the tree. Directory entry trees are compared node by node (equal entries give equal
 * nodes: directory.ts), so a changed name in a large directory reads a few nodes of it.
 * A hard-linked inode that changed is reported under the names found in the directories
 * that changed; its other names are not searched for.
 */
export async function diffTrees (store: TreeStore, before: Key, after: Key, options: DiffOptions = {}): Promise<TreeChanges> {
  const limit = options.limit ?? DEFAULT_DIFF_LIMIT
  const paths: string[] = []
  if (keysEqual(before, after)) return { paths, complete: true }
  const [a, b] = await Promise.all([store.load(before, inodeCodec, options), store.load(after, inodeCodec, options)])
  paths.push('/')
  if (a.type !== 'dir' || b.type !== 'dir') return { paths, complete: true }
  const linked = await changedInodes(store, a, b, options)
  const complete = await diffDirs(store, a, b, [], { paths, limit, linked }, options)
  return { paths, complete }
}

interface DiffState { readonly paths: string[], readonly limit: number, readonly linked: ReadonlySet<number> }

/** Adds the changed names under one directory, depth first; false once the limit is reached. */
async function diffDirs (store: TreeStore, a: DirInode, b: DirInode, names: readonly string[], state: DiffState, options: AbortOptions): Promise<boolean> {
  const { before, after } = await changedEntries(store, a.entries, b.entries, options)
  const all = [...new Set([...before.keys(), ...after.keys()])].sort(compareNames)
  for (const name of all) {
    throwIfAborted(options.signal)
    const x = before.get(name)
    const y = after.get(name)
    if (x !== undefined && y !== undefined && sameEntry(x, y) && (y.key !== null || !state.linked.has(y.ino))) continue
    if (state.paths.length >= state.limit) return false
    const path = [...names, name]
    state.paths.push(joinPath(path))
    if (x?.type === 'dir' && y?.type === 'dir' && x.key !== null && y.key !== null) {
      const [da, db] = await Promise.all([store.load(x.key, inodeCodec, options), store.load(y.key, inodeCodec, options)])
      if (da.type === 'dir' && db.type === 'dir' && !await diffDirs(store, da, db, path, state, options)) return false
    }
  }
  return true
}

function sameEntry (x: DirEntry, y: DirEntry): boolean {
  if (x.type !== y.type) return false
  if (x.key === null || y.key === null) return x.key === y.key && x.ino === y.ino
  return keysEqual(x.key, y.key)
}

/** Inode numbers whose entry in the volume's inode table changed. */
async function changedInodes (store: TreeStore, a: DirInode, b: DirInode, options: AbortOptions): Promise<Set<number>> {
  const { before, after } = await changedEntries(store, a.table?.links ?? null, b.table?.links ?? null, options)
  const out = new Set<number>()
  for (const [name, e] of [...before, ...after]) {
    const other = (before.get(name) === e ? after : before).get(name)
    if (other === undefined || !sameEntry(e, other)) out.add(parseInt(name, 16))
  }
  return out
}

interface EntryChanges { readonly before: Map<string, DirEntry>, readonly after: Map<string, DirEntry> }

/**
 * The entries of the directory-tree nodes that differ between two entry trees, by name: nodes
 * present in both (equal keys, at any level) are dropped without reading what is below them.
 */
async function changedEntries (store: TreeStore, a: Key | null, b: Key | null, options: AbortOptions): Promise<EntryChanges> {
  let as = a === null ? [] : [a]
  let bs = b === null ? [] : [b]
  const before = new Map<string, DirEntry>()
  const after = new Map<string, DirEntry>()
  while (as.length > 0 || bs.length > 0) {
    const inA = new Set(as.map(toHex))
    const inB = new Set(bs.map(toHex))
    const onlyA = as.filter((k) => !inB.has(toHex(k)))
    const onlyB = bs.filter((k) => !inA.has(toHex(k)))
    const expand = async (keys: Key[], into: Map<string, DirEntry>): Promise<Key[]> => {
      const nodes = await Promise.all(keys.map(async (k) => store.load(k, dirNodeCodec, options)))
      const children: Key[] = []
      for (const node of nodes) {
        if (node.level === 0) for (const e of node.items as readonly DirEntry[]) into.set(e.name, e)
        else for (const c of node.items as readonly ChildRef[]) children.push(c.key)
      }
      return children
    }
    ;[as, bs] = await Promise.all([expand(onlyA, before), expand(onlyB, after)])
  }
  return { before, after }
}
