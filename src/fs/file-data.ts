/**
 * A file's bytes as fixed-size data blocks under a Merkle tree of indirect blocks.
 *
 * Canonical form, so equal contents give equal keys: data block i holds the file's bytes
 * [i*bs, min((i+1)*bs, size)) with trailing zero bytes removed; a block that is all zeros is
 * not stored at all (a null pointer), which is also how holes from truncate-extend and
 * writes past the end cost nothing. Indirect blocks drop trailing null pointers and an
 * all-null indirect block is itself a null pointer. The depth is a function of the size.
 *
 * Writing one byte rewrites one data block and one indirect block per level: O(log n).
 *
 * A file of at most MAX_INLINE_BYTES that fits one block has no data block at all: its bytes,
 * trimmed the same way, are `inline` in its inode (format 3). Format 2 stored them in a data
 * block; such a file is read as it is and moves its bytes inline at its next change.
 */
import { throwIfAborted, type AbortOptions, type Key } from '../core/index.js'
import { FANOUT, blockCount, depthFor, indirectCodec, isInline, span } from './indirect.js'
import type { ReadLoans } from './loans.js'
import type { BorrowedData, PutDataOptions, TreeStore } from './tree-store.js'

/** The part of a file inode that describes its bytes. */
export interface FileContent {
  readonly size: number
  readonly blockSize: number
  readonly depth: number
  /** Top of the block tree: a data block when depth is 0; null when every byte is zero or the bytes are inline. */
  readonly data: Key | null
  /** The bytes of a file isInline() keeps in its inode, without trailing zeros; null for other files and when every byte is zero. */
  readonly inline: Uint8Array | null
}

export function emptyContent (blockSize: number): FileContent {
  return { size: 0, blockSize, depth: 0, data: null, inline: null }
}

/** A file that keeps its bytes in its inode: `bytes` (at most `size` of them; undefined for none) trimmed. */
function inlined (size: number, blockSize: number, bytes: Uint8Array | undefined): FileContent {
  return { size, blockSize, depth: 0, data: null, inline: (bytes === undefined ? undefined : trimZeros(bytes)) ?? null }
}

/**
 * A file of an inline size that still has a data block (written in format 2, or linked by a
 * streaming write of tiny blocks), with its bytes moved into the inode; others as they are.
 */
async function settle (store: TreeStore, content: FileContent, options: AbortOptions): Promise<FileContent> {
  if (content.data === null || !isInline(content.size, content.blockSize)) return content
  const bytes = await store.getData(content.data, options)
  return inlined(content.size, content.blockSize, bytes.subarray(0, content.size))
}

/** The bytes without trailing zeros; undefined when nothing is left. */
export function trimZeros (bytes: Uint8Array): Uint8Array | undefined {
  let end = bytes.length
  while (end > 0 && bytes[end - 1] === 0) end--
  return end === 0 ? undefined : bytes.subarray(0, end)
}

async function storeBlock (store: TreeStore, bytes: Uint8Array, options: PutDataOptions): Promise<Key | null> {
  const trimmed = trimZeros(bytes)
  return trimmed === undefined ? null : store.putData(trimmed, options)
}

/**
 * The data-block pointers for blocks [from, from + count) in order, null for holes. Reads one
 * indirect block per FANOUT data blocks.
 */
export async function * blockPointers (
  store: TreeStore,
  content: FileContent,
  from: number,
  count: number,
  options: AbortOptions = {},
): AsyncGenerator<Key | null> {
  const end = Math.min(from + count, blockCount(content.size, content.blockSize))
  if (from >= end) return
  yield * pointersBelow(store, content.data, content.depth, from, end - from, options)
}

/** The pointer of data block `index` (null for a hole or past the end): one load per level. */
export async function blockPointer (store: TreeStore, content: FileContent, index: number, options: AbortOptions = {}): Promise<Key | null> {
  if (index >= blockCount(content.size, content.blockSize)) return null
  let ptr = content.data
  let rest = index
  for (let level = content.depth; level > 0 && ptr !== null; level--) {
    const node = await store.load(ptr, indirectCodec, options)
    const c = Math.floor(rest / span(level))
    ptr = node.ptrs[c] ?? null
    rest -= c * span(level)
  }
  return ptr
}

async function * pointersBelow (
  store: TreeStore,
  ptr: Key | null,
  level: number,
  from: number,
  count: number,
  options: AbortOptions,
): AsyncGenerator<Key | null> {
  if (level === 0) {
    yield ptr
    return
  }
  if (ptr === null) {
    for (let i = 0; i < count; i++) yield null
    return
  }
  const node = await store.load(ptr, indirectCodec, options)
  const each = span(level)
  for (let c = Math.floor(from / each); count > 0; c++) {
    const childFrom = from - c * each
    const n = Math.min(count, each - childFrom)
    yield * pointersBelow(store, node.ptrs[c] ?? null, level - 1, childFrom, n, options)
    from += n
    count -= n
  }
}

