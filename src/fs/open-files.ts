import { ReadOnlyError, type AbortOptions, type Key } from '../core/index.js'
import type { EntryReadAhead } from './entry-read-ahead.js'
import * as fileData from './file-data.js'
import type { FileHandle, OpenOptions, OwnerOptions, FileReadOptions, WriteOptions } from './file-system.js'
import type { FileInode } from './inode.js'
import * as tree from './tree.js'
import { resolve, statOf, unsavedStatOf, type Stat } from './tree-read.js'
import type { TreeStore } from './tree-store.js'
import { VolumeHandle, type HandleHost } from './volume-handle.js'
import type { WalkStart } from './walk.js'

/** What open files need of their volume (volume.ts). */
export interface OpenFilesComponents {
  /** The volume's store: what is written to an unlinked file goes there, never into the tree. */
  store: TreeStore
  /** Key of the current tree's top inode. */
  currentTop: () => Key
  /**
   * Runs one change under the volume's mutex, after adding the staged file (withStaged) unless
   * the change is made through `own`, the staged file's handle, which adds it itself.
   */
  mutate: (options: OwnerOptions, change: (ctx: tree.TreeContext, top: Key) => Promise<Key>, own?: VolumeHandle) => Promise<void>
  /** The read-ahead across a directory's files, told of each open for reading (the volume's snapshots share it). */
  entriesAhead: EntryReadAhead
}

export interface OpenFilesInit {
  /** Data block size of files created from now on; a handle's readStream asks for read-ahead times this at a time. */
  blockSize: number
  /** Data blocks fetched in parallel ahead of a read (CFS's prefetch window). @default DEFAULT_READ_AHEAD_BLOCKS (file-data.ts) */
  readAheadBlocks?: number
}

/**
 * The owner's open files: the handles its volume gave out and what they ask of it. A handle
 * names its file by path, which a rename updates here. Once the file is unlinked or replaced
 * the handle keeps its own copy of the inode (`detached`), as a POSIX open file outlives its
 * name; its blocks stay buffered (liveStarts) and what is written to it is never published.
 *
 * A file created by open is **staged**: made (its inode number, owner, mode and times given)
 * but kept in its handle while it has no data block (it fits its inode: MAX_INLINE_BYTES), and
 * added to the tree when it gets one, at its handle's flush or close, or before anything else
 * changes or reads the tree. Its writes, times, mode, owner and xattrs until then change the
 * staged inode, so a small file made the way `cp -a` and `tar -x` make it (create, write, set
 * times, mode, owner) costs one change of the tree instead of three or four. At most one file
 * is staged, and every other change adds it first, so it joins the tree it was made in. Until
 * then it is seen through its handle and by stat and getxattr of its path.
 */
export class OpenFiles implements HandleHost {
  readonly readAheadBlocks: number
  readonly streamWindowBytes: number
  private readonly handles = new Set<VolumeHandle>()
  /** The handle of the staged file, if one is. */
  private stagedHandle: VolumeHandle | undefined
  /** The staged file's handle while a change adds it to the tree: unstaged once the change is the tree's (joined), staged still if it fails (abandon). */
  private joining: VolumeHandle | undefined

  constructor (private readonly components: OpenFilesComponents, private readonly init: OpenFilesInit) {
    this.readAheadBlocks = init.readAheadBlocks ?? fileData.DEFAULT_READ_AHEAD_BLOCKS
    this.streamWindowBytes = this.readAheadBlocks * init.blockSize
  }

  /** The handle of the staged file, if one is. */
  get staged (): VolumeHandle | undefined { return this.stagedHandle }

