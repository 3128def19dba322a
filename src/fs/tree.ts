/**
 * DEV DOCS: the copy-on-write file tree, one pure function per operation.
 *
 * A tree is the key of its top directory's inode. Every operation takes a tree and returns a
 * new one; nothing is modified in place, so any older tree (a published version, a reader's
 * snapshot) stays valid and readable as long as its blocks live. A change to a path rewrites
 * the inode at the path, then each ancestor: the parent's entry tree (directory.ts, O(log n)
 * nodes) and its inode, up to the top. Subtrees not on the path keep their keys.
 *
 * Inode numbers and hard links. Every inode has a number, given out from the top's counter
 * (`table.nextIno`) and kept for its life. An inode with one name lives in its directory
 * entry (the entry holds its key and repeats its attributes). link(2) moves an inode into the
 * volume's inode table: an entry tree (the same prolly tree as directories) on the top inode,
 * keyed by the inode number; every name of it becomes a LinkEntry holding just the number.
 * Changing a linked inode rewrites its table entry and the top (O(log n) blocks), none of its
 * directories. An inode stays in the table until its last name goes, so numbers and names
 * never have to be found again from the inode.
 *
 * All checks happen before anything is written, and a multi-step operation (rename across
 * directories) composes pure steps, so a failing operation leaves no partial tree: the caller
 * still holds the old key. Errors are the CfsError classes FUSE maps to errno values.
 *
 * Times are the caller's `nowNs` (the volume's clock), so the functions stay deterministic.
 * As on Linux: a directory's mtime and ctime change when entries are added or removed; an
 * inode's ctime when its attributes, its link count or its name change; mtime and ctime when
 * its contents do (truncate only when the size changes). atime is set at creation and by
 * setTimes only (noatime: reading changes nothing).
 */
import {
  AttributeExistsError, AttributeNotFoundError, AttributeTooLargeError, BlockInvalidError, DirectoryNotEmptyError, EntryExistsError,
  EntryNotFoundError, InvalidNameError, IsADirectoryError, NotADirectoryError, NotSupportedError, type AbortOptions, type Key,
} from '../core/index.js'
import type { DirEntry, InodeEntry, LinkEntry } from './dir-node.js'
import { editDirectory, lookupEntry, type Edit } from './directory.js'
import * as fileData from './file-data.js'
import {
  DEFAULT_DIR_MODE, DEFAULT_FILE_MODE, MAX_ID, MAX_TARGET_BYTES, MAX_XATTR_NAME_BYTES, MAX_XATTR_TOTAL_BYTES, MAX_XATTR_VALUE_BYTES,
  MODE_MASK, S_ISGID, TOP_INO, inodeCodec, type Attributes, type DirInode, type FileInode, type Inode, type Owner, type SpecialType, type Xattr,
} from './inode.js'
import { compareNames, joinPath } from './names.js'
import { dirChain, entryFor, inoName, loadTopDir, resolve, type DirAt } from './tree-read.js'
import type { TreeStore } from './tree-store.js'

/** What every operation needs besides the tree: where blocks go, what time it is, and who asks. */
export interface TreeContext {
  readonly store: TreeStore
  readonly nowNs: bigint
  /** Owner of the inodes an operation creates. */
  readonly owner: Owner
  readonly signal?: AbortSignal
}

function opts (ctx: TreeContext): AbortOptions {
  return ctx.signal === undefined ? {} : { signal: ctx.signal }
}

function checkMode (mode: number): number {
  if (!Number.isInteger(mode) || mode < 0) throw new RangeError('a mode is a non-negative integer')
  return mode & MODE_MASK
}

function checkId (id: number, what: string): number {
  if (!Number.isInteger(id) || id < 0 || id > MAX_ID) throw new RangeError(`a ${what} is an integer from 0 to ${MAX_ID}`)
  return id
}

async function save (ctx: TreeContext, inode: Inode): Promise<Key> {
  return ctx.store.save(inode, inodeCodec, opts(ctx))
}

async function load (ctx: TreeContext, key: Key): Promise<Inode> {
  return ctx.store.load(key, inodeCodec, opts(ctx))
}

