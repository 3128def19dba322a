/**
 * DEV DOCS: a directory's entries as a content-defined ("prolly") B-tree.
 *
 * Level 0 holds the entries in name order (UTF-8 byte order); every level above holds one
 * pointer per node of the level below (`{last, key, count}`). Where a node ends is decided
 * by `isBoundary` from the items alone, so a given set of entries always gives the same
 * nodes and keys, whatever sequence of edits produced it. Two trees with equal entries are
 * byte-identical and share every block.
 *
 * An edit re-chunks, level by level, only a window: from the start of the node holding the
 * first changed name (a node start always follows a boundary, so the chunker starts fresh
 * there) until the new boundaries fall again on the end of an old node. From there on the
 * old nodes are reused as they are. Each level's window turns into edits of the level above
 * (delete the old nodes' pointers, set the new ones), so one changed entry rewrites about
 * one node per level: O(log n) blocks. The top grows a level when the old top splits and
 * shrinks while it holds a single pointer.
 *
 * Reads descend by `last` (the first child whose last name is >= the name sought) and list
 * in order with a bounded read-ahead of child nodes.
 */
import type { AbortOptions, Key } from '../core/index.js'
import { throwIfAborted } from '../core/index.js'
import { dirNodeCodec, isBoundary, itemName, type ChildRef, type DirEntry, type DirItem, type DirNode } from './dir-node.js'
import { compareNames } from './names.js'
import type { TreeStore } from './tree-store.js'

/** A change to one name: the new item, or null to remove it. */
export interface Edit<T extends DirItem = DirItem> {
  readonly name: string
  readonly item: T | null
}

interface Loaded { readonly key: Key, readonly node: DirNode }

export async function lookupEntry (store: TreeStore, top: Key | null, name: string, options: AbortOptions = {}): Promise<DirEntry | undefined> {
  if (top === null) return undefined
  let node = await store.load(top, dirNodeCodec, options)
  while (node.level > 0) {
    const items = node.items as readonly ChildRef[]
    const i = firstAtLeast(items, name)
    if (i === items.length) return undefined
    node = await store.load((items[i] as ChildRef).key, dirNodeCodec, options)
  }
  const entries = node.items as readonly DirEntry[]
  const i = firstAtLeast(entries, name)
  const entry = entries[i]
  return entry !== undefined && entry.name === name ? entry : undefined
}

/** Child directory nodes fetched ahead of the one being listed. */
export const DEFAULT_LIST_READ_AHEAD = 8

export interface ListOptions extends AbortOptions {
  /** Start after this name (a name need not exist). */
  after?: string
  /**
   * Skip this many entries first (FUSE readdir offsets), found through the subtree counts
   * without reading the skipped nodes. Not together with `after`.
   */
  offset?: number
  /** Child nodes fetched ahead of the one being listed. @default DEFAULT_LIST_READ_AHEAD */
  readAhead?: number
}

/** The entries in name order, streamed: memory stays at one path plus the read-ahead. */
export async function * listEntries (store: TreeStore, top: Key | null, options: ListOptions = {}): AsyncGenerator<DirEntry> {
  if (options.after !== undefined && (options.offset ?? 0) !== 0) throw new TypeError('list with after or offset, not both')
  if (top === null) return
  yield * listNode(store, await store.load(top, dirNodeCodec, options), options.after, options.offset ?? 0, options)
}

async function * listNode (store: TreeStore, node: DirNode, after: string | undefined, offset: number, options: ListOptions): AsyncGenerator<DirEntry> {
  throwIfAborted(options.signal)
  if (node.level === 0) {
    const entries = node.items as readonly DirEntry[]
    let i = after === undefined ? 0 : firstAbove(entries, after)
    for (i += offset; i < entries.length; i++) yield entries[i] as DirEntry
    return
  }
  const children = node.items as readonly ChildRef[]
  let i = after === undefined ? 0 : firstAtLeast(children, after)
  let skip = offset
  while (i < children.length && skip >= (children[i] as ChildRef).count) skip -= (children[i++] as ChildRef).count
  const readAhead = options.readAhead ?? DEFAULT_LIST_READ_AHEAD
  for (let first = true; i < children.length; i++, first = false) {
    for (let j = i + 1; j <= i + readAhead && j < children.length; j++) {
      store.load((children[j] as ChildRef).key, dirNodeCodec, options).catch(() => {}) // errors surface when it is read
    }
    const child = await store.load((children[i] as ChildRef).key, dirNodeCodec, options)
    yield * listNode(store, child, first ? after : undefined, first ? skip : 0, options)
  }
}