  /** Opens the file at `names` (Volume.open): created (staged) or cut first if asked, then resolved in the current tree. */
  async open (names: string[], options: OpenOptions & AbortOptions): Promise<VolumeHandle> {
    const { mutate } = this.components
    const write = options.write === true
    if (options.create === true) {
      const handle = new VolumeHandle(this, names, write)
      try {
        await mutate(options, async (ctx, top) => {
          const staged = await tree.stageFile(ctx, top, names, {
            blockSize: this.init.blockSize, exclusive: options.exclusive === true, ...(options.mode === undefined ? {} : { mode: options.mode }),
          })
          if (staged === undefined) return top // it exists: opened below
          if (options.truncate === true) return tree.addStaged(ctx, top, names, staged)
          // Staged under the mutex, so that no change gives its inode number to another inode
          // first, and a rename right after finds the handle.
          handle.staged = staged
          this.stagedHandle = handle
          this.handles.add(handle)
          return top
        })
      } catch (err) {
        if (this.stagedHandle === handle) this.unstage(handle)
        this.handles.delete(handle)
        throw err
      }
      if (handle.staged !== undefined) return handle
    } else {
      await this.addStaged(options)
    }
    const top = this.components.currentTop()
    const { key, inode } = await resolve(this.components.store, top, names, options)
    const file = tree.asFile(inode, names)
    // O_TRUNC: the times change even when the file was empty (as on Linux).
    if (options.truncate === true) await mutate(options, async (ctx, top) => tree.truncate(ctx, top, names, 0, true))
    const handle = new VolumeHandle(this, names, write)
    handle.resolved = { top, names, file, key }
    this.handles.add(handle)
    if (!write) {
      handle.readAhead.opened(this.components.store, file)
      this.components.entriesAhead.opened(this.components.store, top, names)
    }
    return handle
  }

  /** The staged file's handle, if `names` is its path. */
  stagedHandleAt (names: readonly string[]): VolumeHandle | undefined {
    const h = this.stagedHandle
    return h !== undefined && h.names.length === names.length && h.names.every((n, i) => names[i] === n) ? h : undefined
  }

  /** The staged file, if `names` is its path. */
  stagedAt (names: readonly string[]): FileInode | undefined {
    return this.stagedHandleAt(names)?.staged
  }

  /** Changes the staged file's inode, if `handle` still holds it (in a change of the volume's, under its mutex); false if not. */
  restage (handle: VolumeHandle, change: (file: FileInode) => FileInode): boolean {
    if (this.stagedHandle !== handle || handle.staged === undefined) return false
    handle.staged = change(handle.staged)
    return true
  }

  /** Adds the staged file to the tree (a no-op change when none is: the volume adds it before every change). */
  async addStaged (options: AbortOptions): Promise<void> {
    if (this.stagedHandle !== undefined) await this.components.mutate(options, async (_ctx, top) => top)
  }

  /** `top` with the file `handle` staged added, for the volume's mutate (which calls joined() once the tree is its). */
  async withStaged (ctx: tree.TreeContext, top: Key, handle: VolumeHandle): Promise<Key> {
    this.joining = handle
    return tree.addStaged(ctx, top, handle.names, handle.staged as FileInode)
  }

  /** The change that added the staged file is the tree's. */
  joined (): void {
    if (this.joining !== undefined) this.unstage(this.joining)
    this.joining = undefined
  }

  /** The change that would have added the staged file failed: it stays staged. */
  abandon (): void {
    this.joining = undefined
  }

  private unstage (handle: VolumeHandle): void {
    handle.staged = undefined
    if (this.stagedHandle === handle) this.stagedHandle = undefined
  }

  async statHandle (handle: VolumeHandle, options: AbortOptions): Promise<Stat> {
    if (handle.staged !== undefined) return unsavedStatOf(handle.staged)
    if (handle.detached !== undefined) return unsavedStatOf(handle.detached)
    const { key, file } = await this.handleFile(handle, options)
    return statOf(key, file)
  }

  async readHandle (handle: VolumeHandle, offset: number, length: number, options: FileReadOptions): Promise<Uint8Array> {
    const { store } = this.components
    const file = handle.staged ?? handle.detached ?? (await this.handleFile(handle, options)).file
    handle.readAhead.after(store, file, offset, length)
    return fileData.readBytes(store, file, offset, length, { ...options, readAhead: this.readAheadBlocks })
  }

