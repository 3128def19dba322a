/**
 * DEV DOCS: the copy-on-write file tree, one pure function per operation.
 *
 * A tree is the key of its top directory's inode. Every operation takes a tree and returns a
 * new one; nothing is modified in place, so any older tree (a published version, a reader's
 * snapshot) stays valid and readable as long as its blocks live. A change to a path rewrites
 * the inode at the path, then each ancestor: the parent's entry tree (directory.ts, O(log n)
 * nodes) and its inode, up to the top. Subtrees not on the path keep their keys.
 *
 * All checks happen before anything is written, and a multi-step operation (rename across
 * directories) composes pure steps, so a failing operation leaves no partial tree: the caller
 * still holds the old key. Errors are the CfsError classes FUSE maps to errno values:
 * EntryNotFoundError, EntryExistsError, NotADirectoryError, IsADirectoryError,
 * DirectoryNotEmptyError, InvalidNameError, NotSupportedError.
 *
 * Times are the caller's `nowMs` (the volume's clock), so the functions stay deterministic.
 * A directory's mtime and ctime change when entries are added or removed; an inode's ctime
 * when its attributes change; a rename leaves the moved inode as it is, keeping its key.
 */
import {
  DirectoryNotEmptyError, EntryExistsError, EntryNotFoundError, InvalidNameError, IsADirectoryError,
  NotADirectoryError, NotSupportedError, type AbortOptions, type Key,
} from '../core/index.js'
import type { DirEntry } from './dir-node.js'
import { editDirectory, lookupEntry, type Edit } from './directory.js'
import * as fileData from './file-data.js'
import { DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, MAX_TARGET_BYTES, MODE_MASK, inodeCodec, type DirInode, type FileInode, type Inode } from './inode.js'
import { joinPath } from './names.js'
import { dirChain, entryFor, resolve, type DirAt } from './tree-read.js'
import type { TreeStore } from './tree-store.js'

/** What every operation needs besides the tree: where blocks go and what time it is. */
export interface TreeContext {
  readonly store: TreeStore
  readonly nowMs: number
  readonly signal?: AbortSignal
}

function opts (ctx: TreeContext): AbortOptions {
  return ctx.signal === undefined ? {} : { signal: ctx.signal }
}

function checkMode (mode: number): number {
  if (!Number.isInteger(mode) || mode < 0) throw new RangeError('a mode is a non-negative integer')
  return mode & MODE_MASK
}

/** A tree holding one empty directory. */
export async function emptyTree (ctx: TreeContext, mode = DEFAULT_DIR_MODE): Promise<Key> {
  const top: DirInode = { type: 'dir', mode: checkMode(mode), size: 0, mtimeMs: ctx.nowMs, ctimeMs: ctx.nowMs, entries: null }
  return ctx.store.save(top, inodeCodec, opts(ctx))
}

/**
 * Replaces the directory at `dirNames` by `change(dir)` and rewrites its ancestors' entries
 * for it, up to a new top. The ancestors' own times do not change (POSIX: only the parent
 * whose entries changed is modified).
 */
async function updateDir (ctx: TreeContext, top: Key, dirNames: readonly string[], change: (dir: DirAt) => Promise<DirInode>): Promise<Key> {
  const chain = await dirChain(ctx.store, top, dirNames, opts(ctx))
  let inode: Inode = await change(chain.at(-1) as DirAt)
  let key = await ctx.store.save(inode, inodeCodec, opts(ctx))
  for (let i = chain.length - 1; i > 0; i--) {
    const parent = (chain[i - 1] as DirAt).inode
    const name = dirNames[i - 1] as string
    const entries = await editDirectory(ctx.store, parent.entries, [{ name, item: entryFor(name, key, inode) }], opts(ctx))
    inode = { ...parent, entries }
    key = await ctx.store.save(inode, inodeCodec, opts(ctx))
  }
  return key
}

/** Applies entry edits to a directory; `delta` is the change in its entry count. */
async function editEntries (ctx: TreeContext, dir: DirInode, edits: ReadonlyArray<Edit<DirEntry>>, delta: number, touch: boolean): Promise<DirInode> {
  const entries = await editDirectory(ctx.store, dir.entries, edits, opts(ctx))
  return touch
    ? { ...dir, entries, size: dir.size + delta, mtimeMs: ctx.nowMs, ctimeMs: ctx.nowMs }
    : { ...dir, entries, size: dir.size + delta }
}

/** Adds a new entry for `inode` at `names`; EntryExistsError if the name is taken. */
async function link (ctx: TreeContext, top: Key, names: readonly string[], inode: Inode): Promise<Key> {
  if (names.length === 0) throw new EntryExistsError('the top directory exists')
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }) => {
    if (await lookupEntry(ctx.store, dir.entries, name, opts(ctx)) !== undefined) throw new EntryExistsError(`already exists: ${joinPath(names)}`)
    const key = await ctx.store.save(inode, inodeCodec, opts(ctx))
    return editEntries(ctx, dir, [{ name, item: entryFor(name, key, inode) }], 1, true)
  })
}

