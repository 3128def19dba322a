import type { AbortOptions, Key } from '../core/index.js'
import type { FileHandle, FileReadOptions, ReadStreamOptions, WriteOptions } from './file-system.js'
import type { FileInode } from './inode.js'
import { joinPath } from './names.js'
import { ReadAhead } from './read-ahead.js'
import type { Stat } from './tree-read.js'

/** What a volume handle asks of the open files that hold it (open-files.ts). */
export interface HandleHost {
  /** Data blocks a handle's reads fetch ahead. */
  readonly readAheadBlocks: number
  /** Bytes a handle's readStream asks for at a time (read-ahead times block size). */
  readonly streamWindowBytes: number
  statHandle: (handle: VolumeHandle, options: AbortOptions) => Promise<Stat>
  readHandle: (handle: VolumeHandle, offset: number, length: number, options: FileReadOptions) => Promise<Uint8Array>
  write: (handle: VolumeHandle, offset: number, data: Uint8Array, options: WriteOptions) => Promise<number>
  truncateHandle: (handle: VolumeHandle, size: number, options: AbortOptions) => Promise<void>
  flushHandle: (handle: VolumeHandle, options: AbortOptions) => Promise<void>
  closeHandle: (handle: VolumeHandle) => Promise<void>
}

/**
 * An open file of the owner's volume. It names the file by path, which the volume updates
 * when the file (or a directory above it) is renamed. Once the file is unlinked or replaced
 * the handle keeps its own copy (`detached`), as a POSIX open file outlives its name; what is
 * written to it then is never published.
 */
export class VolumeHandle implements FileHandle {
  /** The file this handle created, not yet in the tree (open-files.ts: staged). */
  staged: FileInode | undefined
  detached: FileInode | undefined
  closed = false
  /** Sequential read-ahead state of this open file. */
  readonly readAhead: ReadAhead
  /** The file as last resolved, and the tree and names it was resolved in (reads reuse it while both stand). */
  resolved: { readonly top: Key, readonly names: readonly string[], readonly file: FileInode, readonly key: Key } | undefined

  constructor (private readonly host: HandleHost, public names: string[], readonly writable: boolean) {
    this.readAhead = new ReadAhead(host.readAheadBlocks)
  }

  get path (): string { return joinPath(this.names) }

  get unlinked (): boolean { return this.detached !== undefined }

  async stat (options: AbortOptions = {}): Promise<Stat> {
    return this.host.statHandle(this, options)
  }

  async read (offset: number, length: number, options: FileReadOptions = {}): Promise<Uint8Array> {
    return this.host.readHandle(this, offset, length, options)
  }

  async * readStream (options: ReadStreamOptions = {}): AsyncGenerator<Uint8Array> {
    const window = this.host.streamWindowBytes
    let offset = options.offset ?? 0
    const end = options.length === undefined ? Infinity : offset + options.length
    while (offset < end) {
      const chunk = await this.read(offset, Math.min(window, end - offset), options)
      if (chunk.length === 0) return
      yield chunk
      offset += chunk.length
    }
  }

  async write (offset: number, data: Uint8Array, options: WriteOptions = {}): Promise<number> {
    return this.host.write(this, offset, data, options)
  }

  async truncate (size: number, options: AbortOptions = {}): Promise<void> {
    await this.host.truncateHandle(this, size, options)
  }

  async flush (options: AbortOptions = {}): Promise<void> {
    await this.host.flushHandle(this, options)
  }

  async close (): Promise<void> {
    await this.host.closeHandle(this)
  }
}
