import { randomBytes } from 'node:crypto'
import { ftruncateSync, writevSync } from 'node:fs'
import { mkdir, open, readFile, rename, rm, type FileHandle } from 'node:fs/promises'
import { join } from 'node:path'
import { JournalError, StorageFullError, blake3, hashKey, keysEqual, toHex, type Key } from '../core/index.js'

/**
 * The owner's journal: every block a change made and the tree it led to, on the mount's local
 * disk, so that what the ring has not acknowledged survives an outage of the ring, a restart
 * and a kill -9 of the mount, and is published once the ring answers again.
 *
 * It is the write buffer made durable. A change appends the blocks it added to the buffer
 * (and any the buffer took since the last change, such as a streamed write's) and then the
 * key of the new tree, in one write, before the change is reported done; a publication
 * appends the version it published (the base the next changes build on). Nothing is read back
 * while the mount runs. Recovery replays the file: the last tree after the last base is what
 * waited, and its blocks are the ones the journal holds or the ring acknowledged earlier.
 *
 * Appends go to the file with write(2) (the page cache), which a crash of the mount process
 * does not lose; `sync` (fdatasync) makes them survive a crash of the machine too, and the
 * volume calls it on every fsync, published or not. The file is rewritten from the write
 * buffer (what still waits) whenever it outgrows its bound after a publication, and at start.
 */
export interface VolumeJournal {
  /** Reads what the journal holds (nothing if it is new). `rewrite` then opens it for appends. */
  open: () => Promise<RecoveredJournal>
  /** Appends blocks, then the tree they belong to, as one write. */
  append: (blocks: ReadonlyArray<readonly [Key, Uint8Array]>, top: Key) => Promise<void>
  /** Appends a published version: changes before it are on the ring. */
  published: (base: JournalBase) => Promise<void>
  /**
   * Replaces the journal with `base`, `blocks` and `top` (a new file synced and renamed over
   * the old one: a crash leaves either).
   */
  rewrite: (base: JournalBase | undefined, blocks: Iterable<readonly [Key, Uint8Array]>, top: Key | undefined) => Promise<void>
  /** Moves the file aside (changes another writer's publication overtook), under a name that says so; returns its path. */
  setAside: (label: string) => Promise<string>
  /** Waits for appends in flight and makes the file durable on disk (fdatasync). */
  sync: () => Promise<void>
  close: () => Promise<void>
  /** Bytes in the file. */
  readonly bytes: number
}

/** A published version, as the journal records it. */
export interface JournalBase {
  readonly seq: number
  readonly recordKey: Key
  readonly top: Key
}

export interface RecoveredJournal {
  /** The last version recorded as published. */
  readonly base: JournalBase | undefined
  /** Trees of changes the base does not include, oldest first (the last is the current one), with when each was made (ms since the epoch). */
  readonly tops: ReadonlyArray<{ readonly top: Key, readonly timeMs: number }>
  /** Every block the journal holds, by hex key, checked against its key. */
  readonly blocks: ReadonlyMap<string, readonly [Key, Uint8Array]>
  /** The file ended in a record cut short or damaged (a crash during a write): it was ignored from there. */
  readonly torn: boolean
}

/** The journal's file inside its directory. */
export const JOURNAL_FILE = 'journal.log'
/** The file begins with these bytes (format 1). */
const MAGIC = new TextEncoder().encode('cfs-journal-1\n')

enum RecordType { BLOCK = 1, TOP = 2, BASE = 3 }

/**
 * A record is `type (1) ‖ length (4, big-endian) ‖ payload ‖ check (8)`. BLOCK: key (32) ‖
 * bytes, checked by its key (the BLAKE3 of the bytes), so the check field is zero and no block
 * is hashed twice on the write path. TOP: key (32) ‖ time (ms, float64). BASE: seq (float64) ‖
 * record key (32) ‖ top key (32). TOP and BASE end with the first 8 bytes of the BLAKE3 of
 * their type and payload.
 */
const HEADER_BYTES = 5
const CHECK_BYTES = 8
const KEY_BYTES = 32