export interface CreateOptions {
  /** Permission bits. @default DEFAULT_FILE_MODE (inode.ts) */
  mode?: number
  /** Fail with EntryExistsError if the name exists (O_EXCL); otherwise an existing file is kept. @default true */
  exclusive?: boolean
  /** Data block size of the new file. */
  blockSize: number
}

/** An empty regular file (or, without `exclusive`, the existing file left as it is). */
export async function createFile (ctx: TreeContext, top: Key, names: readonly string[], options: CreateOptions): Promise<Key> {
  if (options.exclusive === false && names.length > 0) {
    const chain = await dirChain(ctx.store, top, names.slice(0, -1), opts(ctx))
    const existing = await lookupEntry(ctx.store, (chain.at(-1) as DirAt).inode.entries, names.at(-1) as string, opts(ctx))
    if (existing?.type === 'dir') throw new IsADirectoryError(`is a directory: ${joinPath(names)}`)
    if (existing !== undefined) return top
  }
  if (names.length === 0) throw new IsADirectoryError('the top is a directory')
  const inode: FileInode = {
    type: 'file', mode: checkMode(options.mode ?? DEFAULT_FILE_MODE), mtimeMs: ctx.nowMs, ctimeMs: ctx.nowMs,
    ...fileData.emptyContent(options.blockSize),
  }
  return link(ctx, top, names, inode)
}

export async function mkdir (ctx: TreeContext, top: Key, names: readonly string[], mode = DEFAULT_DIR_MODE): Promise<Key> {
  const inode: DirInode = { type: 'dir', mode: checkMode(mode), size: 0, mtimeMs: ctx.nowMs, ctimeMs: ctx.nowMs, entries: null }
  return link(ctx, top, names, inode)
}

export async function symlink (ctx: TreeContext, top: Key, target: string, names: readonly string[]): Promise<Key> {
  if (typeof target !== 'string') throw new TypeError('a link target is a string')
  if (target === '') throw new EntryNotFoundError('a symbolic link needs a target')
  const size = Buffer.byteLength(target)
  if (target.includes('\0') || size > MAX_TARGET_BYTES) throw new InvalidNameError(`a link target is at most ${MAX_TARGET_BYTES} bytes, without NUL`)
  return link(ctx, top, names, { type: 'symlink', mode: 0o777, size, mtimeMs: ctx.nowMs, ctimeMs: ctx.nowMs, target })
}

/** Removes a file or symbolic link (IsADirectoryError for a directory: use rmdir). */
export async function unlink (ctx: TreeContext, top: Key, names: readonly string[]): Promise<Key> {
  if (names.length === 0) throw new IsADirectoryError('the top is a directory')
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }) => {
    const entry = await lookupEntry(ctx.store, dir.entries, name, opts(ctx))
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
    if (entry.type === 'dir') throw new IsADirectoryError(`is a directory: ${joinPath(names)}`)
    return editEntries(ctx, dir, [{ name, item: null }], -1, true)
  })
}

/** Removes an empty directory. */
export async function rmdir (ctx: TreeContext, top: Key, names: readonly string[]): Promise<Key> {
  if (names.length === 0) throw new InvalidNameError('the top directory cannot be removed')
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }) => {
    const entry = await lookupEntry(ctx.store, dir.entries, name, opts(ctx))
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
    if (entry.type !== 'dir') throw new NotADirectoryError(`not a directory: ${joinPath(names)}`)
    if (entry.size > 0) throw new DirectoryNotEmptyError(`directory not empty: ${joinPath(names)}`)
    return editEntries(ctx, dir, [{ name, item: null }], -1, true)
  })
}

/**
 * Moves an entry, replacing what is at the destination by POSIX rules: a directory only
 * replaces an empty directory (DirectoryNotEmptyError), a non-directory only a non-directory
 * (IsADirectoryError / NotADirectoryError). Moving a directory into itself is
 * InvalidNameError (EINVAL). Renaming an entry onto itself does nothing.
 */
