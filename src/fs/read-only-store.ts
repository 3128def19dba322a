import { ReadOnlyError, type AbortOptions, type Key } from '../core/index.js'
import type { BlockReader } from './block-reader.js'
import type { BorrowedData, NodeCodec, TreeStore } from './tree-store.js'

/** A TreeStore over published blocks only: what a reader without the secret key has. */
export class ReadOnlyStore implements TreeStore {
  constructor (private readonly reader: BlockReader) {}

  async load<T> (key: Key, codec: NodeCodec<T>, options: AbortOptions = {}): Promise<T> {
    return this.reader.load(key, codec, options)
  }

  async getData (key: Key, options: AbortOptions = {}): Promise<Uint8Array> {
    return this.reader.getData(key, options)
  }

  async borrowData (key: Key, options: AbortOptions = {}): Promise<BorrowedData> {
    return this.reader.borrowData(key, options)
  }

  prefetchData (key: Key): void {
    this.reader.prefetchData(key)
  }

  readPast (key: Key): void {
    this.reader.readPast(key)
  }

  async save (): Promise<Key> {
    throw new ReadOnlyError('this tree is read-only')
  }

  async putData (): Promise<Key> {
    throw new ReadOnlyError('this tree is read-only')
  }
}
