import { InvalidNameError, NotADirectoryError, ReadOnlyError, type AbortOptions, type Key } from '../core/index.js'
import type { InodeEntry } from './dir-node.js'
import { listEntries, type ListOptions } from './directory.js'
import { DEFAULT_READ_AHEAD_BLOCKS, readBytes, readRange } from './file-data.js'
import { entryReadAheadFor, type EntryReadAhead } from './entry-read-ahead.js'
import { ReadAhead } from './read-ahead.js'
import type { FileHandle, FileSystem, OpenOptions, FileReadOptions, ReadStreamOptions } from './file-system.js'
import type { FileInode } from './inode.js'
import { splitPath } from './names.js'
import { asFile, getXattr } from './tree.js'
import { loadTopDir, resolve, resolveEntry, resolveLinked, statOf, type Stat } from './tree-read.js'
import type { TreeStore } from './tree-store.js'
import { diffTrees, type DiffOptions, type TreeChanges } from './tree-diff.js'

/** One published version of a volume. */
export interface VersionInfo {
  readonly seq: number
  readonly timeMs: number
  /** Content key of the version's root record. */
  readonly recordKey: Key
  /** Key of the top directory's inode. */
  readonly top: Key
}

export interface SnapshotInit {
  /** Data blocks fetched ahead when reading a file. @default DEFAULT_READ_AHEAD_BLOCKS (file-data.ts) */
  readAheadBlocks?: number
  /** Inode blocks of a directory's next files fetched ahead once its files are opened in name order. @default DEFAULT_READ_AHEAD_ENTRIES */
  readAheadEntries?: number
}

/**
 * A read-only view of one tree: a published version for readers, or the owner's current
 * tree at the moment of a call. Every write method throws ReadOnlyError.
 */
export class Snapshot implements FileSystem {
  private readonly readAhead: number
  private readonly entriesAhead: EntryReadAhead

  /**
   * `entriesAhead`: the read-ahead across directories' files, shared by the snapshots of one
   * reader or volume (a mount that follows new versions reads on where it was); a snapshot
   * without one keeps its own.
   */
  constructor (private readonly store: TreeStore, readonly top: Key, readonly version?: VersionInfo, init: SnapshotInit = {}, entriesAhead?: EntryReadAhead) {
    this.readAhead = init.readAheadBlocks ?? DEFAULT_READ_AHEAD_BLOCKS
    this.entriesAhead = entriesAhead ?? entryReadAheadFor(undefined, init)
  }

  async stat (path: string, options: AbortOptions = {}): Promise<Stat> {
    const names = splitPath(path)
    if (names.length === 0) {
      const { key, inode } = await resolve(this.store, this.top, [], options)
      return statOf(key, inode)
    }
    // The entry (or the inode table, for a hard link) repeats the inode's attributes: no need to read the inode.
    const { name: _, ...stat } = await resolveEntry(this.store, this.top, names, options)
    return stat
  }

  /** Entries in name order, with their inodes' attributes (a hard link's from the inode table). */
  async * readdir (path: string, options: ListOptions = {}): AsyncGenerator<InodeEntry> {
    const { inode } = await resolve(this.store, this.top, splitPath(path), options)
    if (inode.type !== 'dir') throw new NotADirectoryError(`not a directory: ${path}`)
    let top: Awaited<ReturnType<typeof loadTopDir>> | undefined
    for await (const entry of listEntries(this.store, inode.entries, options)) {
      if (entry.key !== null) {
        yield entry
        continue
      }
      top ??= await loadTopDir(this.store, this.top, options)
      yield await resolveLinked(this.store, top.inode, entry, options)
    }
  }

  /** What changed from `older` (another version of the same volume, read through the same store) to this one. */
  async changesSince (older: Snapshot, options: DiffOptions = {}): Promise<TreeChanges> {
    return diffTrees(this.store, older.top, this.top, options)
  }

  async getxattr (path: string, name: string, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
    return getXattr(this.store, this.top, splitPath(path), name, options)
  }

  async listxattr (path: string, options: AbortOptions = {}): Promise<string[]> {
    const { inode } = await resolve(this.store, this.top, splitPath(path), options)
    return inode.xattrs.map(([n]) => n)
  }

  async readlink (path: string, options: AbortOptions = {}): Promise<string> {
    const { inode } = await resolve(this.store, this.top, splitPath(path), options)
    if (inode.type !== 'symlink') throw new InvalidNameError(`not a symbolic link: ${path}`)
    return inode.target
  }

  async read (file: string | FileHandle, offset: number, length: number, options: AbortOptions = {}): Promise<Uint8Array> {
    if (typeof file !== 'string') return file.read(offset, length, options)
    return readBytes(this.store, await this.file(file, options), offset, length, { ...options, readAhead: this.readAhead })
  }

  async * readStream (path: string, options: ReadStreamOptions = {}): AsyncGenerator<Uint8Array> {
    const inode = await this.file(path, options)
    yield * readRange(this.store, inode, options.offset ?? 0, options.length ?? inode.size, { ...options, readAhead: this.readAhead })
  }

  async open (path: string, options: OpenOptions & AbortOptions = {}): Promise<FileHandle> {
    if (options.write === true || options.create === true || options.truncate === true) throw new ReadOnlyError('this tree is read-only')
    const names = splitPath(path)
    const { key, inode } = await resolve(this.store, this.top, names, options)
    const handle = new SnapshotHandle(this.store, path, key, asFile(inode, names), this.readAhead)
    this.entriesAhead.opened(this.store, this.top, names)
    return handle
  }

  private async file (path: string, options: AbortOptions): Promise<FileInode> {
    const names = splitPath(path)
    return asFile((await resolve(this.store, this.top, names, options)).inode, names)
  }

  async create (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async mkdir (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async symlink (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async unlink (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async rmdir (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async rename (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async mknod (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async link (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async chmod (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async chown (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async setTimes (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async setxattr (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async removexattr (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async truncate (): Promise<void> { throw new ReadOnlyError('this tree is read-only') }
  async write (): Promise<number> { throw new ReadOnlyError('this tree is read-only') }
  async writeStream (): Promise<number> { throw new ReadOnlyError('this tree is read-only') }
}

/** A file of one version: it reads the same bytes whatever the owner writes later. */
class SnapshotHandle implements FileHandle {
  private readonly ahead: ReadAhead
  /** A version never changes: its files keep their names. */
  readonly unlinked = false

  constructor (
    private readonly store: TreeStore,
    readonly path: string,
    private readonly key: Key,
    private readonly inode: FileInode,
    private readonly readAhead: number,
  ) {
    this.ahead = new ReadAhead(readAhead)
    this.ahead.opened(store, inode)
  }

  async stat (): Promise<Stat> {
    return statOf(this.key, this.inode)
  }

  async read (offset: number, length: number, options: FileReadOptions = {}): Promise<Uint8Array> {
    this.ahead.after(this.store, this.inode, offset, length)
    return readBytes(this.store, this.inode, offset, length, { ...options, readAhead: this.readAhead })
  }

  async * readStream (options: ReadStreamOptions = {}): AsyncGenerator<Uint8Array> {
    yield * readRange(this.store, this.inode, options.offset ?? 0, options.length ?? this.inode.size, { ...options, readAhead: this.readAhead })
  }

  async write (): Promise<number> { throw new ReadOnlyError('this file is open read-only') }
  async truncate (): Promise<void> { throw new ReadOnlyError('this file is open read-only') }
  async flush (): Promise<void> {}
  async close (): Promise<void> {}
}
