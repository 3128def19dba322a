import fc from 'fast-check'
import { Packr } from 'msgpackr'
import { describe, expect, it } from 'vitest'
import { BlockInvalidError, BlockTooLargeError, asKey, toHex } from '../../../src/core/index.js'
import { BlockKind, MAX_BLOCK_BYTES, checkBlockSize, contentKey, verifyContentBlock } from '../../../src/dhash/block.js'
import { decodeRoot, encodeRoot, generateSecretKey, publicKeyOf, rootKey } from '../../../src/dhash/root-block.js'
import { verifyBlock } from '../../../src/dhash/verify.js'
import { thrown } from '../../helpers/thrown.js'

const FC = { seed: 42, numRuns: 300 } as const
const packr = new Packr({ useRecords: false, moreTypes: false, mapsAsObjects: true, int64AsType: 'number' })

const flip = (bytes: Uint8Array, at: number): Uint8Array => {
  const copy = new Uint8Array(bytes)
  copy[at] = (copy[at] as number) ^ 0x01
  return copy
}

describe('content blocks', () => {
  const bytes = Uint8Array.from({ length: 5000 }, (_, i) => (i * 13) & 0xff)

  it('verify against the BLAKE3 of their bytes', () => {
    expect(() => { verifyContentBlock(contentKey(bytes), bytes) }).not.toThrow()
    expect(verifyBlock(contentKey(bytes), BlockKind.CONTENT, bytes)).toEqual({ kind: BlockKind.CONTENT, owner: '', seq: 0 })
    expect(() => { verifyContentBlock(contentKey(new Uint8Array(0)), new Uint8Array(0)) }).not.toThrow()
  })

  it('reject a single flipped byte anywhere, with BlockInvalidError', () => {
    const key = contentKey(bytes)
    for (const at of [0, 1, 2500, 4999]) {
      const err = thrown(() => { verifyContentBlock(key, flip(bytes, at)) })
      expect(err).toBeInstanceOf(BlockInvalidError)
      expect((err as BlockInvalidError).code).toBe('BLOCK_INVALID')
    }
    expect(thrown(() => verifyBlock(asKey(flip(key, 31)), BlockKind.CONTENT, bytes))).toBeInstanceOf(BlockInvalidError)
  })

  it('larger than MAX_BLOCK_BYTES is BlockTooLargeError; exactly the maximum is fine', () => {
    const max = new Uint8Array(MAX_BLOCK_BYTES)
    expect(() => { checkBlockSize(max) }).not.toThrow()
    expect(() => { verifyContentBlock(contentKey(max), max) }).not.toThrow()
    const over = new Uint8Array(MAX_BLOCK_BYTES + 1)
    const err = thrown(() => { verifyContentBlock(contentKey(over), over) })
    expect(err).toBeInstanceOf(BlockTooLargeError)
    expect((err as BlockTooLargeError).code).toBe('BLOCK_TOO_LARGE')
    expect(thrown(() => verifyBlock(contentKey(over), BlockKind.CONTENT, over))).toBeInstanceOf(BlockTooLargeError)
    expect(thrown(() => decodeRoot(contentKey(over), over))).toBeInstanceOf(BlockTooLargeError)
  })
})

