import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  KEY_BITS, KEY_BYTES, addPowerOfTwo, asKey, between, betweenHex, closerTo, hashKey, keyFromHex, toHex,
} from '../../../src/core/key.js'
import { BLAKE3_IMPLEMENTATION, blake3, blake3Reference } from '../../../src/core/blake3.js'
import { FC, RING, SPECIAL_POINTS, cw, fromBig, mod, pointArb, refBetween, toBig, tripleArb } from '../ring-model.js'

const hexOf = (n: bigint): string => toHex(fromBig(n))

describe('ring model (sanity of the reference itself)', () => {
  it('round-trips integers through bytes', () => {
    for (const n of SPECIAL_POINTS) expect(toBig(fromBig(n))).toBe(n)
    expect(toBig(fromBig(RING))).toBe(0n)
    expect(toBig(fromBig(-1n))).toBe(RING - 1n)
  })
})

describe('between', () => {
  it('matches the BigInt reference for open and half-open intervals', () => {
    fc.assert(fc.property(tripleArb, fc.boolean(), ([x, a, b], incl) => {
      expect(between(fromBig(x), fromBig(a), fromBig(b), incl), `x=${x} a=${a} b=${b} incl=${incl}`)
        .toBe(refBetween(x, a, b, incl))
    }), FC)
  })

  it('without wrap-around: (a, b) excludes both ends, (a, b] includes b', () => {
    const [a, b] = [fromBig(10n), fromBig(20n)]
    expect(between(fromBig(10n), a, b)).toBe(false)
    expect(between(fromBig(11n), a, b)).toBe(true)
    expect(between(fromBig(19n), a, b)).toBe(true)
    expect(between(fromBig(20n), a, b)).toBe(false)
    expect(between(fromBig(20n), a, b, true)).toBe(true)
    expect(between(fromBig(10n), a, b, true)).toBe(false)
    expect(between(fromBig(21n), a, b, true)).toBe(false)
    expect(between(fromBig(5n), a, b, true)).toBe(false)
  })

  it('wraps around zero when a > b', () => {
    const a = fromBig(RING - 2n)
    const b = fromBig(1n)
    expect(between(fromBig(RING - 2n), a, b)).toBe(false)
    expect(between(fromBig(RING - 1n), a, b)).toBe(true)
    expect(between(fromBig(0n), a, b)).toBe(true)
    expect(between(fromBig(1n), a, b)).toBe(false)
    expect(between(fromBig(1n), a, b, true)).toBe(true)
    expect(between(fromBig(2n), a, b, true)).toBe(false)
    expect(between(fromBig(RING / 2n), a, b, true)).toBe(false)
  })

  it('a == b: the open interval is the ring without a, the half-open one is the whole ring', () => {
    for (const p of SPECIAL_POINTS) {
      const a = fromBig(p)
      expect(between(a, a, a)).toBe(false)
      expect(between(a, a, a, true)).toBe(true)
      expect(between(fromBig(p + 1n), a, a)).toBe(true)
      expect(between(fromBig(p - 1n), a, a)).toBe(true)
      expect(between(fromBig(p + 1n), a, a, true)).toBe(true)
    }
  })

  it('adjacent ends: (a, a+1) is empty and (a, a+1] holds only a+1', () => {
    for (const p of SPECIAL_POINTS) {
      const a = fromBig(p)
      const b = fromBig(p + 1n)
      for (const d of [-1n, 0n, 1n, 2n]) {
        expect(between(fromBig(p + d), a, b), `p=${p} d=${d}`).toBe(false)
        expect(between(fromBig(p + d), a, b, true), `p=${p} d=${d}`).toBe(d === 1n)
      }
    }
  })
})

