import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { ProtocolError } from '../../../src/core/errors.js'
import { SCATTER_MIN_BYTES, decodeFrame, encodeFrame, encodeFrameParts } from '../../../src/net/codec.js'
import { FrameType, Status, type Frame, type StatusCode } from '../../../src/net/protocol.js'
import { FC } from '../ring-model.js'

/** Plain MessagePack with the codec's settings, to craft frames the codec itself would never send. */
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' })
const pack = (value: unknown): Uint8Array => packr.pack(value)

const STATUSES = Object.values(Status) as StatusCode[]

/**
 * A comparable form of a decoded value: byte strings become ['u8', ...bytes] only when they
 * really are Uint8Arrays, so a byte string that came back as an array or object fails toEqual.
 */
function canon (v: unknown): unknown {
  if (v instanceof Uint8Array) return ['u8', ...v]
  if (Array.isArray(v)) return v.map(canon)
  if (v !== null && typeof v === 'object') {
    return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, canon(x)]))
  }
  return v
}

/** Throws unless `f` throws a ProtocolError with code PROTOCOL_ERROR; returns it. */
function expectProtocolError (f: () => unknown): ProtocolError {
  let thrown: unknown
  try { f() } catch (err) { thrown = err }
  expect(thrown, 'decodeFrame should throw').toBeInstanceOf(ProtocolError)
  expect((thrown as ProtocolError).code).toBe('PROTOCOL_ERROR')
  expect((thrown as ProtocolError).name).toBe('ProtocolError')
  return thrown as ProtocolError
}

/** Whether a decoded value is a frame the rest of the stack can trust. */
function isWellFormed (f: Frame): boolean {
  if (!Number.isSafeInteger(f.id) || f.id < 0) return false
  const keys = Object.keys(f).sort().join(',')
  if (f.type === FrameType.REQUEST) {
    return keys === 'body,id,method,type' && typeof f.method === 'string' && f.method.length >= 1 && f.method.length <= 64
  }
  if (f.type === FrameType.RESPONSE) return keys === 'body,id,status,type' && STATUSES.includes(f.status)
  return false
}

const bytesArb = fc.uint8Array({ maxLength: 48 })
/** Message bodies like the RPC layer sends: records of keys, lists, numbers, strings. */
const bodyArb = fc.oneof(
  fc.constant(null),
  fc.integer(),
  fc.boolean(),
  fc.string({ unit: 'grapheme' }),
  bytesArb,
  fc.record({
    to: fc.uint8Array({ minLength: 32, maxLength: 32 }),
    key: bytesArb,
    nodes: fc.array(fc.record({ id: bytesArb, addr: fc.string(), v: fc.nat(1023) }), { maxLength: 4 }),
    n: fc.integer(),
    big: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
    neg: fc.integer({ min: -(2 ** 40), max: -1 }),
    f: fc.double({ noNaN: true }).filter((x) => !Object.is(x, -0)),
    s: fc.string({ unit: 'grapheme', maxLength: 30 }),
    flag: fc.boolean(),
    nothing: fc.constant(null),
    nested: fc.record({ blocks: fc.array(bytesArb, { maxLength: 3 }) }),
  }, { requiredKeys: ['to'] }),
)
const idArb = fc.oneof(fc.nat({ max: 0xffff }), fc.nat({ max: Number.MAX_SAFE_INTEGER }), fc.constant(Number.MAX_SAFE_INTEGER))
const methodArb = fc.oneof(
  fc.constantFrom('chord.next', 'chord.notify', 'dhash.get', 'x', 'm'.repeat(64)),
  fc.string({ minLength: 1, maxLength: 64 }),
)
const requestArb: fc.Arbitrary<Frame> = fc.record({ type: fc.constant(FrameType.REQUEST), id: idArb, method: methodArb, body: bodyArb })
const responseArb: fc.Arbitrary<Frame> = fc.record({ type: fc.constant(FrameType.RESPONSE), id: idArb, status: fc.constantFrom(...STATUSES), body: bodyArb })
const frameArb = fc.oneof(requestArb, responseArb)

