import { mkdir, open, readFile, readdir, rename, rm, unlink, writeFile, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { Level, type BatchOperation } from 'level'
import { compareKeys, createLogger, toHex, type ComponentLogger, type Key, type Logger } from '../../core/index.js'
import { BlockKind, MAX_BLOCK_BYTES } from '../block.js'
import type { BlockMeta, BlockStore, BlockStoreStats, KeyInterval, StoredBlock } from './block-store.js'
import { GroupCommit } from './group-commit.js'
import { KeyedLock } from './keyed-lock.js'
import {
  copyKey, decodeMeta, encodeMeta, expiryIndexBound, expiryIndexKey, keyOfExpiryIndex, mapStorageError, ownedBytes,
} from './level-encoding.js'

export interface LevelBlockStoreComponents {
  logger?: ComponentLogger
}

export interface LevelBlockStoreInit {
  /** Directory of the LevelDB, created if missing. */
  location: string
  /**
   * LevelDB's memtable size. The default 4 MiB gave 46–60 MB/s for 8 KiB blocks here; 64 MiB
   * gave 180–300 MB/s (fewer, larger level-0 flushes). Up to two buffers live in memory.
   * @default DEFAULT_STORE_WRITE_BUFFER_BYTES
   */
  writeBufferBytes?: number
  /** LevelDB's cache of uncompressed table blocks. @default 8 MiB (LevelDB's own default) */
  cacheBytes?: number
  /**
   * Blocks of at least this many bytes are kept in files beside the LevelDB, which holds
   * their metadata (key-value separation, as in WiscKey). Part of the on-disk format: a store
   * must be reopened with the value it was written with. @default DEFAULT_EXTERNAL_VALUE_BYTES
   */
  externalValueBytes?: number
}

/** Blocks of at least this many bytes are kept in files beside the LevelDB. */
export const DEFAULT_EXTERNAL_VALUE_BYTES = 32 * 1024
/** The replica store's LevelDB memtable size. */
export const DEFAULT_STORE_WRITE_BUFFER_BYTES = 64 * 1024 * 1024
/** Table files of 32 MiB instead of 2 MiB: with 1 MiB blocks, 2 MiB files hold two blocks each, so a large store outgrows the open-file limit. */
const MAX_FILE_BYTES = 32 * 1024 * 1024
/** Index blocks of 16 KiB instead of 4 KiB: values are 8 KiB–1 MiB, so 4 KiB blocks only add index entries. */
const TABLE_BLOCK_BYTES = 16 * 1024
/** Concurrent writes share a batch up to this size (group-commit.ts). */
const MAX_BATCH_BYTES = 4 * 1024 * 1024

type Database = Level<Uint8Array, Uint8Array>

/** The three key spaces, written together in one batch so they never disagree. */
function openSublevels (db: Database) {
  const bytes = { keyEncoding: 'view', valueEncoding: 'view' } as const
  return {
    /** key → block bytes */
    blocks: db.sublevel<Uint8Array, Uint8Array>('blocks', bytes),
    /** key → msgpack metadata (level-encoding.ts); what keys(), has() and open() read */
    meta: db.sublevel<Uint8Array, Uint8Array>('meta', bytes),
    /** encodeTime(expiresAt) ‖ key → empty, so expired() is one range scan */
    expiry: db.sublevel<Uint8Array, Uint8Array>('expiry', bytes),
  }
}

type Sublevels = ReturnType<typeof openSublevels>
type Operation = BatchOperation<Database, Uint8Array, Uint8Array>

const EMPTY = new Uint8Array(0)

/**
 * Replica storage in LevelDB (classic-level): what a node runs. Writes are not fsynced: a
 * machine crash can lose the last writes, which replica maintenance restores from the other
 * holders. Totals live in memory, rebuilt from the metadata on open.
 *
 * Large blocks live in files under values/ (one per block, named by key) and only their
 * metadata in LevelDB: a 1 MiB value written through LevelDB is copied into its log, its
 * memtable and then again by every compaction, which cost more CPU than verifying the block.
 * A file is written before its metadata, and unlinked after its metadata is deleted, so
 * metadata never points at a missing file; a crash in between leaves at most an orphan file
 * (or a partly written one, which no metadata points at either), swept on open. A new file
 * is created in place; one that replaces a file still in use goes through a temp name and a
 * rename, so a reader never sees it half written.
 *
 * Metadata is read synchronously (getSync): it is a few dozen bytes that LevelDB serves from
 * its memtable or block cache, and a round trip through the thread pool for it cost more
 * than the read itself on the put path, which reads it for every block.
 */
export class LevelBlockStore implements BlockStore {
  private readonly log: Logger
  private readonly location: string
  private readonly valuesDir: string
  private readonly externalValueBytes: number
  private readonly db: Database
  private readonly sub: Sublevels
  private readonly lock = new KeyedLock()
  private readonly writer: GroupCommit<Operation>
  /** values/ subdirectories known to exist: one mkdir per directory, not per block. */
  private readonly madeDirs = new Set<string>()
  private blocks = 0
  private bytes = 0
  private owners = new Map<string, number>()

  constructor (components: LevelBlockStoreComponents, init: LevelBlockStoreInit) {
    this.log = (components.logger ?? createLogger()).forComponent('dhash:store')
    this.location = init.location
    this.valuesDir = join(init.location, 'values')
    this.externalValueBytes = init.externalValueBytes ?? DEFAULT_EXTERNAL_VALUE_BYTES
    this.db = new Level<Uint8Array, Uint8Array>(init.location, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      writeBufferSize: init.writeBufferBytes ?? DEFAULT_STORE_WRITE_BUFFER_BYTES,
      cacheSize: init.cacheBytes,
      maxFileSize: MAX_FILE_BYTES,
      blockSize: TABLE_BLOCK_BYTES,
    })
    this.sub = openSublevels(this.db)
    this.writer = new GroupCommit(async (ops) => { await this.commit(ops) }, MAX_BATCH_BYTES)
  }

  async open (): Promise<void> {
    const started = performance.now()
    try {
      await this.db.open()
      // A reopened database does not reopen its sublevels by itself.
      await Promise.all(Object.values(this.sub).map(async (sub) => { await sub.open() }))
    } catch (err) {
      throw mapStorageError(err, this.location)
    }
    await this.rebuildTotals()
    await this.sweepValueFiles()
    this.log('opened %s: %d blocks, %d bytes in %d ms', this.location, this.blocks, this.bytes, Math.round(performance.now() - started))
  }

  async close (): Promise<void> {
    await this.db.close()
  }

  async get (key: Key): Promise<StoredBlock | undefined> {
    // One getMany reads both records from one snapshot, so a concurrent replace cannot pair
    // old metadata with new bytes. Not getSync, as the put path reads metadata: a block read
    // cold would stop the event loop for a disk read.
    const [metaBytes, bytes] = await this.db.getMany([this.sub.meta.prefixKey(key, 'view'), this.sub.blocks.prefixKey(key, 'view')])
    if (metaBytes === undefined) return undefined
    const meta = decodeMeta(metaBytes)
    if (!this.isExternal(meta.size)) return bytes === undefined ? undefined : { ...meta, bytes: ownedBytes(bytes) }
    // A content block's key fixes its bytes and its size: its file is read with one open and
    // one read of that size. A root (replaced in place, perhaps by a larger one) and a size no
    // block can have (a damaged record) are read whole.
    const fixedSize = meta.kind === BlockKind.CONTENT && Number.isSafeInteger(meta.size) && meta.size <= MAX_BLOCK_BYTES
    const file = await this.readValueFile(key, fixedSize ? meta.size : undefined)
    return file === undefined ? undefined : { ...meta, bytes: file }
  }

  async getMeta (key: Key): Promise<BlockMeta | undefined> {
    return this.readMeta(key)
  }

  async has (key: Key): Promise<boolean> {
    return this.metaBytes(key) !== undefined
  }

  async put (key: Key, block: StoredBlock): Promise<void> {
    const meta: BlockMeta = { kind: block.kind, expiresAt: block.expiresAt, owner: block.owner, seq: block.seq, size: block.size }
    const indexEntry = expiryIndexKey(meta.expiresAt, key)
    await this.lock.run(toHex(key), async () => {
      const old = this.readMeta(key)
      const ops: Operation[] = []
      if (old !== undefined && old.expiresAt !== meta.expiresAt) {
        ops.push({ type: 'del', sublevel: this.sub.expiry, key: expiryIndexKey(old.expiresAt, key) })
      }
      const external = this.isExternal(block.size)
      if (external) await this.writeValueFile(key, block.bytes, old !== undefined && this.isExternal(old.size))
      ops.push(
        external ? { type: 'del', sublevel: this.sub.blocks, key } : { type: 'put', sublevel: this.sub.blocks, key, value: block.bytes },
        { type: 'put', sublevel: this.sub.meta, key, value: encodeMeta(meta) },
        { type: 'put', sublevel: this.sub.expiry, key: indexEntry, value: EMPTY },
      )
      await this.writer.write(ops, external ? 64 : block.bytes.length)
      if (old !== undefined && this.isExternal(old.size) && !external) await this.removeValueFile(key)
      this.account(old, -1)
      this.account(meta, 1)
    })
  }

  async delete (key: Key): Promise<void> {
    await this.lock.run(toHex(key), async () => {
      const old = this.readMeta(key)
      if (old === undefined) return
      await this.writer.write([
        { type: 'del', sublevel: this.sub.blocks, key },
        { type: 'del', sublevel: this.sub.meta, key },
        { type: 'del', sublevel: this.sub.expiry, key: expiryIndexKey(old.expiresAt, key) },
      ], 0)
      if (this.isExternal(old.size)) await this.removeValueFile(key)
      this.account(old, -1)
    })
  }

  async setExpiry (key: Key, expiresAt: number): Promise<boolean> {
    const indexEntry = expiryIndexKey(expiresAt, key)
    return this.lock.run(toHex(key), async () => {
      const old = this.readMeta(key)
      if (old === undefined) return false
      if (old.expiresAt === expiresAt) return true
      await this.writer.write([
        { type: 'del', sublevel: this.sub.expiry, key: expiryIndexKey(old.expiresAt, key) },
        { type: 'put', sublevel: this.sub.expiry, key: indexEntry, value: EMPTY },
        { type: 'put', sublevel: this.sub.meta, key, value: encodeMeta({ ...old, expiresAt }) },
      ], 0)
      return true
    })
  }

  async setOwner (key: Key, owner: string): Promise<boolean> {
    return this.lock.run(toHex(key), async () => {
      const old = this.readMeta(key)
      if (old === undefined) return false
      if (old.owner === owner) return true
      const meta = { ...old, owner }
      await this.writer.write([{ type: 'put', sublevel: this.sub.meta, key, value: encodeMeta(meta) }], 0)
      this.account(old, -1)
      this.account(meta, 1)
      return true
    })
  }

  async * keys (interval: KeyInterval): AsyncIterable<Key> {
    // Both ranges read one snapshot: writes during the iteration do not disturb it.
    const snapshot = this.db.snapshot()
    try {
      // Clockwise: (from, to] when it does not wrap; else (from, top] then [bottom, to].
      // from == to wraps all the way round: the whole ring, ending with `from` itself.
      const ranges = compareKeys(interval.from, interval.to) < 0
        ? [{ gt: interval.from, lte: interval.to }]
        : [{ gt: interval.from }, { lte: interval.to }]
      for (const range of ranges) {
        for await (const key of this.sub.meta.keys({ ...range, snapshot })) yield copyKey(key)
      }
    } finally {
      await snapshot.close()
    }
  }

  async expired (now: number, limit: number): Promise<Key[]> {
    if (!(limit >= 1)) return []
    const entries = await this.sub.expiry.keys({
      lte: expiryIndexBound(now),
      limit: Number.isFinite(limit) ? Math.floor(limit) : -1,
    }).all()
    return entries.map(keyOfExpiryIndex)
  }

  stats (): BlockStoreStats {
    return { blocks: this.blocks, bytes: this.bytes }
  }

  bytesByOwner (owner: string): number {
    return this.owners.get(owner) ?? 0
  }

  private async commit (ops: Operation[]): Promise<void> {
    try {
      await this.db.batch(ops)
    } catch (err) {
      const mapped = mapStorageError(err, this.location)
      if (mapped !== err) this.log.error('%s', (mapped as Error).message)
      throw mapped
    }
  }

  private isExternal (size: number): boolean {
    return size >= this.externalValueBytes
  }

  /** values/<first two hex digits>/<key hex>: 256 directories keep each one small. */
  private valuePath (key: Key): string {
    const hex = toHex(key)
    return join(this.valuesDir, hex.slice(0, 2), hex)
  }

  private readMeta (key: Key): BlockMeta | undefined {
    const meta = this.metaBytes(key)
    return meta === undefined ? undefined : decodeMeta(meta)
  }

  private metaBytes (key: Uint8Array): Uint8Array | undefined {
    try {
      return this.sub.meta.getSync(key)
    } catch (err) {
      throw mapStorageError(err, this.location)
    }
  }

  /**
   * Writes a block's file. `replacing`: metadata points at an existing file, which readers may
   * be reading; the new one is written aside and renamed over it.
   */
  private async writeValueFile (key: Key, bytes: Uint8Array, replacing: boolean): Promise<void> {
    const path = this.valuePath(key)
    const dir = join(path, '..')
    let written = path
    try {
      if (!this.madeDirs.has(dir)) {
        await mkdir(dir, { recursive: true })
        this.madeDirs.add(dir)
      }
      if (!replacing) {
        try {
          // 'wx': create only. A file already there (an orphan a crash left) is replaced below.
          await writeFile(path, bytes, { flag: 'wx' })
          return
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err
        }
      }
      written = `${path}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`
      await writeFile(written, bytes)
      await rename(written, path)
    } catch (err) {
      await rm(written, { force: true })
      const mapped = mapStorageError(err, this.location)
      if (mapped !== err) this.log.error('%s', (mapped as Error).message)
      throw mapped
    }
  }

  /**
   * A block's file (undefined if it is gone: deleted since its metadata was read). With `size`,
   * that many bytes are read at once into memory of their own, and the close is not waited
   * for; a file shorter than that is returned as it is, and the block's check then fails.
   * Without, the whole file.
   */
  private async readValueFile (key: Key, size: number | undefined): Promise<Uint8Array | undefined> {
    let handle: FileHandle
    try {
      if (size === undefined) return ownedBytes(await readFile(this.valuePath(key)))
      handle = await open(this.valuePath(key), 'r')
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
      throw mapStorageError(err, this.location)
    }
    try {
      const bytes = Buffer.allocUnsafeSlow(size)
      let filled = 0
      while (filled < size) {
        const { bytesRead } = await handle.read(bytes, filled, size - filled, filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      return new Uint8Array(bytes.buffer, 0, filled)
    } catch (err) {
      throw mapStorageError(err, this.location)
    } finally {
      handle.close().catch((err: unknown) => { this.log('closing a value file failed: %s', (err as Error).message) })
    }
  }

  private async removeValueFile (key: Key): Promise<void> {
    try {
      await unlink(this.valuePath(key))
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
  }

  /** Removes temp files and files no metadata points at (a crash between the two writes). */
  private async sweepValueFiles (): Promise<void> {
    let dirs: string[]
    try {
      dirs = await readdir(this.valuesDir)
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
      throw err
    }
    let swept = 0
    for (const dir of dirs) {
      for (const name of await readdir(join(this.valuesDir, dir))) {
        const orphan = !/^[0-9a-f]{64}$/.test(name) || this.metaBytes(Buffer.from(name, 'hex')) === undefined
        if (orphan) {
          await rm(join(this.valuesDir, dir, name), { force: true })
          swept++
        }
      }
    }
    if (swept > 0) this.log('removed %d orphan value file(s)', swept)
  }

  private async rebuildTotals (): Promise<void> {
    this.blocks = 0
    this.bytes = 0
    this.owners = new Map()
    for await (const value of this.sub.meta.values()) this.account(decodeMeta(value), 1)
  }

  private account (meta: BlockMeta | undefined, sign: 1 | -1): void {
    if (meta === undefined) return
    this.blocks += sign
    this.bytes += sign * meta.size
    const owned = (this.owners.get(meta.owner) ?? 0) + sign * meta.size
    if (owned === 0) this.owners.delete(meta.owner)
    else this.owners.set(meta.owner, owned)
  }
}