function header (type: RecordType, length: number): Uint8Array {
  const h = new Uint8Array(HEADER_BYTES)
  h[0] = type
  new DataView(h.buffer).setUint32(1, length)
  return h
}

function checked (type: RecordType, payload: Uint8Array): Uint8Array[] {
  const check = blake3(Buffer.concat([Uint8Array.of(type), payload])).subarray(0, CHECK_BYTES)
  return [header(type, payload.length), payload, check]
}

function blockRecord (key: Key, bytes: Uint8Array): Uint8Array[] {
  return [header(RecordType.BLOCK, KEY_BYTES + bytes.length), key, bytes, new Uint8Array(CHECK_BYTES)]
}

function topRecord (top: Key, timeMs: number): Uint8Array[] {
  const payload = new Uint8Array(KEY_BYTES + 8)
  payload.set(top, 0)
  new DataView(payload.buffer).setFloat64(KEY_BYTES, timeMs)
  return checked(RecordType.TOP, payload)
}

function baseRecord (base: JournalBase): Uint8Array[] {
  const payload = new Uint8Array(8 + 2 * KEY_BYTES)
  new DataView(payload.buffer).setFloat64(0, base.seq)
  payload.set(base.recordKey, 8)
  payload.set(base.top, 8 + KEY_BYTES)
  return checked(RecordType.BASE, payload)
}

/** What a journal holds, without its blocks: for `cfs status`. */
export interface JournalSummary {
  /** The version the journal's changes build on (0: none published). */
  readonly baseSeq: number
  /** Changes (trees) not yet published. */
  readonly changes: number
  /** When the first of them was made (ms since the epoch), if any. */
  readonly since: number | undefined
  /** Bytes of blocks the journal holds. */
  readonly blockBytes: number
  readonly torn: boolean
}

/** Replays a journal file's bytes (see RecordType); stops at the first record that is cut short or fails its check. */
export function summarizeJournal (file: Uint8Array): JournalSummary {
  const r = replayJournal(file, false)
  let blockBytes = 0
  for (const [, bytes] of r.blocks.values()) blockBytes += bytes.length
  return { baseSeq: r.base?.seq ?? 0, changes: r.tops.length, since: r.tops[0]?.timeMs, blockBytes, torn: r.torn }
}

/**
 * Replays a journal file's bytes (see RecordType); stops at the first record that is cut short
 * or fails its check. `checkBlocks` false trusts block records (a summary, nothing applied).
 */
export function replayJournal (file: Uint8Array, checkBlocks = true): RecoveredJournal {
  const blocks = new Map<string, readonly [Key, Uint8Array]>()
  let base: JournalBase | undefined
  let tops: Array<{ top: Key, timeMs: number }> = []
  if (file.length === 0) return { base, tops, blocks, torn: false }
  if (file.length < MAGIC.length || !MAGIC.every((b, i) => file[i] === b)) {
    throw new JournalError('not a cfs journal (or a format this version does not read)')
  }
  const view = new DataView(file.buffer, file.byteOffset, file.byteLength)
  let at = MAGIC.length
  let torn = false
  while (at < file.length) {
    if (at + HEADER_BYTES > file.length) { torn = true; break }
    const type = file[at] as RecordType
    const length = view.getUint32(at + 1)
    const end = at + HEADER_BYTES + length + CHECK_BYTES
    if (end > file.length) { torn = true; break }
    const payload = file.subarray(at + HEADER_BYTES, at + HEADER_BYTES + length)
    const check = file.subarray(end - CHECK_BYTES, end)
    const ok = type === RecordType.BLOCK
      ? length >= KEY_BYTES && check.every((b) => b === 0) && (!checkBlocks || keysEqual(hashKey(payload.subarray(KEY_BYTES)), payload.subarray(0, KEY_BYTES)))
      : (type === RecordType.TOP || type === RecordType.BASE) && keysEqual(checked(type, payload)[2] as Uint8Array, check)
    if (!ok) { torn = true; break }
    const p = new DataView(payload.buffer, payload.byteOffset, payload.byteLength)
    if (type === RecordType.BLOCK) {
      const key = payload.slice(0, KEY_BYTES) as Key
      blocks.set(toHex(key), [key, checkBlocks ? payload.slice(KEY_BYTES) : payload.subarray(KEY_BYTES)])
    } else if (type === RecordType.TOP && length === KEY_BYTES + 8) {
      tops.push({ top: payload.slice(0, KEY_BYTES) as Key, timeMs: p.getFloat64(KEY_BYTES) })
    } else if (type === RecordType.BASE && length === 8 + 2 * KEY_BYTES) {
      const b: JournalBase = { seq: p.getFloat64(0), recordKey: payload.slice(8, 8 + KEY_BYTES) as Key, top: payload.slice(8 + KEY_BYTES) as Key }
      base = b
      // Changes made while that version was being published were appended before this record
      // and are not in it: only the trees up to the one it published are done.
      const done = tops.findLastIndex((t) => keysEqual(t.top, b.top))
      if (done >= 0) tops = tops.slice(done + 1)
    } else {
      torn = true
      break
    }
    at = end
  }
  return { base, tops, blocks, torn }
}