describe('encodeFrame / decodeFrame round trip', () => {
  it('returns request and response frames unchanged, byte strings as Uint8Array', () => {
    fc.assert(fc.property(frameArb, (frame) => {
      const back = decodeFrame(encodeFrame(frame))
      expect(canon(back)).toEqual(canon(frame))
      expect(isWellFormed(back)).toBe(true)
    }), FC)
  })

  it('decodes a 32-byte key as a Uint8Array with equal bytes', () => {
    const to = new Uint8Array(32).map((_, i) => 255 - i)
    const back = decodeFrame(encodeFrame({ type: FrameType.REQUEST, id: 7, method: 'chord.next', body: { to, list: [to] } }))
    expect(back.type).toBe(FrameType.REQUEST)
    const body = back.body as { to: unknown, list: unknown[] }
    expect(body.to).toBeInstanceOf(Uint8Array)
    expect(Array.from(body.to as Uint8Array)).toEqual(Array.from(to))
    expect(body.list[0]).toBeInstanceOf(Uint8Array)
  })

  it('decodes from a plain Uint8Array as well as from what encodeFrame returned', () => {
    const frame: Frame = { type: FrameType.RESPONSE, id: 3, status: Status.NOT_FOUND, body: { key: new Uint8Array([1, 2, 3]) } }
    const bytes = new Uint8Array(encodeFrame(frame))
    expect(Object.getPrototypeOf(bytes)).toBe(Uint8Array.prototype)
    expect(canon(decodeFrame(bytes))).toEqual(canon(frame))
  })

  it.each(STATUSES)('round-trips a response with status %i', (status) => {
    const frame: Frame = { type: FrameType.RESPONSE, id: 1, status, body: 'msg' }
    expect(decodeFrame(encodeFrame(frame))).toEqual(frame)
  })

  it('accepts the boundaries: id 0 and 2^53-1, 1- and 64-character methods', () => {
    for (const [id, method] of [[0, 'a'], [Number.MAX_SAFE_INTEGER, 'm'.repeat(64)]] as const) {
      const frame: Frame = { type: FrameType.REQUEST, id, method, body: null }
      expect(decodeFrame(encodeFrame(frame))).toEqual(frame)
    }
  })
})

describe('encodeFrameParts', () => {
  const joined = (frame: Frame): Uint8Array => {
    const { parts, byteLength } = encodeFrameParts(frame)
    const out = Buffer.concat(parts)
    expect(out.length).toBe(byteLength)
    return out
  }
  /** Byte strings on both sides of the scatter threshold, some holding what a marker looks like. */
  const largeArb = fc.oneof(
    fc.integer({ min: SCATTER_MIN_BYTES - 2, max: SCATTER_MIN_BYTES * 5 }).chain((n) => fc.constant(new Uint8Array(n).map((_, i) => (i * 7) & 0xff))),
    fc.uint8Array({ maxLength: 64 }),
    fc.constant(new Uint8Array([0xc4, 16, ...new Uint8Array(16)])),
  )
  const largeBodyArb = fc.oneof(
    largeArb,
    fc.record({
      to: fc.uint8Array({ minLength: 32, maxLength: 32 }),
      items: fc.array(fc.record({ key: bytesArb, kind: fc.nat(1), bytes: largeArb, owner: fc.string() }), { maxLength: 5 }),
    }),
    fc.array(fc.array(largeArb, { maxLength: 3 }), { maxLength: 3 }),
    bodyArb,
  )

  it('gives exactly the bytes encodeFrame gives, for any body', () => {
    const arb = fc.oneof(
      fc.record({ type: fc.constant(FrameType.REQUEST), id: idArb, method: methodArb, body: largeBodyArb }),
      fc.record({ type: fc.constant(FrameType.RESPONSE), id: idArb, status: fc.constantFrom(...STATUSES), body: largeBodyArb }),
    ) as fc.Arbitrary<Frame>
    fc.assert(fc.property(arb, (frame) => {
      expect(Buffer.compare(joined(frame), encodeFrame(frame))).toBe(0)
    }), { ...FC, numRuns: 200 })
  })

  it('sends a large byte string from its own memory, and the same array twice as two copies', () => {
    const block = new Uint8Array(SCATTER_MIN_BYTES * 4).fill(9)
    const frame: Frame = { type: FrameType.REQUEST, id: 1, method: 'dhash.store', body: { items: [{ bytes: block }, { bytes: block }] } }
    const { parts } = encodeFrameParts(frame)
    expect(parts.filter((p) => p === block)).toHaveLength(2)
    const back = decodeFrame(joined(frame)).body as { items: Array<{ bytes: Uint8Array }> }
    expect(back.items.map((i) => Buffer.compare(i.bytes, block))).toEqual([0, 0])
  })
})