/** A tree holding one empty directory, owned by `ctx.owner`. */
export async function emptyTree (ctx: TreeContext, mode = DEFAULT_DIR_MODE): Promise<Key> {
  const top: DirInode = {
    type: 'dir', ...newAttributes(ctx, TOP_INO, checkMode(mode), ctx.owner.gid), nlink: 2, xattrs: [], entries: null,
    table: { links: null, nextIno: TOP_INO + 1 },
  }
  return save(ctx, top)
}

function newAttributes (ctx: TreeContext, ino: number, mode: number, gid: number): Attributes {
  return { ino, mode, uid: ctx.owner.uid, gid, nlink: 1, size: 0, rdev: 0, atimeNs: ctx.nowNs, mtimeNs: ctx.nowNs, ctimeNs: ctx.nowNs }
}

/**
 * Changes to the top's inode table made by one step of an operation: inode numbers given out
 * and table entries set or removed, applied when the step writes the top.
 */
class TableEdit {
  private nextIno: number
  private readonly edits = new Map<string, Edit<DirEntry>>()

  constructor (private readonly ctx: TreeContext, private readonly top: DirInode) {
    this.nextIno = top.table?.nextIno ?? TOP_INO + 1
  }

  allocate (): number {
    return this.nextIno++
  }

  get changed (): boolean {
    return this.edits.size > 0 || this.nextIno !== this.top.table?.nextIno
  }

  /** The inode entry of a name: its own, or the table's for a hard link. */
  async resolve (entry: DirEntry): Promise<InodeEntry> {
    if (entry.key !== null) return entry
    const name = inoName(entry.ino)
    const pending = this.edits.get(name)
    const found = pending !== undefined ? pending.item : await lookupEntry(this.ctx.store, this.top.table?.links ?? null, name, opts(this.ctx))
    // A name of an inode the table does not hold: the tree is damaged, not the name missing.
    if (found === undefined || found === null || found.key === null) throw new BlockInvalidError(`inode ${entry.ino} is not in the inode table`)
    return { ...found, name: entry.name }
  }

  set (key: Key, inode: Inode): void {
    const name = inoName(inode.ino)
    this.edits.set(name, { name, item: entryFor(name, key, inode) })
  }

  remove (ino: number): void {
    const name = inoName(ino)
    this.edits.set(name, { name, item: null })
  }

  /** `top` (the new top inode) with the table changes. */
  async apply (top: DirInode): Promise<DirInode> {
    if (!this.changed) return top
    const links = await editDirectory(this.ctx.store, this.top.table?.links ?? null, [...this.edits.values()], opts(this.ctx))
    return { ...top, table: { links, nextIno: this.nextIno } }
  }
}

/**
 * Replaces the directory at `dirNames` by `change(dir, table)` and rewrites its ancestors'
 * entries for it, up to a new top carrying the table changes. The ancestors' own times do not
 * change (POSIX: only the parent whose entries changed is modified). A change that returns
 * the directory as it was changes the table only.
 */
async function updateDir (
  ctx: TreeContext,
  top: Key,
  dirNames: readonly string[],
  change: (dir: DirAt, table: TableEdit) => Promise<DirInode>,
): Promise<Key> {
  const chain = await dirChain(ctx.store, top, dirNames, opts(ctx))
  const topDir = (chain[0] as DirAt).inode
  const table = new TableEdit(ctx, topDir)
  const target = chain.at(-1) as DirAt
  let inode = await change(target, table)
  if (inode === target.inode && dirNames.length > 0) {
    return table.changed ? save(ctx, await table.apply(topDir)) : top
  }
  if (dirNames.length === 0) inode = await table.apply(inode)
  let key = await save(ctx, inode)
  for (let i = chain.length - 1; i > 0; i--) {
    const parent = (chain[i - 1] as DirAt).inode
    const name = dirNames[i - 1] as string
    const entries = await editDirectory(ctx.store, parent.entries, [{ name, item: entryFor(name, key, inode) }], opts(ctx))
    inode = { ...parent, entries }
    if (i === 1) inode = await table.apply(inode)
    key = await save(ctx, inode)
  }
  return key
}

/**
 * Applies entry edits to a directory; `sizeDelta` is the change in its entry count and
 * `linkDelta` in its subdirectories. `touch` sets its mtime and ctime to now.
 */
