import { BlockTooLargeError, hashKey, throwIfAborted, toHex, type AbortOptions, type Key } from '../core/index.js'
import type { BlockReader } from './block-reader.js'
import { MAX_BLOCK_BYTES } from './format.js'
import type { BorrowedData, NodeCodec, PutDataOptions, TreeStore } from './tree-store.js'
import type { WriteBuffer } from './write-buffer.js'

/**
 * The owner's TreeStore: new blocks go to the write-back buffer (and are read back from it,
 * so the owner sees its writes before they are published); everything else is read through
 * the BlockService. A data block of at least `eagerBytes` (a full block) starts uploading at
 * once, waiting for a free upload slot, so that a long write streams; shorter ones, likely
 * to be rewritten by the next write, wait for the flush.
 */
export class VolumeStore implements TreeStore {
  constructor (
    private readonly reader: BlockReader,
    private readonly buffer: WriteBuffer,
    private readonly eagerBytes: number,
    /** The volume's shutdown signal: an early upload outlives the write that started it. */
    private readonly uploadSignal: () => AbortSignal,
  ) {}

  async load<T> (key: Key, codec: NodeCodec<T>, options: AbortOptions = {}): Promise<T> {
    // Each tree step loads a block or two: the key becomes hex once, for the buffer and the cache.
    const hex = toHex(key)
    const bytes = this.buffer.get(key, hex)
    if (bytes === undefined) return this.reader.load(key, codec, options, hex)
    return this.reader.cached(key, codec, hex) ?? this.reader.decode(key, codec, bytes, hex)
  }

  async save<T> (value: T, codec: NodeCodec<T>): Promise<Key> {
    const bytes = codec.encode(value)
    const [key, hex] = this.add(bytes)
    this.reader.remember(key, codec, value, bytes.length, hex)
    return key
  }

  async getData (key: Key, options: AbortOptions = {}): Promise<Uint8Array> {
    return this.buffer.get(key) ?? this.reader.getData(key, options)
  }

  async borrowData (key: Key, options: AbortOptions = {}): Promise<BorrowedData> {
    const buffered = this.buffer.get(key)
    return buffered === undefined ? this.reader.borrowData(key, options) : { bytes: buffered, release: () => {} }
  }

  prefetchData (key: Key): void {
    if (!this.buffer.has(key)) this.reader.prefetchData(key)
  }

  readPast (key: Key): void {
    this.reader.readPast(key)
  }

  async putData (bytes: Uint8Array, options: PutDataOptions = {}): Promise<Key> {
    // A copy unless handed over: the caller (a stream, a test) may reuse its buffer once the
    // write returns. Not bytes.slice(): on a Node Buffer that is a view, not a copy.
    const [key] = this.add(options.transfer === true ? bytes : new Uint8Array(bytes))
    options.onKey?.(key)
    if (bytes.length >= this.eagerBytes) {
      throwIfAborted(options.signal)
      await this.buffer.startUpload(key, { signal: this.uploadSignal() })
    }
    return key
  }

  private add (bytes: Uint8Array): [Key, string] {
    if (bytes.length > MAX_BLOCK_BYTES) throw new BlockTooLargeError(`a block is at most ${MAX_BLOCK_BYTES} bytes, got ${bytes.length}`)
    const key = hashKey(bytes)
    const hex = toHex(key)
    this.buffer.add(key, bytes, hex)
    return [key, hex]
  }
}