describe('decodeFrame rejects malformed input with ProtocolError', () => {
  const cases: Array<[string, Uint8Array]> = [
    ['no bytes', new Uint8Array(0)],
    ['a reserved MessagePack byte', new Uint8Array([0xc1])],
    ['a truncated array', new Uint8Array([0x94, 0x00, 0x01])],
    ['a truncated string', new Uint8Array([0x94, 0x00, 0x01, 0xa5, 0x61])],
    ['bytes after the frame', new Uint8Array([...pack([0, 1, 'm', null]), 0xc0])],
    ['an unknown extension type', new Uint8Array([0x94, 0x00, 0x01, 0xa1, 0x6d, 0xd4, 0x33, 0x00])],
    ['ASCII text', new TextEncoder().encode('GET / HTTP/1.1\r\n\r\n')],
    ['a number', pack(5)],
    ['a string', pack('frame')],
    ['nil', pack(null)],
    ['a map', pack({ type: 0, id: 1, method: 'm', body: null })],
    ['a byte string', pack(new Uint8Array([0, 1, 'm'.charCodeAt(0), 0]))],
    ['an empty array', pack([])],
    ['three elements', pack([0, 1, 'm'])],
    ['five elements', pack([0, 1, 'm', null, null])],
    ['a negative id', pack([0, -1, 'm', null])],
    ['a non-integer id', pack([0, 1.5, 'm', null])],
    ['an id past 2^53', pack([0, 2 ** 60, 'm', null])],
    ['a string id', pack([0, '1', 'm', null])],
    ['a nil id', pack([0, null, 'm', null])],
    ['frame type 2', pack([2, 1, 'm', null])],
    ['frame type -1', pack([-1, 1, 'm', null])],
    ['a string frame type', pack(['0', 1, 'm', null])],
    ['an array frame type', pack([[0], 1, 'm', null])],
    ['a map frame type', pack([{ a: 1 }, 1, 'm', null])],
    ['status 16', pack([1, 1, 16, null])],
    ['status 99', pack([1, 1, 99, null])],
    ['status -1', pack([1, 1, -1, null])],
    ['status 1.5', pack([1, 1, 1.5, null])],
    ['a string status', pack([1, 1, '0', null])],
    ['a nil status', pack([1, 1, null, null])],
    ['an empty method', pack([0, 1, '', null])],
    ['a 65-character method', pack([0, 1, 'm'.repeat(65), null])],
    ['a numeric method', pack([0, 1, 3, null])],
    ['a byte-string method', pack([0, 1, new Uint8Array([0x6d]), null])],
  ]

  it.each(cases)('%s', (_name, bytes) => {
    expectProtocolError(() => decodeFrame(bytes))
  })

  it('chains the parser error as the cause of undecodable bytes', () => {
    const err = expectProtocolError(() => decodeFrame(new Uint8Array([0x94, 0x00, 0x01])))
    expect(err.cause).toBeInstanceOf(Error)
  })

  // A peer controls every field. A map whose "toString" is not a function (or an array holding
  // one) cannot be turned into a string, so String(value) in the error message must not be what
  // throws: today it throws a TypeError instead of the ProtocolError (src/net/codec.ts:35,38).
  it('a frame type that is a map with a non-function toString', () => {
    expectProtocolError(() => decodeFrame(pack([{ toString: 1 }, 1, 'm', null])))
  })

  it('a response status that is a map with a non-function toString', () => {
    expectProtocolError(() => decodeFrame(pack([1, 1, { toString: 1 }, null])))
  })
})

