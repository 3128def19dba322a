import { Packr } from 'msgpackr'
import { StorageFullError, StoreCorruptError, StoreLockedError, asKey, type Key, KEY_BYTES } from '../../core/index.js'
import { isBlockKind } from '../block.js'
import type { BlockMeta } from './block-store.js'

// How LevelBlockStore and LevelBlockCache lay out their records. Changing any of this changes
// the on-disk format of existing nodes.

const packr = new Packr({ useRecords: false, moreTypes: false, int64AsType: 'number' })

/** Metadata as msgpack [kind, expiresAt, owner, seq, size]: ~20 bytes plus the owner. */
export function encodeMeta (meta: BlockMeta): Uint8Array {
  return packr.pack([meta.kind, meta.expiresAt, meta.owner, meta.seq, meta.size])
}

/** Throws on a record this code did not write: that is corruption, not a missing block. */
export function decodeMeta (bytes: Uint8Array): BlockMeta {
  const fields: unknown = packr.unpack(bytes)
  if (Array.isArray(fields) && fields.length === 5) {
    const [kind, expiresAt, owner, seq, size] = fields as unknown[]
    if (isBlockKind(kind) && typeof expiresAt === 'number' && typeof owner === 'string' &&
      typeof seq === 'number' && typeof size === 'number') {
      return { kind, expiresAt, owner, seq, size }
    }
  }
  throw new StoreCorruptError('corrupt block metadata record')
}

const TIME_BYTES = 8

/**
 * A time as 8 bytes whose byte order is numeric order: the IEEE-754 double, big-endian, with
 * the sign bit flipped for non-negative values and all bits flipped for negative ones. Exact
 * for every number, Infinity included, so a byte-range scan finds exactly `expiresAt <= now`.
 */
export function encodeTime (ms: number): Uint8Array {
  if (Number.isNaN(ms)) throw new RangeError('a time cannot be NaN')
  const out = Buffer.alloc(TIME_BYTES)
  out.writeDoubleBE(ms === 0 ? 0 : ms) // -0 sorts as 0
  if ((out[0] as number) & 0x80) {
    for (let i = 0; i < TIME_BYTES; i++) out[i] = ~(out[i] as number) & 0xff
  } else {
    out[0] = (out[0] as number) | 0x80
  }
  return new Uint8Array(out.buffer, out.byteOffset, TIME_BYTES)
}

/** Expiry index entry: encodeTime(expiresAt) ‖ key. */
export function expiryIndexKey (expiresAt: number, key: Key): Uint8Array {
  const out = new Uint8Array(TIME_BYTES + KEY_BYTES)
  out.set(encodeTime(expiresAt), 0)
  out.set(key, TIME_BYTES)
  return out
}

/** The last possible index entry at `now`: a range bound for "expires at or before now". */
export function expiryIndexBound (now: number): Uint8Array {
  const out = new Uint8Array(TIME_BYTES + KEY_BYTES).fill(0xff)
  out.set(encodeTime(now), 0)
  return out
}

/** The block key of an expiry index entry, in a fresh array. */
export function keyOfExpiryIndex (entry: Uint8Array): Key {
  return asKey(entry.slice(TIME_BYTES, TIME_BYTES + KEY_BYTES))
}

/** A fresh copy of a key LevelDB handed back (a Buffer view into the prefixed record). */
export function copyKey (bytes: Uint8Array): Key {
  return asKey(new Uint8Array(bytes))
}

/**
 * A plain Uint8Array over a value LevelDB returned. classic-level gives each value its own
 * Buffer, so when the Buffer spans its whole ArrayBuffer we re-view it instead of copying
 * (a 1 MiB block); otherwise we copy, so the caller never shares memory with anything.
 */
export function ownedBytes (value: Uint8Array): Uint8Array {
  if (value.byteOffset === 0 && value.byteLength === value.buffer.byteLength && !(value.buffer instanceof SharedArrayBuffer)) {
    return new Uint8Array(value.buffer, 0, value.byteLength)
  }
  return new Uint8Array(value)
}

/**
 * The one place LevelDB's errors become CfsErrors, by the codes `level` documents, found on
 * the error or on its `cause` (open wraps the reason in LEVEL_DATABASE_NOT_OPEN):
 * - LEVEL_LOCKED: another process (or another store in this one) has the database open:
 *   StoreLockedError.
 * - LEVEL_CORRUPTION: StoreCorruptError.
 * - a full disk: StorageFullError, so stores are refused cleanly. LevelDB reports it as a
 *   LEVEL_IO_ERROR whose only trace of the errno is the OS text ("No space left on device"),
 *   so this one is recognised by its message; our own file writes carry `code: 'ENOSPC'`.
 * Anything else is returned unchanged.
 */
export function mapStorageError (err: unknown, location: string): unknown {
  for (let e: unknown = err, depth = 0; e != null && depth < 4; e = (e as { cause?: unknown }).cause, depth++) {
    const code = (e as { code?: unknown }).code
    const message = e instanceof Error ? e.message : typeof e === 'string' ? e : ''
    if (code === 'LEVEL_LOCKED') return new StoreLockedError(`${location} is in use by another process`, { cause: err })
    if (code === 'LEVEL_CORRUPTION') return new StoreCorruptError(`${location} is corrupt: ${message}`, { cause: err })
    if (code === 'ENOSPC' || /no space left|ENOSPC|disk full/i.test(message)) {
      return new StorageFullError(`the disk holding ${location} is full: ${message}`, { cause: err })
    }
  }
  return err
}