async function editEntries (
  ctx: TreeContext, dir: DirInode, edits: ReadonlyArray<Edit<DirEntry>>, sizeDelta: number, linkDelta: number, touch: boolean,
): Promise<DirInode> {
  const entries = await editDirectory(ctx.store, dir.entries, edits, opts(ctx))
  const next = { ...dir, entries, size: dir.size + sizeDelta, nlink: dir.nlink + linkDelta }
  return touch ? { ...next, mtimeNs: ctx.nowNs, ctimeNs: ctx.nowNs } : next
}

/**
 * Adds a name for a new inode, made by `make(ino, attributes)` (the caller's owner; the
 * directory's group and setgid bit when the directory is setgid, as Linux does).
 */
async function addNew (
  ctx: TreeContext, top: Key, names: readonly string[], mode: number, make: (attributes: Attributes) => Inode,
): Promise<Key> {
  if (names.length === 0) throw new EntryExistsError('the top directory exists')
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }, table) => {
    if (await lookupEntry(ctx.store, dir.entries, name, opts(ctx)) !== undefined) throw new EntryExistsError(`already exists: ${joinPath(names)}`)
    const inode = made(ctx, dir, table.allocate(), mode, make)
    const key = await save(ctx, inode)
    return editEntries(ctx, dir, [{ name, item: entryFor(name, key, inode) }], 1, inode.type === 'dir' ? 1 : 0, true)
  })
}

/** A new inode in `dir`: the caller's owner, and the directory's group and setgid bit when it is setgid (as Linux does). */
function made (ctx: TreeContext, dir: DirInode, ino: number, mode: number, make: (attributes: Attributes) => Inode): Inode {
  const inherit = (dir.mode & S_ISGID) !== 0
  const inode = make(newAttributes(ctx, ino, mode, inherit ? dir.gid : ctx.owner.gid))
  return inherit && inode.type === 'dir' ? { ...inode, mode: inode.mode | S_ISGID } : inode
}

export interface CreateOptions {
  /** Permission bits. @default DEFAULT_FILE_MODE (inode.ts) */
  mode?: number
  /** Fail with EntryExistsError if the name exists (O_EXCL); otherwise an existing file is kept. @default true */
  exclusive?: boolean
  /** Data block size of the new file. */
  blockSize: number
}

/**
 * The file createFile would add at `names` in `top`, made now but not added: the next inode
 * number, the caller's owner, the directory's group if it is setgid. Undefined when the name
 * exists (anything with `exclusive`: EntryExistsError; else a directory: IsADirectoryError); the
 * parent's errors as createFile's. A volume stages a created file so (open-files.ts) and
 * adds it later, as it is then, by addStaged.
 */
export async function stageFile (ctx: TreeContext, top: Key, names: readonly string[], options: CreateOptions): Promise<FileInode | undefined> {
  if (names.length === 0) throw new IsADirectoryError('the top is a directory')
  const chain = await dirChain(ctx.store, top, names.slice(0, -1), opts(ctx))
  const dir = (chain.at(-1) as DirAt).inode
  const existing = await lookupEntry(ctx.store, dir.entries, names.at(-1) as string, opts(ctx))
  if (existing !== undefined && options.exclusive !== false) throw new EntryExistsError(`already exists: ${joinPath(names)}`)
  if (existing?.type === 'dir') throw new IsADirectoryError(`is a directory: ${joinPath(names)}`)
  if (existing !== undefined) return undefined
  const nextIno = (chain[0] as DirAt).inode.table?.nextIno ?? TOP_INO + 1
  const content = fileData.emptyContent(options.blockSize)
  return made(ctx, dir, nextIno, checkMode(options.mode ?? DEFAULT_FILE_MODE), (a) => ({ type: 'file', ...a, xattrs: [], ...content })) as FileInode
}

/**
 * Adds a file stageFile made, as it is now (written to since, perhaps), at `names`. Nothing
 * may have changed the tree in between: its inode number must still be the next one.
 */