/** Data blocks fetched in parallel ahead of a read (CFS's prefetch window). */
export const DEFAULT_READ_AHEAD_BLOCKS = 8

export interface ReadOptions extends AbortOptions {
  /** Data blocks fetched in parallel ahead of the one being returned. @default DEFAULT_READ_AHEAD_BLOCKS */
  readAhead?: number
  /**
   * readBytes may answer with a view of the block's bytes when the read lies within one block
   * that holds them all: nothing is allocated or copied. The caller must not write to it.
   */
  shared?: boolean
  /** With `shared`: the view may be of a borrowed block, whose release is added here (FileReadOptions.loans). */
  loans?: ReadLoans
}

/**
 * One data block's part of a read: bytes [start, stop) of `stored` (undefined: a hole), lent
 * until `release`, which the reader calls once it has copied them.
 */
interface BlockPart { stored: Uint8Array | undefined, start: number, stop: number, release: () => void }

const NOTHING_LENT = (): void => {}

/** A data block's bytes, borrowed where the store lends blocks (block-reader.ts), else its own for good. */
async function lend (store: TreeStore, ptr: Key, options: AbortOptions): Promise<BorrowedData> {
  if (store.borrowData !== undefined) return store.borrowData(ptr, options)
  return { bytes: await store.getData(ptr, options), release: NOTHING_LENT }
}

/**
 * The data blocks under [offset, offset + length) clipped to the file, in order, with up to
 * `readAhead` blocks in flight: memory stays near readAhead * blockSize. Parts are views into
 * blocks the caches may hold: the callers below copy them out.
 */
async function * blockParts (store: TreeStore, content: FileContent, offset: number, length: number, options: ReadOptions): AsyncGenerator<BlockPart> {
  const end = Math.min(content.size, offset + length)
  if (offset >= end) return
  const bs = content.blockSize
  const first = Math.floor(offset / bs)
  const last = Math.floor((end - 1) / bs)
  const readAhead = Math.max(1, options.readAhead ?? DEFAULT_READ_AHEAD_BLOCKS)
  // Blocks fetched ahead are borrowed until their part is copied: one a failure or an early
  // stop leaves unreleased is simply never reused.
  const queue: Array<{ index: number, lent: Promise<BorrowedData | undefined> }> = []
  const part = (index: number, lent: BorrowedData | undefined): BlockPart => ({
    stored: lent?.bytes,
    start: Math.max(offset, index * bs) - index * bs,
    stop: Math.min(end, (index + 1) * bs) - index * bs,
    release: lent?.release ?? NOTHING_LENT,
  })
  if (content.inline !== null) {
    yield part(0, { bytes: content.inline, release: NOTHING_LENT }) // an inline file is one block
    return
  }
  let index = first
  for await (const ptr of blockPointers(store, content, first, last - first + 1, options)) {
    const lent = ptr === null ? Promise.resolve(undefined) : lend(store, ptr, options)
    lent.catch(() => {}) // awaited in order below; this only keeps an early failure from going unhandled
    queue.push({ index: index++, lent })
    if (queue.length >= readAhead) {
      const next = queue.shift() as { index: number, lent: Promise<BorrowedData | undefined> }
      yield part(next.index, await next.lent)
    }
  }
  for (const next of queue) yield part(next.index, await next.lent)
}

/** Copies a part into `out` (a new array: zeros already) at `at`; bytes past the stored ones (a short block, a hole) stay zero. */
function copyPart ({ stored, start, stop }: BlockPart, out: Uint8Array, at: number): void {
  const copied = stored !== undefined && stored.length > start ? Math.min(stop, stored.length) - start : 0
  if (copied > 0) out.set((stored as Uint8Array).subarray(start, start + copied), at)
}

/**
 * Bytes [offset, offset + length) clipped to the file, as one chunk per data block (each a
 * copy the caller may keep or write to), with up to `readAhead` blocks in flight.
 */
export async function * readRange (
  store: TreeStore,
  content: FileContent,
  offset: number,
  length: number,
  options: ReadOptions = {},
): AsyncGenerator<Uint8Array> {
  for await (const p of blockParts(store, content, offset, length, options)) {
    const chunk = new Uint8Array(p.stop - p.start)
    copyPart(p, chunk, 0)
    p.release()
    yield chunk
  }
}

/**
 * Reads a whole range into one array (for FUSE's reads of up to 1 MiB), copying each block
 * once; with `shared`, a read within one block that holds every byte asked for is a view of
 * it, not a copy.
 */
