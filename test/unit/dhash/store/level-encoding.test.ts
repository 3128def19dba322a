import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { StorageFullError, StoreCorruptError, compareKeys, isCfsError } from '../../../../src/core/index.js'
import { BlockKind } from '../../../../src/dhash/block.js'
import {
  decodeMeta, encodeMeta, encodeTime, expiryIndexBound, expiryIndexKey, keyOfExpiryIndex, mapStorageError, ownedBytes,
} from '../../../../src/dhash/store/level-encoding.js'
import { keyOf } from '../../../contracts/block-store-contract.js'
import { thrown } from '../../../helpers/thrown.js'

const FC = { seed: 42, numRuns: 1_000 } as const

describe('encodeTime', () => {
  it('orders bytes exactly as numbers, infinities and negatives included', () => {
    const time = fc.oneof(fc.double({ noNaN: true }), fc.integer({ min: 0, max: 2 ** 45 }))
    fc.assert(fc.property(time, time, (a, b) => {
      expect(Math.sign(compareKeys(encodeTime(a), encodeTime(b)))).toBe(Math.sign(a - b) || 0)
    }), FC)
    expect(compareKeys(encodeTime(-0), encodeTime(0))).toBe(0)
  })

  it('refuses NaN', () => {
    expect(() => encodeTime(NaN)).toThrow(RangeError)
  })
})

describe('expiry index entries', () => {
  it('carry the key back out, and sort at or below the bound of their own time', () => {
    const k = keyOf([0xff], 0xff)
    const entry = expiryIndexKey(100, k)
    expect(keyOfExpiryIndex(entry)).toEqual(k)
    expect(compareKeys(entry, expiryIndexBound(100))).toBeLessThanOrEqual(0)
    expect(compareKeys(expiryIndexKey(100.001, keyOf([])), expiryIndexBound(100))).toBeGreaterThan(0)
  })
})

describe('metadata records', () => {
  it('round-trip every field', () => {
    const meta = { kind: BlockKind.ROOT, expiresAt: 1_700_000_000_123, owner: 'ab'.repeat(32), seq: Number.MAX_SAFE_INTEGER, size: 1024 * 1024 }
    expect(decodeMeta(encodeMeta(meta))).toEqual(meta)
    expect(encodeMeta(meta).length).toBeLessThan(100)
    const odd = { kind: BlockKind.CONTENT, expiresAt: Infinity, owner: '', seq: 0, size: 0 }
    expect(decodeMeta(encodeMeta(odd))).toEqual(odd)
  })

  it('refuse a record of another shape', () => {
    const err = thrown(() => decodeMeta(Uint8Array.from([0x93, 1, 2, 3])))
    expect(err).toBeInstanceOf(StoreCorruptError)
    expect(isCfsError(err, 'STORE_CORRUPT')).toBe(true)
  })
})

describe('ownedBytes', () => {
  it('re-views a Buffer that spans its memory and copies one that does not', () => {
    const whole = Buffer.from([1, 2, 3])
    const viewed = ownedBytes(Buffer.concat([whole]))
    expect(Object.getPrototypeOf(viewed)).toBe(Uint8Array.prototype)
    expect(viewed).toEqual(Uint8Array.from([1, 2, 3]))
    const pooled = Buffer.from('hello') // a slice of Node's shared pool
    const owned = ownedBytes(pooled)
    expect(owned.buffer).not.toBe(pooled.buffer)
    expect(Buffer.from(owned).toString()).toBe('hello')
  })
})

describe('mapStorageError', () => {
  const ioError = (message: string): Error => Object.assign(new Error(message), { code: 'LEVEL_IO_ERROR' })

  it('turns a LevelDB disk-full error into StorageFullError, keeping the cause', () => {
    const err = ioError('IO error: /data/cfs/000012.log: No space left on device')
    const mapped = mapStorageError(err, '/data/cfs')
    expect(mapped).toBeInstanceOf(StorageFullError)
    expect(isCfsError(mapped, 'STORAGE_FULL')).toBe(true)
    expect((mapped as StorageFullError).message).toMatch(/\/data\/cfs.*full/)
    expect((mapped as StorageFullError).cause).toBe(err)
  })

  it('finds the disk-full error as the cause of a wrapping error, or by errno code', () => {
    const wrapped = Object.assign(new Error('Database failed to open'), { code: 'LEVEL_DATABASE_NOT_OPEN', cause: ioError('IO error: ENOSPC') })
    expect(mapStorageError(wrapped, '/x')).toBeInstanceOf(StorageFullError)
    expect(mapStorageError(Object.assign(new Error('write failed'), { code: 'ENOSPC' }), '/x')).toBeInstanceOf(StorageFullError)
  })

  it('turns LEVEL_LOCKED (the cause of a failed open) into STORE_LOCKED, keeping the cause', () => {
    const locked = Object.assign(new Error('IO error: lock /x/LOCK: already held by process'), { code: 'LEVEL_LOCKED' })
    const wrapped = Object.assign(new Error('Database failed to open'), { code: 'LEVEL_DATABASE_NOT_OPEN', cause: locked })
    const mapped = mapStorageError(wrapped, '/x')
    expect(isCfsError(mapped, 'STORE_LOCKED')).toBe(true)
    expect((mapped as Error).cause).toBe(wrapped)
    expect(isCfsError(mapStorageError(locked, '/x'), 'STORE_LOCKED')).toBe(true)
  })

  it('turns LEVEL_CORRUPTION into STORE_CORRUPT', () => {
    const corrupt = Object.assign(new Error('Corruption: bad block'), { code: 'LEVEL_CORRUPTION' })
    expect(isCfsError(mapStorageError(corrupt, '/x'), 'STORE_CORRUPT')).toBe(true)
  })

  it('leaves every other error as it was', () => {
    const other = ioError('IO error: /data/cfs/LOCK: Permission denied')
    expect(mapStorageError(other, '/x')).toBe(other)
    expect(mapStorageError('weird', '/x')).toBe('weird')
    expect(mapStorageError(undefined, '/x')).toBeUndefined()
  })
})