describe('root blocks', () => {
  const secretKey = generateSecretKey()
  const publicKey = publicKeyOf(secretKey)
  const key = rootKey(publicKey)
  const payload = Uint8Array.from({ length: 300 }, (_, i) => (i * 7 + 3) & 0xff)
  const encoded = encodeRoot(secretKey, 5, payload)

  const expectInvalid = (k: Uint8Array, bytes: Uint8Array): void => {
    const err = thrown(() => decodeRoot(k as typeof key, bytes))
    expect(err, `expected BlockInvalidError, got ${String(err)}`).toBeInstanceOf(BlockInvalidError)
  }

  it('round-trip through encode and decode', () => {
    const root = decodeRoot(key, encoded)
    // msgpackr decodes byte strings as Buffers: compare contents, not classes.
    expect(Uint8Array.from(root.publicKey)).toEqual(publicKey)
    expect(root.seq).toBe(5)
    expect(Uint8Array.from(root.payload)).toEqual(payload)
    expect(root.signature.length).toBe(64)
    expect(verifyBlock(key, BlockKind.ROOT, encoded)).toEqual({ kind: BlockKind.ROOT, owner: toHex(publicKey), seq: 5 })
    const empty = encodeRoot(secretKey, Number.MAX_SAFE_INTEGER, new Uint8Array(0))
    expect(decodeRoot(key, empty).seq).toBe(Number.MAX_SAFE_INTEGER)
    expect(decodeRoot(key, empty).payload.length).toBe(0)
  })

  it('keys are domain-separated from content keys of the public key', () => {
    expect(toHex(key)).not.toBe(toHex(contentKey(publicKey)))
    expect(() => rootKey(new Uint8Array(31))).toThrow(RangeError)
  })

  it('reject a root presented under another owner\'s key', () => {
    const otherKey = rootKey(publicKeyOf(generateSecretKey()))
    expectInvalid(otherKey, encoded)
    expectInvalid(contentKey(encoded), encoded)
  })

  it('reject a flipped payload byte', () => {
    const at = Buffer.from(encoded).indexOf(Buffer.from(payload))
    expect(at).toBeGreaterThan(0)
    for (const offset of [0, 150, 299]) expectInvalid(key, flip(encoded, at + offset))
  })

  it('reject a flipped signature byte', () => {
    // The signature is the last field: its 64 bytes end the encoding.
    for (const fromEnd of [1, 32, 64]) expectInvalid(key, flip(encoded, encoded.length - fromEnd))
  })

  it('reject a sequence number changed after signing', () => {
    const root = decodeRoot(key, encoded)
    const replayed = packr.pack([1, root.publicKey, 6, root.payload, root.signature])
    expectInvalid(key, replayed)
  })

  it('reject malformed structures with BlockInvalidError', () => {
    const root = decodeRoot(key, encoded)
    const cases: unknown[] = [
      null, 42, 'root', {}, [], [1, root.publicKey, 5, root.payload],
      [2, root.publicKey, 5, root.payload, root.signature],
      [1, root.publicKey.subarray(1), 5, root.payload, root.signature],
      [1, root.publicKey, 0, root.payload, root.signature],
      [1, root.publicKey, 1.5, root.payload, root.signature],
      [1, root.publicKey, '5', root.payload, root.signature],
      [1, root.publicKey, 5, 'payload', root.signature],
      [1, root.publicKey, 5, root.payload, root.signature.subarray(1)],
      [1, root.publicKey, 5, root.payload, root.signature, 'extra'],
      { 0: 1, 1: root.publicKey, 2: 5, 3: root.payload, 4: root.signature },
    ]
    for (const c of cases) expectInvalid(key, packr.pack(c))
    expectInvalid(key, new Uint8Array(0))
    expectInvalid(key, encoded.subarray(0, encoded.length - 1))
  })

  it('reject any garbage bytes with BlockInvalidError and nothing else', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => { expectInvalid(key, bytes) }), FC)
  })

  it('reject any corruption of a valid root with BlockInvalidError and nothing else', () => {
    const mutation = fc.record({ at: fc.nat({ max: encoded.length - 1 }), xor: fc.integer({ min: 1, max: 255 }) })
    fc.assert(fc.property(fc.array(mutation, { minLength: 1, maxLength: 4 }), fc.nat({ max: encoded.length }), (muts, cut) => {
      const bytes = new Uint8Array(encoded)
      for (const m of muts) bytes[m.at] = (bytes[m.at] as number) ^ m.xor
      expectInvalid(key, bytes)
      if (cut < encoded.length) expectInvalid(key, encoded.subarray(0, cut))
    }), FC)
  })

  it('refuse at encode a sequence number below 1 or not a safe integer', () => {
    for (const seq of [0, -1, 0.5, 1.5, NaN, Infinity, Number.MAX_SAFE_INTEGER + 1]) {
      expect(() => encodeRoot(secretKey, seq, payload), `seq ${seq}`).toThrow(RangeError)
    }
  })

  it('refuse at encode a payload that would not fit in a block', () => {
    expect(() => encodeRoot(secretKey, 1, new Uint8Array(MAX_BLOCK_BYTES))).toThrow(RangeError)
  })
})