describe('decodeFrame on untrusted input', () => {
  /** Runs decodeFrame; anything but a well-formed frame or a ProtocolError fails the property. */
  const decodesOrRejects = (bytes: Uint8Array): void => {
    let frame: Frame
    try {
      frame = decodeFrame(bytes)
    } catch (err) {
      if (err instanceof ProtocolError && err.code === 'PROTOCOL_ERROR') return
      throw new Error(`decodeFrame threw ${String((err as Error)?.name)} (${String((err as Error)?.message)}) on ${Buffer.from(bytes).toString('hex')}`)
    }
    expect(isWellFormed(frame), `not well formed: ${Buffer.from(bytes).toString('hex')}`).toBe(true)
  }

  it('arbitrary bytes: a well-formed frame or a ProtocolError, never anything else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 64 }), decodesOrRejects), { ...FC, numRuns: 1_000 })
  })

  it('arbitrary bytes behind a 4-element array header', () => {
    const arb = fc.uint8Array({ maxLength: 40 }).map((tail) => new Uint8Array([0x94, ...tail]))
    fc.assert(fc.property(arb, decodesOrRejects), { ...FC, numRuns: 1_000 })
  })

  it('valid frames with bytes flipped, cut or appended', () => {
    const mutation = fc.record({ at: fc.nat(), xor: fc.integer({ min: 1, max: 255 }), kind: fc.constantFrom('flip', 'cut', 'append') })
    fc.assert(fc.property(frameArb, fc.array(mutation, { minLength: 1, maxLength: 3 }), (frame, muts) => {
      let bytes = Uint8Array.from(encodeFrame(frame))
      for (const m of muts) {
        const at = bytes.length === 0 ? 0 : m.at % bytes.length
        if (m.kind === 'flip' && bytes.length > 0) bytes[at] = (bytes[at] as number) ^ m.xor
        else if (m.kind === 'cut') bytes = bytes.slice(0, at)
        else bytes = new Uint8Array([...bytes, m.xor])
      }
      decodesOrRejects(bytes)
    }), FC)
  })

  it('well-encoded arrays of hostile values (wrong types, maps with tricky keys)', () => {
    const trickyKey = fc.constantFrom('toString', 'valueOf', '__proto__', 'constructor', 'length', 'then', 'a')
    const leaf = fc.oneof(
      fc.constant(null), fc.boolean(), fc.integer(), fc.double(), fc.string({ maxLength: 70 }),
      fc.constantFrom(0, 1, 15, 16, -1, 2 ** 53, 2 ** 60), bytesArb,
    )
    const { value } = fc.letrec<{ value: unknown }>((tie) => ({
      value: fc.oneof({ depthSize: 'small', withCrossShrink: true },
        leaf,
        fc.array(tie('value'), { maxLength: 4 }),
        fc.array(fc.tuple(trickyKey, tie('value')), { maxLength: 3 }).map((entries) => Object.fromEntries(entries))),
    }))
    const typeArb = fc.oneof(fc.constantFrom(0, 1), value)
    const arrayArb = fc.oneof(
      fc.tuple(typeArb, fc.oneof(idArb, value), fc.oneof(methodArb, fc.constantFrom(...STATUSES), value), value),
      fc.array(value, { maxLength: 6 }),
    )
    fc.assert(fc.property(arrayArb, (arr) => { decodesOrRejects(pack(arr)) }), FC)
  })
})