export async function rename (ctx: TreeContext, top: Key, from: readonly string[], to: readonly string[]): Promise<Key> {
  if (from.length === 0 || to.length === 0) throw new InvalidNameError('the top directory cannot be renamed or replaced')
  const fromName = from.at(-1) as string
  const toName = to.at(-1) as string
  const fromDir = from.slice(0, -1)
  const toDir = to.slice(0, -1)
  const fromChain = await dirChain(ctx.store, top, fromDir, opts(ctx))
  const moved = await lookupEntry(ctx.store, (fromChain.at(-1) as DirAt).inode.entries, fromName, opts(ctx))
  if (moved === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(from)}`)
  const toChain = await dirChain(ctx.store, top, toDir, opts(ctx))
  if (samePath(from, to)) return top
  if (moved.type === 'dir' && to.length > from.length && samePath(from, to.slice(0, from.length))) {
    throw new InvalidNameError(`cannot move ${joinPath(from)} into itself`)
  }
  const replaced = await lookupEntry(ctx.store, (toChain.at(-1) as DirAt).inode.entries, toName, opts(ctx))
  if (replaced !== undefined) {
    if (moved.type === 'dir' && replaced.type !== 'dir') throw new NotADirectoryError(`not a directory: ${joinPath(to)}`)
    if (moved.type !== 'dir' && replaced.type === 'dir') throw new IsADirectoryError(`is a directory: ${joinPath(to)}`)
    if (replaced.type === 'dir' && replaced.size > 0) throw new DirectoryNotEmptyError(`directory not empty: ${joinPath(to)}`)
  }
  const arriving: DirEntry = { ...moved, name: toName }
  const added = replaced === undefined ? 1 : 0
  if (samePath(fromDir, toDir)) {
    return updateDir(ctx, top, fromDir, async ({ inode: dir }) =>
      editEntries(ctx, dir, [{ name: fromName, item: null }, { name: toName, item: arriving }], added - 1, true))
  }
  const removed = await updateDir(ctx, top, fromDir, async ({ inode: dir }) => editEntries(ctx, dir, [{ name: fromName, item: null }], -1, true))
  return updateDir(ctx, removed, toDir, async ({ inode: dir }) => editEntries(ctx, dir, [{ name: toName, item: arriving }], added, true))
}

function samePath (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}

/**
 * Replaces the inode at a non-empty path by `change(inode)` (which must keep its type) and
 * rewrites the ancestors.
 */
export async function updateInode (ctx: TreeContext, top: Key, names: readonly string[], change: (inode: Inode) => Promise<Inode>): Promise<Key> {
  if (names.length === 0) {
    const { inode } = await resolve(ctx.store, top, [], opts(ctx))
    return ctx.store.save(await change(inode), inodeCodec, opts(ctx))
  }
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }) => {
    const entry = await lookupEntry(ctx.store, dir.entries, name, opts(ctx))
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
    const inode = await change(await ctx.store.load(entry.key, inodeCodec, opts(ctx)))
    const key = await ctx.store.save(inode, inodeCodec, opts(ctx))
    return editEntries(ctx, dir, [{ name, item: entryFor(name, key, inode) }], 0, false)
  })
}

/** Like updateInode for regular files: IsADirectoryError / NotSupportedError otherwise. */
export async function updateFile (ctx: TreeContext, top: Key, names: readonly string[], change: (file: FileInode) => Promise<FileInode>): Promise<Key> {
  return updateInode(ctx, top, names, async (inode) => change(asFile(inode, names)))
}

export function asFile (inode: Inode, names: readonly string[]): FileInode {
  if (inode.type === 'dir') throw new IsADirectoryError(`is a directory: ${joinPath(names)}`)
  if (inode.type !== 'file') throw new NotSupportedError(`not a regular file: ${joinPath(names)}`)
  return inode
}

/** A file inode with new contents, modified now. */
export function withContent (file: FileInode, content: fileData.FileContent, nowMs: number): FileInode {
  return { ...file, ...content, mtimeMs: nowMs, ctimeMs: nowMs }
}

export async function write (ctx: TreeContext, top: Key, names: readonly string[], offset: number, bytes: Uint8Array): Promise<Key> {
  return updateFile(ctx, top, names, async (file) => withContent(file, await fileData.writeRange(ctx.store, file, offset, bytes, opts(ctx)), ctx.nowMs))
}

export async function truncate (ctx: TreeContext, top: Key, names: readonly string[], size: number): Promise<Key> {
  return updateFile(ctx, top, names, async (file) => withContent(file, await fileData.truncate(ctx.store, file, size, opts(ctx)), ctx.nowMs))
}

export async function chmod (ctx: TreeContext, top: Key, names: readonly string[], mode: number): Promise<Key> {
  const m = checkMode(mode)
  return updateInode(ctx, top, names, async (inode) => ({ ...inode, mode: m, ctimeMs: ctx.nowMs }))
}

/** Sets the modification time (and the change time to now). */
export async function setTimes (ctx: TreeContext, top: Key, names: readonly string[], mtimeMs: number): Promise<Key> {
  if (!Number.isSafeInteger(mtimeMs)) throw new RangeError('a time is an integer number of milliseconds')
  return updateInode(ctx, top, names, async (inode) => ({ ...inode, mtimeMs, ctimeMs: ctx.nowMs }))
}