export async function addStaged (ctx: TreeContext, top: Key, names: readonly string[], file: FileInode): Promise<Key> {
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }, table) => {
    const ino = table.allocate()
    if (ino !== file.ino) throw new Error(`a staged file has inode number ${file.ino}, the tree gives ${ino}: it changed in between`)
    if (await lookupEntry(ctx.store, dir.entries, name, opts(ctx)) !== undefined) throw new EntryExistsError(`already exists: ${joinPath(names)}`)
    const key = await save(ctx, file)
    return editEntries(ctx, dir, [{ name, item: entryFor(name, key, file) }], 1, 0, true)
  })
}

/** An empty regular file (or, without `exclusive`, the existing file left as it is). */
export async function createFile (ctx: TreeContext, top: Key, names: readonly string[], options: CreateOptions): Promise<Key> {
  const file = await stageFile(ctx, top, names, options)
  return file === undefined ? top : addStaged(ctx, top, names, file)
}

export async function mkdir (ctx: TreeContext, top: Key, names: readonly string[], mode = DEFAULT_DIR_MODE): Promise<Key> {
  return addNew(ctx, top, names, checkMode(mode), (a) => ({ type: 'dir', ...a, nlink: 2, xattrs: [], entries: null }))
}

export async function symlink (ctx: TreeContext, top: Key, target: string, names: readonly string[]): Promise<Key> {
  if (typeof target !== 'string') throw new TypeError('a link target is a string')
  if (target === '') throw new EntryNotFoundError('a symbolic link needs a target')
  const size = Buffer.byteLength(target)
  if (target.includes('\0') || size > MAX_TARGET_BYTES) throw new InvalidNameError(`a link target is at most ${MAX_TARGET_BYTES} bytes, without NUL`)
  return addNew(ctx, top, names, 0o777, (a) => ({ type: 'symlink', ...a, size, xattrs: [], target }))
}

/** A fifo, socket or device node; `rdev` is a device's number (0 for the others). */
export async function mknod (ctx: TreeContext, top: Key, names: readonly string[], type: SpecialType, mode: number, rdev = 0): Promise<Key> {
  const dev = type === 'chardev' || type === 'blockdev' ? rdev : 0
  if (!Number.isSafeInteger(dev) || dev < 0) throw new RangeError('a device number is a non-negative integer')
  return addNew(ctx, top, names, checkMode(mode), (a) => ({ type, ...a, rdev: dev, xattrs: [] }))
}

/**
 * A new name `to` for the non-directory at `from` (link(2)). The inode moves into the inode
 * table on its first link; its link count and ctime change, the new name's directory is modified.
 */