function journalFailure (err: unknown, what: string): Error {
  const code = (err as NodeJS.ErrnoException).code
  if (code === 'ENOSPC' || code === 'EDQUOT') return new StorageFullError(`the journal's disk is full (${what})`)
  return new JournalError(`the journal could not be written (${what}): ${(err as Error).message}`)
}

export interface FileJournalInit {
  /** Directory of the journal, created if missing: one volume's (the mount's --data/journal/<volume>). */
  dir: string
  /** Milliseconds since the epoch, recorded with each change. @default Date.now */
  now?: () => number
}

/**
 * The journal in `<dir>/journal.log`. Appends are ordered: each waits for the one before, so
 * a change reported done has every earlier change on file too. A failed append cuts the file
 * back to its last whole record, so the changes after it are not hidden behind a torn one.
 */
export class FileJournal implements VolumeJournal {
  private readonly dir: string
  private readonly path: string
  private readonly now: () => number
  private handle: FileHandle | undefined
  private size = 0
  /** The last rewrite or sync in flight: an append waits for it. */
  private tail: Promise<void> = Promise.resolve()
  /** Rewrites and syncs queued or in flight. */
  private queued = 0

  constructor (init: FileJournalInit) {
    this.dir = init.dir
    this.path = join(init.dir, JOURNAL_FILE)
    this.now = init.now ?? Date.now
  }

  get bytes (): number { return this.size }