describe('betweenHex', () => {
  it('agrees with between on the hex of random, equal and adjacent keys', () => {
    fc.assert(fc.property(tripleArb, fc.boolean(), ([x, a, b], incl) => {
      const [kx, ka, kb] = [fromBig(x), fromBig(a), fromBig(b)]
      expect(betweenHex(toHex(kx), toHex(ka), toHex(kb), incl), `x=${x} a=${a} b=${b} incl=${incl}`)
        .toBe(between(kx, ka, kb, incl))
    }), FC)
  })

  it('matches the BigInt reference directly', () => {
    fc.assert(fc.property(tripleArb, fc.boolean(), ([x, a, b], incl) => {
      expect(betweenHex(hexOf(x), hexOf(a), hexOf(b), incl)).toBe(refBetween(x, a, b, incl))
    }), FC)
  })

  it('handles every a == b and x == end combination', () => {
    const p = hexOf(7n)
    const q = hexOf(8n)
    expect(betweenHex(p, p, p)).toBe(false)
    expect(betweenHex(p, p, p, true)).toBe(true)
    expect(betweenHex(q, p, p)).toBe(true)
    expect(betweenHex(q, p, q)).toBe(false)
    expect(betweenHex(q, p, q, true)).toBe(true)
    expect(betweenHex(p, p, q, true)).toBe(false)
  })
})

describe('closerTo', () => {
  it('orders points preceding the target by clockwise distance to it', () => {
    fc.assert(fc.property(tripleArb, ([t, a, b]) => {
      fc.pre(a !== t && b !== t)
      const got = Math.sign(closerTo(hexOf(t))(hexOf(a), hexOf(b)))
      const want = Math.sign(Number(cw(a, t) - cw(b, t)))
      expect(got, `t=${t} a=${a} b=${b}`).toBe(want)
    }), FC)
  })

  it('sorts a list of points exactly as sorting by BigInt distance does', () => {
    fc.assert(fc.property(pointArb, fc.uniqueArray(pointArb, { maxLength: 20 }), (t, pts) => {
      const others = pts.filter((p) => p !== t)
      const byComparator = others.map(hexOf).sort(closerTo(hexOf(t)))
      const byDistance = [...others].sort((a, b) => (cw(a, t) < cw(b, t) ? -1 : 1)).map(hexOf)
      expect(byComparator).toEqual(byDistance)
    }), FC)
  })

  it('returns 0 for the same point', () => {
    const cmp = closerTo(hexOf(100n))
    expect(cmp(hexOf(5n), hexOf(5n))).toBe(0)
    expect(cmp(hexOf(99n), hexOf(98n))).toBe(-1)
    expect(cmp(hexOf(98n), hexOf(99n))).toBe(1)
    // 101 is just past the target, so it is the farthest point preceding it
    expect(cmp(hexOf(101n), hexOf(0n))).toBe(1)
  })
})

describe('addPowerOfTwo', () => {
  it('equals (k + 2^i) mod 2^256', () => {
    fc.assert(fc.property(pointArb, fc.integer({ min: 0, max: KEY_BITS - 1 }), (k, i) => {
      expect(toBig(addPowerOfTwo(fromBig(k), i))).toBe(mod(k + (1n << BigInt(i))))
    }), FC)
  })

  it('wraps past the top of the ring', () => {
    expect(toBig(addPowerOfTwo(fromBig(RING - 1n), 0))).toBe(0n)
    expect(toBig(addPowerOfTwo(fromBig(RING / 2n), 255))).toBe(0n)
    expect(toBig(addPowerOfTwo(fromBig(RING - 1n), 255))).toBe(RING / 2n - 1n)
    expect(toBig(addPowerOfTwo(fromBig(RING - 4n), 3))).toBe(4n)
  })

  it('returns a fresh 32-byte key and leaves the input alone', () => {
    const k = fromBig(RING - 1n)
    const before = Uint8Array.from(k)
    const out = addPowerOfTwo(k, 10)
    expect(out).not.toBe(k)
    expect(out).toHaveLength(KEY_BYTES)
    expect(k).toEqual(before)
  })
})