export async function link (ctx: TreeContext, top: Key, from: readonly string[], to: readonly string[]): Promise<Key> {
  if (from.length === 0) throw new NotSupportedError('a directory cannot be hard-linked')
  if (to.length === 0) throw new EntryExistsError('the top directory exists')
  const fromDir = from.slice(0, -1)
  const fromName = from.at(-1) as string
  const toName = to.at(-1) as string
  const source = await lookupEntry(ctx.store, (await dirChain(ctx.store, top, fromDir, opts(ctx))).at(-1)?.inode.entries ?? null, fromName, opts(ctx))
  if (source === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(from)}`)
  if (source.type === 'dir') throw new NotSupportedError(`a directory cannot be hard-linked: ${joinPath(from)}`)
  const toChain = await dirChain(ctx.store, top, to.slice(0, -1), opts(ctx))
  if (await lookupEntry(ctx.store, (toChain.at(-1) as DirAt).inode.entries, toName, opts(ctx)) !== undefined) {
    throw new EntryExistsError(`already exists: ${joinPath(to)}`)
  }
  let ino = 0
  const linked = await updateDir(ctx, top, fromDir, async ({ inode: dir }, table) => {
    const current = await table.resolve(source)
    const inode = await load(ctx, current.key)
    const next = { ...inode, nlink: inode.nlink + 1, ctimeNs: ctx.nowNs }
    table.set(await save(ctx, next), next)
    ino = next.ino
    if (source.key === null) return dir
    return editEntries(ctx, dir, [{ name: fromName, item: linkEntry(fromName, source.type, ino) }], 0, 0, false)
  })
  return updateDir(ctx, linked, to.slice(0, -1), async ({ inode: dir }) =>
    editEntries(ctx, dir, [{ name: toName, item: linkEntry(toName, source.type, ino) }], 1, 0, true))
}

function linkEntry (name: string, type: DirEntry['type'], ino: number): LinkEntry {
  return { name, type, ino, key: null }
}

/** One name fewer for a linked inode (in the step's table): gone with its last name. */
async function dropName (ctx: TreeContext, table: TableEdit, entry: DirEntry): Promise<void> {
  if (entry.key !== null) return
  const current = await table.resolve(entry)
  const inode = await load(ctx, current.key)
  if (inode.nlink <= 1) {
    table.remove(inode.ino)
    return
  }
  const next = { ...inode, nlink: inode.nlink - 1, ctimeNs: ctx.nowNs }
  table.set(await save(ctx, next), next)
}

/** Removes a name of a non-directory (IsADirectoryError for a directory: use rmdir). */
export async function unlink (ctx: TreeContext, top: Key, names: readonly string[]): Promise<Key> {
  if (names.length === 0) throw new IsADirectoryError('the top is a directory')
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }, table) => {
    const entry = await lookupEntry(ctx.store, dir.entries, name, opts(ctx))
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
    if (entry.type === 'dir') throw new IsADirectoryError(`is a directory: ${joinPath(names)}`)
    await dropName(ctx, table, entry)
    return editEntries(ctx, dir, [{ name, item: null }], -1, 0, true)
  })
}

/** Removes an empty directory. */
export async function rmdir (ctx: TreeContext, top: Key, names: readonly string[]): Promise<Key> {
  if (names.length === 0) throw new InvalidNameError('the top directory cannot be removed')
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }) => {
    const entry = await lookupEntry(ctx.store, dir.entries, name, opts(ctx))
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
    if (entry.type !== 'dir' || entry.key === null) throw new NotADirectoryError(`not a directory: ${joinPath(names)}`)
    if (entry.size > 0) throw new DirectoryNotEmptyError(`directory not empty: ${joinPath(names)}`)
    return editEntries(ctx, dir, [{ name, item: null }], -1, -1, true)
  })
}

/**
 * Moves an entry, replacing what is at the destination by POSIX rules: a directory only
 * replaces an empty directory (DirectoryNotEmptyError), a non-directory only a non-directory
 * (IsADirectoryError / NotADirectoryError). Moving a directory into itself is
 * InvalidNameError (EINVAL). Renaming an entry onto itself, or onto another name of the same
 * inode, does nothing. The moved inode's ctime changes, as on Linux.
 */
/** renameat2's flags: RENAME_NOREPLACE (fail with EntryExistsError if `to` exists), RENAME_EXCHANGE (swap). */
export type RenameMode = 'replace' | 'noreplace' | 'exchange'

export async function rename (ctx: TreeContext, top: Key, from: readonly string[], to: readonly string[], mode: RenameMode = 'replace'): Promise<Key> {
  if (mode === 'exchange') return exchange(ctx, top, from, to)
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
  if (replaced !== undefined && mode === 'noreplace') throw new EntryExistsError(`already exists: ${joinPath(to)}`)
  if (replaced !== undefined) {
    if (moved.type === 'dir' && replaced.type !== 'dir') throw new NotADirectoryError(`not a directory: ${joinPath(to)}`)
    if (moved.type !== 'dir' && replaced.type === 'dir') throw new IsADirectoryError(`is a directory: ${joinPath(to)}`)
    if (replaced.type === 'dir' && replaced.key !== null && replaced.size > 0) throw new DirectoryNotEmptyError(`directory not empty: ${joinPath(to)}`)
    if (replaced.ino === moved.ino) return top // two names of one inode
  }
  const movedDir = moved.type === 'dir' ? 1 : 0
  const replacedDir = replaced?.type === 'dir' ? 1 : 0
  const added = replaced === undefined ? 1 : 0
  /** The moved entry under its new name, its inode's ctime now. */
  const arrive = async (table: TableEdit): Promise<DirEntry> => touched(ctx, table, moved, toName)
  if (samePath(fromDir, toDir)) {
    return updateDir(ctx, top, fromDir, async ({ inode: dir }, table) => {
      if (replaced !== undefined) await dropName(ctx, table, replaced)
      const arriving = await arrive(table)
      return editEntries(ctx, dir, [{ name: fromName, item: null }, { name: toName, item: arriving }], added - 1, -replacedDir, true)
    })
  }
  let arriving: DirEntry | undefined
  const removed = await updateDir(ctx, top, fromDir, async ({ inode: dir }, table) => {
    arriving = await arrive(table)
    return editEntries(ctx, dir, [{ name: fromName, item: null }], -1, -movedDir, true)
  })
  return updateDir(ctx, removed, toDir, async ({ inode: dir }, table) => {
    if (replaced !== undefined) await dropName(ctx, table, replaced)
    return editEntries(ctx, dir, [{ name: toName, item: arriving as DirEntry }], added, movedDir - replacedDir, true)
  })
}

/** The entry at `names` with its inode's ctime now (in the table for a hard link), named `name`. */
async function touched (ctx: TreeContext, table: TableEdit, entry: DirEntry, name: string): Promise<DirEntry> {
  if (entry.key === null) {
    const inode = await load(ctx, (await table.resolve(entry)).key)
    const next = { ...inode, ctimeNs: ctx.nowNs }
    table.set(await save(ctx, next), next)
    return linkEntry(name, entry.type, entry.ino)
  }
  const inode = { ...await load(ctx, entry.key), ctimeNs: ctx.nowNs }
  return entryFor(name, await save(ctx, inode), inode)
}

/**
 * Swaps two entries (RENAME_EXCHANGE): both must exist, and neither may be above the other
 * (InvalidNameError). Both inodes' ctimes and both directories' times change.
 */
async function exchange (ctx: TreeContext, top: Key, a: readonly string[], b: readonly string[]): Promise<Key> {
  if (a.length === 0 || b.length === 0) throw new InvalidNameError('the top directory cannot be exchanged')
  const aDir = a.slice(0, -1)
  const bDir = b.slice(0, -1)
  const aName = a.at(-1) as string
  const bName = b.at(-1) as string
  const aEntry = await lookupEntry(ctx.store, (await dirChain(ctx.store, top, aDir, opts(ctx))).at(-1)?.inode.entries ?? null, aName, opts(ctx))
  const bEntry = await lookupEntry(ctx.store, (await dirChain(ctx.store, top, bDir, opts(ctx))).at(-1)?.inode.entries ?? null, bName, opts(ctx))
  if (aEntry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(a)}`)
  if (bEntry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(b)}`)
  if (samePath(a, b)) return top
  const inside = (x: readonly string[], y: readonly string[]): boolean => y.length > x.length && samePath(x, y.slice(0, x.length))
  if (inside(a, b) || inside(b, a)) throw new InvalidNameError(`cannot exchange ${joinPath(a)} with an entry inside it`)
  // A directory moving to the other parent takes its `..` link with it.
  const aDirs = (aEntry.type === 'dir' ? 1 : 0) - (bEntry.type === 'dir' ? 1 : 0)
  if (samePath(aDir, bDir)) {
    return updateDir(ctx, top, aDir, async ({ inode: dir }, table) => editEntries(ctx, dir, [
      { name: aName, item: await touched(ctx, table, bEntry, aName) },
      { name: bName, item: await touched(ctx, table, aEntry, bName) },
    ], 0, 0, true))
  }
  const first = await updateDir(ctx, top, aDir, async ({ inode: dir }, table) =>
    editEntries(ctx, dir, [{ name: aName, item: await touched(ctx, table, bEntry, aName) }], 0, -aDirs, true))
  return updateDir(ctx, first, bDir, async ({ inode: dir }, table) =>
    editEntries(ctx, dir, [{ name: bName, item: await touched(ctx, table, aEntry, bName) }], 0, aDirs, true))
}

function samePath (a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((n, i) => n === b[i])
}

/**
 * Replaces the inode at a path by `change(inode)` (which must keep its type and number) and
 * rewrites what names it: the entry and the ancestors, or the inode table for a hard link.
 */
export async function updateInode (ctx: TreeContext, top: Key, names: readonly string[], change: (inode: Inode) => Promise<Inode>): Promise<Key> {
  if (names.length === 0) {
    const { inode } = await loadTopDir(ctx.store, top, opts(ctx))
    return save(ctx, await change(inode))
  }
  const name = names.at(-1) as string
  return updateDir(ctx, top, names.slice(0, -1), async ({ inode: dir }, table) => {
    const entry = await lookupEntry(ctx.store, dir.entries, name, opts(ctx))
    if (entry === undefined) throw new EntryNotFoundError(`no such file or directory: ${joinPath(names)}`)
    const current = await table.resolve(entry)
    const inode = await change(await load(ctx, current.key))
    const key = await save(ctx, inode)
    if (entry.key === null) {
      table.set(key, inode)
      return dir
    }
    return editEntries(ctx, dir, [{ name, item: entryFor(name, key, inode) }], 0, 0, false)
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

/** A file inode with new contents, modified now (unless `touch` is false). */
export function withContent (file: FileInode, content: fileData.FileContent, nowNs: bigint, touch = true): FileInode {
  return touch ? { ...file, ...content, mtimeNs: nowNs, ctimeNs: nowNs } : { ...file, ...content }
}

/** Writes `bytes` at `offset`; with `times`, then sets them as setTimes would, in the same rewrite. */
export async function write (
  ctx: TreeContext,
  top: Key,
  names: readonly string[],
  offset: number,
  bytes: Uint8Array,
  options: { times?: SetTimes, transfer?: boolean } = {},
): Promise<Key> {
  return updateFile(ctx, top, names, async (file) => {
    const content = await fileData.writeRange(ctx.store, file, offset, bytes, { ...opts(ctx), transfer: options.transfer === true })
    const written = withContent(file, content, ctx.nowNs)
    return options.times === undefined ? written : withTimes(written, options.times, ctx.nowNs)
  })
}

/**
 * Cuts or extends a file. As on Linux, truncate(2) changes its times only when the size
 * changes; ftruncate and open with O_TRUNC always do (`touch`).
 */
export async function truncate (ctx: TreeContext, top: Key, names: readonly string[], size: number, touch = false): Promise<Key> {
  return updateFile(ctx, top, names, async (file) =>
    withContent(file, await fileData.truncate(ctx.store, file, size, opts(ctx)), ctx.nowNs, touch || size !== file.size))
}

/**
 * A change to one inode's attributes (mode, owner, times, xattrs), made at `nowNs`: what
 * changeInode applies to an inode of the tree, and a volume to the file it staged (open-files.ts).
 * Its arguments are checked when it is made.
 */
export type InodeChange = <T extends Inode>(inode: T, nowNs: bigint) => T

/** Applies `change` to the inode at `names`. */
export async function changeInode (ctx: TreeContext, top: Key, names: readonly string[], change: InodeChange): Promise<Key> {
  return updateInode(ctx, top, names, async (inode) => change(inode, ctx.nowNs))
}

/** Sets the permission bits (with setuid, setgid and sticky); ctime changes. */
export function modeChange (mode: number): InodeChange {
  const m = checkMode(mode)
  return (inode, nowNs) => ({ ...inode, mode: m, ctimeNs: nowNs })
}

/** Sets the owner and/or group (undefined leaves one as it is); ctime changes either way. */
export function ownerChange (uid: number | undefined, gid: number | undefined): InodeChange {
  const u = uid === undefined ? undefined : checkId(uid, 'uid')
  const g = gid === undefined ? undefined : checkId(gid, 'gid')
  return (inode, nowNs) => ({ ...inode, uid: u ?? inode.uid, gid: g ?? inode.gid, ctimeNs: nowNs })
}

export async function chmod (ctx: TreeContext, top: Key, names: readonly string[], mode: number): Promise<Key> {
  return changeInode(ctx, top, names, modeChange(mode))
}

export async function chown (ctx: TreeContext, top: Key, names: readonly string[], uid: number | undefined, gid: number | undefined): Promise<Key> {
  return changeInode(ctx, top, names, ownerChange(uid, gid))
}

export interface SetTimes {
  /** Nanoseconds since the epoch, or 'now' (UTIME_NOW); undefined leaves it as it is (UTIME_OMIT). */
  readonly atimeNs?: bigint | 'now' | undefined
  readonly mtimeNs?: bigint | 'now' | undefined
}

/** Sets the access and/or modification time; ctime becomes now unless neither is set. */
export async function setTimes (ctx: TreeContext, top: Key, names: readonly string[], times: SetTimes): Promise<Key> {
  if (times.atimeNs === undefined && times.mtimeNs === undefined) return top
  return changeInode(ctx, top, names, timesChange(times))
}

export function timesChange (times: SetTimes): InodeChange {
  return (inode, nowNs) => withTimes(inode, times, nowNs)
}

/** An inode with times set (setTimes), ctime now unless neither time is set. */
export function withTimes<T extends Inode> (inode: T, times: SetTimes, nowNs: bigint): T {
  if (times.atimeNs === undefined && times.mtimeNs === undefined) return inode
  const time = (t: bigint | 'now' | undefined, old: bigint): bigint => t === undefined ? old : t === 'now' ? nowNs : t
  return { ...inode, atimeNs: time(times.atimeNs, inode.atimeNs), mtimeNs: time(times.mtimeNs, inode.mtimeNs), ctimeNs: nowNs }
}

/** How setXattr treats an existing attribute: XATTR_CREATE, XATTR_REPLACE, or either. */
export type XattrMode = 'create' | 'replace' | 'either'

/** Sets an extended attribute (ctime now) by Linux's rules for XATTR_CREATE and XATTR_REPLACE. */
export async function setXattr (ctx: TreeContext, top: Key, names: readonly string[], name: string, value: Uint8Array, mode: XattrMode = 'either'): Promise<Key> {
  return changeInode(ctx, top, names, xattrChange(name, value, mode))
}

export function xattrChange (name: string, value: Uint8Array, mode: XattrMode = 'either'): InodeChange {
  checkXattrName(name)
  if (value.length > MAX_XATTR_VALUE_BYTES) throw new AttributeTooLargeError(`an extended attribute value is at most ${MAX_XATTR_VALUE_BYTES} bytes`)
  const copy = Uint8Array.from(value)
  return (inode, nowNs) => {
    const i = inode.xattrs.findIndex(([n]) => n === name)
    if (i >= 0 && mode === 'create') throw new AttributeExistsError(`extended attribute exists: ${name}`)
    if (i < 0 && mode === 'replace') throw new AttributeNotFoundError(`no extended attribute ${name}`)
    const xattrs: Xattr[] = inode.xattrs.filter(([n]) => n !== name)
    xattrs.push([name, copy])
    xattrs.sort(([a], [b]) => compareNames(a, b))
    const total = xattrs.reduce((sum, [n, v]) => sum + Buffer.byteLength(n) + v.length, 0)
    if (total > MAX_XATTR_TOTAL_BYTES) throw new AttributeTooLargeError(`an inode's extended attributes are at most ${MAX_XATTR_TOTAL_BYTES} bytes together`, true)
    return { ...inode, xattrs, ctimeNs: nowNs }
  }
}