  /** Writes through a handle (Volume.write with one): into the tree, or into the handle's own copy once detached. */
  async write (file: FileHandle, offset: number, data: Uint8Array, options: WriteOptions): Promise<number> {
    const handle = this.own(file)
    if (!handle.writable) throw new ReadOnlyError('the file is open read-only')
    await this.components.mutate(options, async (ctx, top) => {
      const staged = handle.staged
      if (staged !== undefined && this.stagedHandle === handle) {
        const content = tree.withContent(staged, await fileData.writeRange(this.components.store, staged, offset, data, options), ctx.nowNs)
        const written = options.times === undefined ? content : tree.withTimes(content, options.times, ctx.nowNs)
        if (written.data === null) {
          handle.staged = written // still no data block: still staged
          return top
        }
        // Its first data block: the file joins the tree with its bytes, in this change.
        this.joining = handle
        return tree.addStaged(ctx, top, handle.names, written)
      }
      if (handle.detached === undefined) return tree.write(ctx, top, handle.names, offset, data, options)
      const written = tree.withContent(handle.detached, await fileData.writeRange(this.components.store, handle.detached, offset, data, options), ctx.nowNs)
      handle.detached = options.times === undefined ? written : tree.withTimes(written, options.times, ctx.nowNs)
      return top
    }, handle)
    return data.length
  }

  async truncateHandle (handle: VolumeHandle, size: number, options: AbortOptions): Promise<void> {
    await this.components.mutate(options, async (ctx, top) => {
      // ftruncate: the times change even when the size does not (as on Linux).
      if (handle.detached === undefined) return tree.truncate(ctx, top, handle.names, size, true)
      handle.detached = tree.withContent(handle.detached, await fileData.truncate(this.components.store, handle.detached, size, options), ctx.nowNs)
      return top
    })
  }

  /** A flush (each close(2) of a descriptor): a staged file joins the tree, as a written file's bytes do. */
  async flushHandle (handle: VolumeHandle, options: AbortOptions): Promise<void> {
    if (handle.staged !== undefined) await this.addStaged(options)
  }

  async closeHandle (handle: VolumeHandle): Promise<void> {
    try {
      if (handle.staged !== undefined) await this.addStaged({}) // not flushed (no close(2) through FUSE): it joins the tree now
    } finally {
      handle.closed = true
      this.handles.delete(handle)
      if (this.stagedHandle === handle) this.unstage(handle)
    }
  }

  /** Open handles on the file at `names` in `top` (about to be unlinked or replaced) keep that file as it was. */
  async detach (top: Key, names: readonly string[]): Promise<void> {
    for (const h of this.handles) {
      if (h.detached !== undefined || !startsWith(h.names, names) || h.names.length !== names.length) continue
      const { inode } = await resolve(this.components.store, top, names)
      if (inode.type === 'file') h.detached = inode
    }
  }

  /** `src` was renamed to `dst` in `top` (or the two exchanged): handles follow their files. */
  async renamed (top: Key, src: readonly string[], dst: readonly string[], mode: tree.RenameMode): Promise<void> {
    if (mode !== 'exchange') await this.detach(top, dst) // a file that was replaced
    for (const h of this.handles) {
      if (h.detached !== undefined) continue
      if (startsWith(h.names, src)) h.names = [...dst, ...h.names.slice(src.length)]
      else if (mode === 'exchange' && startsWith(h.names, dst)) h.names = [...src, ...h.names.slice(dst.length)]
    }
  }

  /** Where walks of the unlinked open files' data begin: their blocks are kept (prune, release). */
  detachedStarts (): WalkStart[] {
    return [...this.handles].flatMap((h) => h.detached === undefined || h.detached.data === null ? [] : [fileStart(h.detached)])
  }

  /** The file a handle names in the current tree; resolved again only after a change or a rename. */
  private async handleFile (handle: VolumeHandle, options: AbortOptions): Promise<NonNullable<VolumeHandle['resolved']>> {
    const top = this.components.currentTop()
    const r = handle.resolved
    if (r !== undefined && r.top === top && r.names === handle.names) return r
    const { key, inode } = await resolve(this.components.store, top, handle.names, options)
    handle.resolved = { top, names: handle.names, file: tree.asFile(inode, handle.names), key }
    return handle.resolved
  }

  private own (file: FileHandle): VolumeHandle {
    if (!(file instanceof VolumeHandle) || !this.handles.has(file)) throw new TypeError('not an open handle of this volume')
    return file
  }
}

/** Where a walk of a file's data begins (a file with data). */
function fileStart (file: FileInode): WalkStart {
  const data = file.data as Key
  return file.depth === 0 ? { key: data, role: 'data' } : { key: data, role: 'indirect', level: file.depth }
}

function startsWith (names: readonly string[], prefix: readonly string[]): boolean {
  return names.length >= prefix.length && prefix.every((n, i) => names[i] === n)
}