export async function readBytes (store: TreeStore, content: FileContent, offset: number, length: number, options: ReadOptions = {}): Promise<Uint8Array> {
  const end = Math.min(content.size, offset + length)
  const n = Math.max(0, end - offset)
  const bs = content.blockSize
  const first = Math.floor(offset / bs)
  if (n > 0 && Math.floor((end - 1) / bs) === first) {
    // Within one block (a sequential FUSE read asks for whole 1 MiB blocks): one pointer walk,
    // no generators.
    const ptr = content.inline === null ? await blockPointer(store, content, first, options) : null
    // Borrowed where the store lends blocks: released once copied, or by the caller's loans
    // once it has copied the view it was given.
    const lent = ptr === null ? undefined : await lend(store, ptr, options)
    const stored = content.inline ?? lent?.bytes
    const part = { stored, start: offset - first * bs, stop: end - first * bs, release: lent?.release ?? NOTHING_LENT }
    // Zeros trimmed off the block's end, or a hole, are not stored: those reads are copies.
    if (options.shared === true && part.stored !== undefined && part.stored.length >= part.stop) {
      const view = part.stored.subarray(part.start, part.stop)
      // The view outlives this call: released when the caller's loans end, or, without loans,
      // never (the block is then left to the collector, and the view stays valid).
      options.loans?.add(part.release)
      return view
    }
    const out = new Uint8Array(n)
    copyPart(part, out, 0)
    part.release()
    return out
  }
  const out = new Uint8Array(n)
  let at = 0
  for await (const p of blockParts(store, content, offset, length, options)) {
    copyPart(p, out, at)
    p.release()
    at += p.stop - p.start
  }
  return out
}

/** Data block `index` as stored (the inline bytes for block 0 of an inline file); undefined for a hole or past the end. */
export async function storedBlock (store: TreeStore, content: FileContent, index: number, options: AbortOptions = {}): Promise<Uint8Array | undefined> {
  if (content.inline !== null) return index === 0 ? content.inline : undefined
  for await (const ptr of blockPointers(store, content, index, 1, options)) return ptr === null ? undefined : store.getData(ptr, options)
  return undefined
}

export interface WriteRangeOptions extends AbortOptions {
  /** The caller hands `bytes` over (never writes to them again): whole blocks of them are stored as they are, not copied. */
  transfer?: boolean
}

/** Writes `bytes` at `offset`, growing the file as needed (a gap before it becomes a hole). */
export async function writeRange (
  store: TreeStore,
  content: FileContent,
  offset: number,
  bytes: Uint8Array,
  options: WriteRangeOptions = {},
): Promise<FileContent> {
  if (!Number.isSafeInteger(offset) || offset < 0) throw new RangeError('a write offset is a non-negative integer')
  if (bytes.length === 0) return content
  const size = Math.max(content.size, offset + bytes.length)
  if (!Number.isSafeInteger(size)) throw new RangeError('file too large')
  const bs = content.blockSize
  if (isInline(size, bs)) {
    // Then the file was inline (or a format 2 file of one block) too: its bytes merge in memory.
    const block = new Uint8Array(size)
    const old = await storedBlock(store, content, 0, options)
    if (old !== undefined) block.set(old.subarray(0, size))
    block.set(bytes, offset)
    return inlined(size, bs, block)
  }
  const updates = new Map<number, Key | null>()
  const signal = options.signal === undefined ? {} : { signal: options.signal }
  for (let index = Math.floor(offset / bs); index * bs < offset + bytes.length; index++) {
    throwIfAborted(options.signal)
    const start = index * bs
    const extent = Math.min(bs, size - start)
    const from = Math.max(offset, start)
    const to = Math.min(offset + bytes.length, start + extent)
    let block: Uint8Array
    // A block merged here is this function's own; a whole one is the caller's bytes.
    let own = true
    if (from === start && to === start + extent) {
      block = bytes.subarray(from - offset, to - offset)
      own = options.transfer === true
    } else {
      block = new Uint8Array(extent)
      const old = index < blockCount(content.size, bs) ? await storedBlock(store, content, index, signal) : undefined
      if (old !== undefined) block.set(old.subarray(0, extent), 0)
      block.set(bytes.subarray(from - offset, to - offset), from - start)
    }
    updates.set(index, await storeBlock(store, block, { ...signal, transfer: own }))
  }
  return setBlocks(store, content, size, updates, options)
}

/**
 * The file with some data-block pointers replaced and the size set to `size` (>= the current
 * size; the caller made the blocks canonical). Used by writeRange and by streaming writes.
 */
export async function setBlocks (
  store: TreeStore,
  content: FileContent,
  size: number,
  updates: ReadonlyMap<number, Key | null>,
  options: AbortOptions = {},
): Promise<FileContent> {
  if (size < content.size) throw new RangeError('setBlocks does not shrink a file: truncate does')
  // Inline bytes that block 0's update replaces need not be stored on the way.
  const base = content.inline !== null && updates.has(0) ? { ...content, inline: null } : content
  const grown = await growTo(store, base, size, options)
  if (updates.size === 0) return settle(store, grown, options)
  const sorted = [...updates].sort((a, b) => a[0] - b[0])
  const data = await setBelow(store, grown.data, grown.depth, sorted, options)
  return settle(store, { ...grown, data }, options)
}