export async function removeXattr (ctx: TreeContext, top: Key, names: readonly string[], name: string): Promise<Key> {
  return changeInode(ctx, top, names, xattrRemoval(name))
}

export function xattrRemoval (name: string): InodeChange {
  checkXattrName(name)
  return (inode, nowNs) => {
    if (!inode.xattrs.some(([n]) => n === name)) throw new AttributeNotFoundError(`no extended attribute ${name}`)
    return { ...inode, xattrs: inode.xattrs.filter(([n]) => n !== name), ctimeNs: nowNs }
  }
}

export function checkXattrName (name: string): void {
  if (typeof name !== 'string' || name === '' || name.includes('\0')) throw new InvalidNameError('an extended attribute needs a name')
  if (Buffer.byteLength(name) > MAX_XATTR_NAME_BYTES) throw new AttributeTooLargeError(`an extended attribute name is at most ${MAX_XATTR_NAME_BYTES} bytes`)
}

/** The value of one extended attribute of the inode at a path; undefined when it has none of that name. */
export async function getXattr (
  store: TreeStore, top: Key, names: readonly string[], name: string, options: AbortOptions = {},
): Promise<Uint8Array | undefined> {
  const { inode } = await resolve(store, top, names, options)
  return inode.xattrs.find(([n]) => n === name)?.[1]
}