  async open (): Promise<RecoveredJournal> {
    let file: Uint8Array
    try {
      await mkdir(this.dir, { recursive: true })
      file = await readFile(this.path).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return new Uint8Array(0)
        throw err
      })
    } catch (err) {
      throw journalFailure(err, `reading ${this.path}`)
    }
    return replayJournal(file)
  }

  async append (blocks: ReadonlyArray<readonly [Key, Uint8Array]>, top: Key): Promise<void> {
    const parts = blocks.flatMap(([key, bytes]) => blockRecord(key, bytes))
    parts.push(...topRecord(top, this.now()))
    await this.write(parts, 'a change')
  }

  async published (base: JournalBase): Promise<void> {
    await this.write(baseRecord(base), `version ${base.seq}`)
  }

  async rewrite (base: JournalBase | undefined, blocks: Iterable<readonly [Key, Uint8Array]>, top: Key | undefined): Promise<void> {
    this.queued++
    const run = this.tail.then(async () => {
      const parts: Uint8Array[] = [MAGIC]
      if (base !== undefined) parts.push(...baseRecord(base))
      for (const [key, bytes] of blocks) parts.push(...blockRecord(key, bytes))
      if (top !== undefined && (base === undefined || !keysEqual(top, base.top))) parts.push(...topRecord(top, this.now()))
      const temp = `${this.path}.tmp-${randomBytes(6).toString('hex')}`
      try {
        await mkdir(this.dir, { recursive: true })
        const fh = await open(temp, 'w')
        try {
          await writeAll(fh, parts)
          await fh.datasync()
        } finally {
          await fh.close()
        }
        await rename(temp, this.path)
        await syncDir(this.dir)
        await this.handle?.close()
        this.handle = await open(this.path, 'a')
        this.size = parts.reduce((n, p) => n + p.length, 0)
      } catch (err) {
        await rm(temp, { force: true })
        throw journalFailure(err, `rewriting ${this.path}`)
      }
    })
    this.tail = run.catch(() => {}).finally(() => { this.queued-- })
    await run
  }

  async setAside (label: string): Promise<string> {
    await this.tail
    await this.handle?.close()
    this.handle = undefined
    const aside = `${this.path}.${label}-${new Date(this.now()).toISOString().replace(/[:.]/g, '-')}`
    try {
      await rename(this.path, aside)
    } catch (err) {
      throw journalFailure(err, `moving ${this.path} aside`)
    }
    return aside
  }

  async sync (): Promise<void> {
    this.queued++
    const run = this.tail.then(async () => {
      try {
        await this.handle?.datasync()
      } catch (err) {
        throw journalFailure(err, 'syncing')
      }
    })
    this.tail = run.catch(() => {}).finally(() => { this.queued-- })
    await run
  }

  async close (): Promise<void> {
    await this.tail
    await this.handle?.close()
    this.handle = undefined
  }

  private async write (parts: Uint8Array[], what: string): Promise<void> {
    // Nothing queued (no rewrite or sync in flight): the append is one writev(2) into the page
    // cache, made here and now, on the journal's local disk (never the mount). Through the
    // thread pool it cost a hop and a promise per change: +0.36 ms of mount CPU per small file
    // and +1.6 ms per MB written over no journal, against +0.07 and +1.0 this way
    // (docs/BENCHMARKS.md). The price: while the kernel throttles a writer with too many dirty
    // pages, the event loop waits with it.
    if (this.idle) {
      this.writeNow(parts, what)
      return
    }
    const run = this.tail.then(async () => { this.writeNow(parts, what) })
    this.tail = run.catch(() => {})
    await run
  }

  /** True while no rewrite or sync is queued: appends may be made at once. */
  private get idle (): boolean { return this.queued === 0 }

  private writeNow (parts: Uint8Array[], what: string): void {
    const fh = this.handle
    if (fh === undefined) throw new JournalError('the journal is not open')
    const before = this.size
    try {
      writeAllSync(fh.fd, parts)
      this.size = before + parts.reduce((n, p) => n + p.length, 0)
    } catch (err) {
      // Cut back to the last whole record; later appends must not sit behind a torn one.
      try { ftruncateSync(fh.fd, before) } catch { /* the append's own error is the one to report */ }
      throw journalFailure(err, what)
    }
  }
}

/** IOV_MAX on Linux: buffers one writev takes. */
const IOV_MAX = 1024

/** writev until every byte is written (a short write continues where it stopped). */
function writeAllSync (fd: number, parts: Uint8Array[]): void {
  for (let rest = nonEmpty(parts); rest.length > 0;) rest = unwritten(rest, writevSync(fd, rest.slice(0, IOV_MAX)))
}

/** writeAllSync through the thread pool (a rewrite may be hundreds of MiB). */
async function writeAll (fh: FileHandle, parts: Uint8Array[]): Promise<void> {
  for (let rest = nonEmpty(parts); rest.length > 0;) rest = unwritten(rest, (await fh.writev(rest.slice(0, IOV_MAX))).bytesWritten)
}

function nonEmpty (parts: Uint8Array[]): Uint8Array[] {
  return parts.filter((p) => p.length > 0)
}

/** What of `parts` is left once the first `written` bytes went out. */
function unwritten (parts: Uint8Array[], written: number): Uint8Array[] {
  let i = 0
  let n = written
  while (i < parts.length && n >= (parts[i] as Uint8Array).length) n -= (parts[i++] as Uint8Array).length
  return i < parts.length ? [(parts[i] as Uint8Array).subarray(n), ...parts.slice(i + 1)] : []
}

async function syncDir (dir: string): Promise<void> {
  const fh = await open(dir, 'r')
  try { await fh.sync() } finally { await fh.close() }
}