/** The file extended with zeros to `size`; inline bytes the file outgrows become data block 0. */
async function growTo (store: TreeStore, content: FileContent, size: number, options: AbortOptions): Promise<FileContent> {
  const bs = content.blockSize
  if (isInline(size, bs)) return { ...content, size } // trailing zeros are trimmed: the bytes stay
  const depth = depthFor(size, bs)
  let data = content.inline === null ? content.data : await store.putData(content.inline, options)
  for (let level = content.depth + 1; level <= depth; level++) {
    if (data !== null) data = await store.save({ level, ptrs: [data] }, indirectCodec, options)
  }
  return { size, blockSize: bs, depth, data, inline: null }
}

async function setBelow (
  store: TreeStore,
  ptr: Key | null,
  level: number,
  updates: ReadonlyArray<readonly [number, Key | null]>,
  options: AbortOptions,
): Promise<Key | null> {
  if (level === 0) return (updates[0] as readonly [number, Key | null])[1]
  const ptrs = ptr === null ? [] : [...(await store.load(ptr, indirectCodec, options)).ptrs]
  const each = span(level)
  for (let i = 0; i < updates.length;) {
    const child = Math.floor((updates[i] as readonly [number, Key | null])[0] / each)
    let j = i
    while (j < updates.length && Math.floor((updates[j] as readonly [number, Key | null])[0] / each) === child) j++
    const below = updates.slice(i, j).map(([index, key]) => [index - child * each, key] as const)
    while (ptrs.length <= child) ptrs.push(null)
    ptrs[child] = await setBelow(store, ptrs[child] ?? null, level - 1, below, options)
    i = j
  }
  return saveIndirect(store, level, ptrs, options)
}

async function saveIndirect (store: TreeStore, level: number, ptrs: Array<Key | null>, options: AbortOptions): Promise<Key | null> {
  while (ptrs.length > 0 && ptrs.at(-1) === null) ptrs.pop()
  if (ptrs.length > FANOUT) throw new RangeError('indirect block overflow')
  return ptrs.length === 0 ? null : store.save({ level, ptrs }, indirectCodec, options)
}

/** Sets the size: cuts blocks past the end (re-trimming the new last block) or adds a hole. */
export async function truncate (store: TreeStore, content: FileContent, size: number, options: AbortOptions = {}): Promise<FileContent> {
  if (!Number.isSafeInteger(size) || size < 0) throw new RangeError('a file size is a non-negative integer')
  if (size >= content.size) return size === content.size ? content : settle(store, await growTo(store, content, size, options), options)
  const bs = content.blockSize
  if (isInline(size, bs)) return inlined(size, bs, (await storedBlock(store, content, 0, options))?.subarray(0, size))
  const keep = blockCount(size, bs)
  let data = await cutBelow(store, content.data, content.depth, keep, options)
  let depth = content.depth
  const newDepth = depthFor(size, bs)
  for (; depth > newDepth; depth--) data = data === null ? null : ((await store.load(data, indirectCodec, options)).ptrs[0] ?? null)
  let cut: FileContent = { size, blockSize: bs, depth, data, inline: null }
  // The new last block may hold bytes past the new end: they must go (and so must the zeros
  // that then end it), or the block would differ from that of a file written to this size.
  const extent = size - (keep - 1) * bs
  if (keep > 0 && extent < bs) {
    const old = await storedBlock(store, cut, keep - 1, options)
    if (old !== undefined && old.length > extent) {
      const key = await storeBlock(store, old.subarray(0, extent), options)
      cut = { ...cut, data: await setBelow(store, cut.data, cut.depth, [[keep - 1, key]], options) }
    }
  }
  return cut
}

async function cutBelow (store: TreeStore, ptr: Key | null, level: number, keep: number, options: AbortOptions): Promise<Key | null> {
  if (keep === 0 || ptr === null) return null
  if (level === 0) return ptr
  const each = span(level)
  const lastChild = Math.floor((keep - 1) / each)
  const node = await store.load(ptr, indirectCodec, options)
  if (node.ptrs.length <= lastChild + 1 && keep % each === 0) return ptr // nothing past the end
  const ptrs = node.ptrs.slice(0, lastChild + 1)
  if (ptrs.length === lastChild + 1) ptrs[lastChild] = await cutBelow(store, ptrs[lastChild] ?? null, level - 1, keep - lastChild * each, options)
  return saveIndirect(store, level, ptrs, options)
}
