import type { AbortOptions, Key } from '../core/index.js'

/** How one kind of metadata block turns into bytes and back (format.ts has the rules). */
export interface NodeCodec<T> {
  readonly name: string
  encode: (value: T) => Uint8Array
  /** Throws BlockInvalidError on anything but the canonical encoding of a valid value. */
  decode: (bytes: Uint8Array, what: string) => T
}

/** A data block lent to a reader: `release` once nothing of `bytes` is used any more. */
export interface BorrowedData {
  readonly bytes: Uint8Array
  release: () => void
}

/**
 * What the pure tree functions read and write: immutable blocks by content key. A volume's
 * store writes into its write-back buffer; a reader's store refuses writes (ReadOnlyError).
 */
export interface TreeStore {
  /** A metadata block, decoded (and cached: blocks never change). Throws BlockNotFoundError. */
  load: <T>(key: Key, codec: NodeCodec<T>, options?: AbortOptions) => Promise<T>
  /** Stores a metadata block and returns its key. */
  save: <T>(value: T, codec: NodeCodec<T>, options?: AbortOptions) => Promise<Key>
  /** A file data block's bytes, the caller's to keep. Throws BlockNotFoundError. */
  getData: (key: Key, options?: AbortOptions) => Promise<Uint8Array>
  /**
   * A file data block's bytes, lent until `release`, after which their memory may be reused
   * (block-reader.ts): for a caller that copies what it reads and keeps no view. Absent: use
   * getData.
   */
  borrowData?: (key: Key, options?: AbortOptions) => Promise<BorrowedData>
  /** Fetches a data block into the cache without handing it out (read-ahead). Absent: getData. */
  prefetchData?: (key: Key) => void
  /**
   * A data block a sequential reader has read past: the cache need not keep it (the kernel's
   * page cache has the bytes; another reader would fetch the block again).
   */
  readPast?: (key: Key) => void
  /**
   * Stores a file data block and returns its key; may wait while the write buffer is full.
   * `onKey` runs as soon as the block is buffered, before any wait: a writer that links the
   * block into the tree later pins it there, so a publish meanwhile cannot prune it.
   */
  putData: (bytes: Uint8Array, options?: PutDataOptions) => Promise<Key>
}

export interface PutDataOptions extends AbortOptions {
  onKey?: (key: Key) => void
  /** The caller never writes to `bytes` again: the store may keep them instead of a copy. */
  transfer?: boolean
}
