import type { AbortOptions, Key } from '../core/index.js'
import { alignedPieces } from './block-stream.js'
import * as fileData from './file-data.js'
import * as tree from './tree.js'
import { resolve } from './tree-read.js'
import type { TreeStore } from './tree-store.js'

/** What a streaming write needs of its volume. */
export interface StreamHost {
  store: () => TreeStore
  /** Runs one tree change under the volume's lock. */
  mutate: (options: AbortOptions, change: (ctx: tree.TreeContext, top: Key) => Promise<Key>) => Promise<void>
  /** Keeps a buffered block from being dropped as unreachable until it is linked. */
  pin: (key: Key) => void
  unpin: (key: Key) => void
}

export interface StreamWriteOptions extends AbortOptions {
  /** @default 0 */
  offset?: number
  /** Cut the file at `offset` first. @default false */
  truncate?: boolean
  /** Block size of the file if it is created. */
  blockSize: number
  /** Whole blocks uploaded between two tree updates. */
  commitBlocks: number
}

/**
 * Writes a stream of chunks into a file, creating it if missing. Whole blocks go straight to
 * the store (which starts uploading them, a bounded number at a time) and are linked into the
 * tree in batches; pieces that are not whole blocks (the head before the first block boundary,
 * the tail) are merged with the file's bytes by an ordinary write. The stream never waits on
 * the volume's lock while it reads the source, and holds one block of it at a time.
 */
export async function writeStream (
  host: StreamHost,
  names: readonly string[],
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  options: StreamWriteOptions,
): Promise<number> {
  const offset = options.offset ?? 0
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('a write offset is a non-negative integer')
  const store = host.store()
  let blockSize = options.blockSize
  await host.mutate(options, async (ctx, top) => {
    let next = await tree.createFile(ctx, top, names, { blockSize: options.blockSize, exclusive: false })
    if (options.truncate === true) next = await tree.truncate(ctx, next, names, offset)
    blockSize = tree.asFile((await resolve(store, next, names, options)).inode, names).blockSize
    return next
  })
  let updates = new Map<number, Key | null>()
  let end = offset
  const commit = async (): Promise<void> => {
    const batch = updates
    const size = end
    updates = new Map()
    try {
      await host.mutate(options, async (ctx, top) => tree.updateFile(ctx, top, names, async (file) =>
        tree.withContent(file, await fileData.setBlocks(store, file, Math.max(size, file.size), batch, options), ctx.nowNs)))
    } finally {
      for (const key of batch.values()) if (key !== null) host.unpin(key)
    }
  }
  let written = 0
  try {
    for await (const piece of alignedPieces(source, offset, blockSize)) {
      if (piece.bytes.length === blockSize) {
        const trimmed = fileData.trimZeros(piece.bytes)
        // Pinned the moment it is buffered: putData may wait for an upload slot, and a publish
        // in that wait would otherwise prune a block nothing links to yet.
        const key = trimmed === undefined ? null : await store.putData(trimmed, { ...options, onKey: (k) => { host.pin(k) } })
        updates.set(piece.offset / blockSize, key)
        end = piece.offset + blockSize
        if (updates.size >= options.commitBlocks) await commit()
      } else {
        if (updates.size > 0) await commit()
        const at = piece.offset
        await host.mutate(options, async (ctx, top) => tree.write(ctx, top, names, at, piece.bytes))
        end = piece.offset + piece.bytes.length
      }
      written += piece.bytes.length
    }
    if (updates.size > 0) await commit()
  } finally {
    for (const key of updates.values()) if (key !== null) host.unpin(key) // never linked: the stream failed
  }
  return written
}