/** Builds the tree of sorted, distinct entries from nothing; null when there are none. */
export async function buildDirectory (store: TreeStore, entries: readonly DirEntry[], options: AbortOptions = {}): Promise<Key | null> {
  return buildUp(store, entries, 0, options)
}

/**
 * Applies edits (any order, one per name) and returns the new top. Removing a missing name
 * or setting an identical entry is allowed and changes nothing.
 */
export async function editDirectory (store: TreeStore, top: Key | null, edits: ReadonlyArray<Edit<DirEntry>>, options: AbortOptions = {}): Promise<Key | null> {
  let pending: Array<Edit> = [...edits].sort((a, b) => compareNames(a.name, b.name))
  if (pending.length === 0) return top
  if (top === null) return buildUp(store, pending.flatMap((e) => e.item === null ? [] : [e.item]), 0, options)
  const root: Loaded = { key: top, node: await store.load(top, dirNodeCodec, options) }
  for (let level = 0; level <= root.node.level; level++) pending = await editLevel(store, root, level, pending, options)
  // What is left are pointers to the nodes that replace the old top's level.
  return buildUp(store, pending.flatMap((e) => e.item === null ? [] : [e.item]), root.node.level + 1, options)
}

/** Items of one level, chunked into nodes, then the levels above, up to a single node. */
async function buildUp (store: TreeStore, items: readonly DirItem[], level: number, options: AbortOptions): Promise<Key | null> {
  if (items.length === 0) return null
  if (level > 0 && items.length === 1) return collapse(store, (items[0] as ChildRef).key, options)
  const chunker = new Chunker(level)
  const refs: ChildRef[] = []
  for (const item of items) {
    const chunk = chunker.push(item)
    if (chunk !== undefined) refs.push(await saveNode(store, level, chunk, options))
  }
  const rest = chunker.flush()
  if (rest !== undefined) refs.push(await saveNode(store, level, rest, options))
  if (refs.length === 1) return (refs[0] as ChildRef).key
  return buildUp(store, refs, level + 1, options)
}

/** A top holding one pointer is replaced by its child, as often as needed. */
async function collapse (store: TreeStore, key: Key, options: AbortOptions): Promise<Key> {
  for (;;) {
    const node = await store.load(key, dirNodeCodec, options)
    if (node.level === 0 || node.items.length > 1) return key
    key = (node.items[0] as ChildRef).key
  }
}

/**
 * Re-chunks the windows of `level` that the (sorted) edits touch and returns the edits this
 * makes to the level above: old pointers removed, new ones set (a set wins over a removal of
 * the same name).
 */
async function editLevel (store: TreeStore, root: Loaded, level: number, edits: readonly Edit[], options: AbortOptions): Promise<Edit[]> {
  const above = new Map<string, ChildRef | null>()
  const emit = async (chunk: DirItem[]): Promise<void> => {
    const ref = await saveNode(store, level, chunk, options)
    above.set(ref.last, ref)
  }
  let i = 0
  while (i < edits.length) {
    const cursor = await LevelCursor.seek(store, root, level, (edits[i] as Edit).name, options)
    const chunker = new Chunker(level)
    for (;;) {
      const { node } = cursor.current
      const lastOfLevel = cursor.atLastNode()
      const oldLast = itemName(node.items.at(-1) as DirItem)
      if (!above.has(oldLast)) above.set(oldLast, null)
      let j = i
      while (j < edits.length && (lastOfLevel || compareNames((edits[j] as Edit).name, oldLast) <= 0)) j++
      for (const item of merge(node.items, edits.slice(i, j))) {
        const chunk = chunker.push(item)
        if (chunk !== undefined) await emit(chunk)
      }
      i = j
      if (chunker.empty) break // in step with the old boundaries again
      if (lastOfLevel) {
        await emit(chunker.flush() as DirItem[])
        break
      }
      await cursor.next(options)
    }
  }
  return [...above].map(([name, item]) => ({ name, item })).sort((a, b) => compareNames(a.name, b.name))
}