describe('toHex / keyFromHex', () => {
  it('round-trips random keys', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: KEY_BYTES, maxLength: KEY_BYTES }), (bytes) => {
      const hex = toHex(bytes)
      expect(hex).toMatch(/^[0-9a-f]{64}$/)
      expect(Array.from(keyFromHex(hex))).toEqual(Array.from(bytes))
    }), FC)
  })

  it('accepts either case and normalises to lowercase', () => {
    fc.assert(fc.property(fc.stringMatching(/^[0-9a-fA-F]{64}$/), (hex) => {
      expect(toHex(keyFromHex(hex))).toBe(hex.toLowerCase())
    }), FC)
  })

  it('returns a plain Uint8Array key', () => {
    const k = keyFromHex('ab'.repeat(32))
    expect(Object.getPrototypeOf(k)).toBe(Uint8Array.prototype)
    expect(k).toHaveLength(KEY_BYTES)
  })

  it('toHex reads only the view of a subarray', () => {
    const backing = new Uint8Array(40).map((_, i) => i)
    expect(toHex(backing.subarray(3, 5))).toBe('0304')
    expect(toHex(backing.subarray(0, 0))).toBe('')
  })

  it.each([
    ['empty', ''],
    ['63 digits', 'a'.repeat(63)],
    ['65 digits', 'a'.repeat(65)],
    ['a non-hex digit', 'g' + 'a'.repeat(63)],
    ['a 0x prefix', '0x' + 'a'.repeat(62)],
    ['whitespace', ' ' + 'a'.repeat(63)],
    ['a trailing newline', 'a'.repeat(64) + '\n'],
    ['128 digits', 'a'.repeat(128)],
  ])('keyFromHex throws RangeError on %s', (_name, hex) => {
    expect(() => keyFromHex(hex)).toThrow(RangeError)
  })
})

describe('asKey', () => {
  it('brands 32 bytes without copying', () => {
    const bytes = new Uint8Array(KEY_BYTES)
    expect(asKey(bytes)).toBe(bytes)
  })

  it.each([0, 1, 31, 33, 64])('throws RangeError on %i bytes', (n) => {
    expect(() => asKey(new Uint8Array(n))).toThrow(RangeError)
  })

  it('throws RangeError on something that is not a Uint8Array', () => {
    expect(() => asKey(new Array<number>(KEY_BYTES).fill(0) as unknown as Uint8Array)).toThrow(RangeError)
    expect(() => asKey('x'.repeat(KEY_BYTES) as unknown as Uint8Array)).toThrow(RangeError)
  })
})

describe('blake3', () => {
  it('runs the native build on this platform', () => {
    expect(BLAKE3_IMPLEMENTATION).toBe('native')
  })

  it('agrees with the pure-JS reference on any input, views into larger buffers included', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 20_000 }), fc.nat(64), (bytes, skip) => {
      const view = bytes.subarray(Math.min(skip, bytes.length))
      expect(toHex(blake3(view))).toBe(toHex(blake3Reference(view)))
    }), FC)
  })

  it('agrees with the reference across chunk and tree boundaries (1 KiB chunks, up to 1 MiB)', () => {
    const big = new Uint8Array(1024 * 1024 + 1).map((_, i) => (i * 31 + (i >>> 10)) & 0xff)
    for (const n of [1023, 1024, 1025, 2048, 2049, 8192, 65_536 + 7, 1024 * 1024, 1024 * 1024 + 1]) {
      expect(toHex(blake3(big.subarray(0, n))), `${n} bytes`).toBe(toHex(blake3Reference(big.subarray(0, n))))
    }
  })
})

describe('hashKey', () => {
  const reference = (...parts: Array<Uint8Array | string>): Uint8Array =>
    blake3Reference(Buffer.concat(parts.map((p) => (typeof p === 'string' ? Buffer.from(p, 'utf8') : p))))

  it('is the BLAKE3 of the parts in order', () => {
    const part = fc.oneof(fc.string({ unit: 'grapheme' }), fc.uint8Array({ maxLength: 64 }))
    fc.assert(fc.property(fc.array(part, { maxLength: 5 }), (parts) => {
      expect(Array.from(hashKey(...parts))).toEqual(Array.from(reference(...parts)))
    }), FC)
  })

  it('hashes strings as UTF-8 and is the hash of the concatenation', () => {
    // The BLAKE3 team's published digests of the empty input and of "abc".
    expect(toHex(hashKey('')))
      .toBe('af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262')
    expect(toHex(hashKey('abc')))
      .toBe('6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85')
    expect(hashKey('ü')).toEqual(hashKey(new Uint8Array([0xc3, 0xbc])))
    expect(hashKey('a', 'bc')).toEqual(hashKey('abc'))
    expect(hashKey()).toEqual(hashKey(''))
  })

  it('returns a plain 32-byte Uint8Array, not a Buffer', () => {
    const k = hashKey('x')
    expect(k).toHaveLength(KEY_BYTES)
    expect(Object.getPrototypeOf(k)).toBe(Uint8Array.prototype)
  })
})
