import { describe, expect, it } from 'vitest'
import * as errors from '../../../src/core/errors.js'
import { CfsError, type ErrorCode } from '../../../src/core/errors.js'
import { Status, errorForStatus, isStatus, statusForError, type StatusCode } from '../../../src/net/protocol.js'

type ErrorClass = new (message: string, options?: ErrorOptions) => CfsError

/** Every concrete CfsError class core/errors.ts exports, so a new one cannot slip past this file. */
const ERROR_CLASSES: Array<[string, ErrorClass]> = Object.entries(errors)
  .filter(([, v]) => typeof v === 'function' && (v as { prototype?: unknown }).prototype instanceof CfsError)
  .map(([name, v]) => [name, v as unknown as ErrorClass])

/** The documented wire mapping (docs/PROTOCOL.md): local error class -> status. */
const WIRE: Array<[ErrorClass, StatusCode]> = [
  [errors.BadRequestError, Status.BAD_REQUEST],
  [errors.UnknownMethodError, Status.UNKNOWN_METHOD],
  [errors.UnknownTargetError, Status.UNKNOWN_TARGET],
  [errors.BusyError, Status.BUSY],
  [errors.ShuttingDownError, Status.SHUTTING_DOWN],
  [errors.BlockNotFoundError, Status.NOT_FOUND],
  [errors.NotResponsibleError, Status.NOT_RESPONSIBLE],
  [errors.BlockInvalidError, Status.INVALID_BLOCK],
  [errors.BlockTooLargeError, Status.TOO_LARGE],
  [errors.RootStaleError, Status.ROOT_STALE],
  [errors.RootConflictError, Status.ROOT_CONFLICT],
  [errors.QuotaExceededError, Status.QUOTA_EXCEEDED],
  [errors.StorageFullError, Status.STORAGE_FULL],
  [errors.RemoteError, Status.ERROR],
]

describe('statusForError / errorForStatus', () => {
  it('knows every exported CfsError class (sanity of the enumeration)', () => {
    expect(ERROR_CLASSES.length).toBeGreaterThanOrEqual(27)
    const codes = new Set(ERROR_CLASSES.map(([, C]) => new C('x').code))
    expect(codes.size).toBe(ERROR_CLASSES.length)
  })

  it.each(WIRE.map(([C, s]) => [C.name, s, C] as const))('%s <-> status %i', (_name, status, C) => {
    const local = new C('boom')
    expect(statusForError(local)).toBe(status)
    const back = errorForStatus(status, 'boom', 'dhash.get')
    expect(back).toBeInstanceOf(C)
    expect(back.code).toBe(local.code)
    expect(back.name).toBe(C.name)
    expect(back.message).toContain('dhash.get')
    expect(back.message).toContain('boom')
  })

  it('every CfsError code that has a status comes back as the same code', () => {
    for (const [name, C] of ERROR_CLASSES) {
      const status = statusForError(new C('m'))
      if (status === Status.ERROR) continue
      const back = errorForStatus(status, 'm', 'x')
      // PROTOCOL_ERROR shares BAD_REQUEST: the peer only learns that its request was bad.
      const want: ErrorCode = name === 'ProtocolError' ? 'BAD_REQUEST' : new C('m').code
      expect(back.code, name).toBe(want)
    }
  })

  it('maps a ProtocolError to BAD_REQUEST', () => {
    expect(statusForError(new errors.ProtocolError('garbage'))).toBe(Status.BAD_REQUEST)
  })

  it('every status but OK maps to an error that maps back to it', () => {
    for (const status of Object.values(Status)) {
      if (status === Status.OK) continue
      expect(statusForError(errorForStatus(status, 'm', 'x')), `status ${status}`).toBe(status)
    }
  })

  it.each([
    ['TimeoutError', new errors.TimeoutError('t')],
    ['AbortError', new errors.AbortError('a')],
    ['EntryNotFoundError', new errors.EntryNotFoundError('e')],
    ['a plain Error', new Error('plain')],
    ['a TypeError', new TypeError('misuse')],
    ['a string', 'oops'],
    ['undefined', undefined],
  ])('%s goes on the wire as Status.ERROR', (_name, err) => {
    expect(statusForError(err)).toBe(Status.ERROR)
  })

  it.each([16, 99, -1, 1.5, Number.NaN, 2 ** 32])('unknown status %d becomes a RemoteError naming it', (status) => {
    const err = errorForStatus(status, 'what', 'chord.next')
    expect(err).toBeInstanceOf(errors.RemoteError)
    expect(err.code).toBe('REMOTE_ERROR')
    expect(err.message).toContain(String(status))
    expect(err.message).toContain('chord.next')
  })

  it('Status.OK is not an error: asking for its error gives a RemoteError', () => {
    expect(errorForStatus(Status.OK, 'm', 'x')).toBeInstanceOf(errors.RemoteError)
  })
})

describe('isStatus', () => {
  it('accepts exactly the defined statuses', () => {
    for (const s of Object.values(Status)) expect(isStatus(s)).toBe(true)
    for (const v of [16, -1, 1.5, Number.NaN, '1', null, undefined, {}, [1], 'toString', 'constructor']) {
      expect(isStatus(v), JSON.stringify(v) ?? 'undefined').toBe(false)
    }
  })

  it('statuses are distinct small non-negative integers', () => {
    const values = Object.values(Status)
    expect(new Set(values).size).toBe(values.length)
    for (const v of values) expect(Number.isInteger(v) && v >= 0 && v < 128).toBe(true)
  })
})