async function saveNode (store: TreeStore, level: number, items: DirItem[], options: AbortOptions): Promise<ChildRef> {
  const node = level === 0 ? { level: 0 as const, items: items as DirEntry[] } : { level, items: items as ChildRef[] }
  const key = await store.save(node, dirNodeCodec, options)
  const count = level === 0 ? items.length : (items as ChildRef[]).reduce((n, c) => n + c.count, 0)
  return { last: itemName(items.at(-1) as DirItem), key, count }
}

/** Sorted items with sorted edits applied. */
function merge (items: readonly DirItem[], edits: readonly Edit[]): DirItem[] {
  if (edits.length === 0) return [...items]
  const out: DirItem[] = []
  let i = 0
  for (const edit of edits) {
    while (i < items.length && compareNames(itemName(items[i] as DirItem), edit.name) < 0) out.push(items[i++] as DirItem)
    if (i < items.length && itemName(items[i] as DirItem) === edit.name) i++
    if (edit.item !== null) out.push(edit.item)
  }
  while (i < items.length) out.push(items[i++] as DirItem)
  return out
}

/** Collects items into nodes, ending one wherever `isBoundary` says. */
class Chunker {
  private items: DirItem[] = []
  constructor (private readonly level: number) {}

  push (item: DirItem): DirItem[] | undefined {
    this.items.push(item)
    if (!isBoundary(this.level, itemName(item), this.items.length)) return undefined
    const chunk = this.items
    this.items = []
    return chunk
  }

  get empty (): boolean { return this.items.length === 0 }

  flush (): DirItem[] | undefined {
    if (this.items.length === 0) return undefined
    const chunk = this.items
    this.items = []
    return chunk
  }
}

/** A position on the nodes of one level of the old tree, walking right through their parents. */
class LevelCursor {
  private constructor (
    private readonly store: TreeStore,
    private readonly level: number,
    private readonly frames: Array<{ node: DirNode, index: number }>,
    public current: Loaded,
  ) {}

  /** The node of `level` whose range holds `name` (the last node for names past the end). */
  static async seek (store: TreeStore, root: Loaded, level: number, name: string, options: AbortOptions): Promise<LevelCursor> {
    const frames: Array<{ node: DirNode, index: number }> = []
    let current = root
    while (current.node.level > level) {
      const items = current.node.items as readonly ChildRef[]
      const index = Math.min(firstAtLeast(items, name), items.length - 1)
      frames.push({ node: current.node, index })
      const key = (items[index] as ChildRef).key
      current = { key, node: await store.load(key, dirNodeCodec, options) }
    }
    return new LevelCursor(store, level, frames, current)
  }

  atLastNode (): boolean {
    return this.frames.every((f) => f.index === f.node.items.length - 1)
  }

  /** Moves to the next node of the level; the caller checks atLastNode first. */
  async next (options: AbortOptions): Promise<void> {
    let depth = this.frames.length - 1
    while (depth >= 0 &&
      (this.frames[depth] as { node: DirNode, index: number }).index === (this.frames[depth] as { node: DirNode }).node.items.length - 1) depth--
    if (depth < 0) throw new RangeError('no node after the last one')
    this.frames.length = depth + 1
    const frame = this.frames[depth] as { node: DirNode, index: number }
    frame.index++
    let key = (frame.node.items[frame.index] as ChildRef).key
    let node = await this.store.load(key, dirNodeCodec, options)
    while (node.level > this.level) {
      this.frames.push({ node, index: 0 })
      key = (node.items[0] as ChildRef).key
      node = await this.store.load(key, dirNodeCodec, options)
    }
    this.current = { key, node }
  }
}

/** Index of the first item whose name is >= `name` (items.length if none). */
function firstAtLeast (items: readonly DirItem[], name: string): number {
  let lo = 0
  let hi = items.length
  while (lo < hi) {
    const mid = (lo + hi) >>> 1
    if (compareNames(itemName(items[mid] as DirItem), name) < 0) lo = mid + 1
    else hi = mid
  }
  return lo
}

function firstAbove (items: readonly DirItem[], name: string): number {
  const i = firstAtLeast(items, name)
  return i < items.length && itemName(items[i] as DirItem) === name ? i + 1 : i
}
