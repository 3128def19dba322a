import { encode, rfc8949EncodeOptions } from 'cborg'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { CborRaw, CborWriter } from '../../../src/fs/cbor-writer.js'

/** Values of the shapes file-tree blocks are made of, nested. */
const plain = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.constant(null),
    fc.boolean(),
    fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }),
    fc.integer({ min: -70_000, max: 70_000 }),
    fc.constantFrom(0, 23, 24, 255, 256, 65_535, 65_536, 2 ** 32 - 1, 2 ** 32, -1, -24, -25, -256, -257, -(2 ** 32), -(2 ** 32) - 1),
    fc.string({ unit: 'binary', maxLength: 40 }),
    fc.uint8Array({ maxLength: 300 }),
    fc.array(tie('value'), { maxLength: 8 }),
    fc.dictionary(fc.string({ unit: 'binary', maxLength: 30 }), tie('value'), { maxKeys: 8 }),
  ),
})).value

describe('the direct CBOR writer', () => {
  it('writes exactly what cborg writes with rfc8949EncodeOptions (property)', () => {
    const w = new CborWriter()
    fc.assert(fc.property(plain, (v) => {
      expect(Buffer.from(w.encode(v) as Uint8Array)).toEqual(Buffer.from(encode(v, rfc8949EncodeOptions)))
    }), { numRuns: 3000 })
  })

  it('writes a kept encoding (CborRaw) as the value it was made from (property)', () => {
    const w = new CborWriter()
    fc.assert(fc.property(fc.array(plain, { maxLength: 8 }), fc.array(fc.boolean(), { maxLength: 8 }), (items, keep) => {
      // Some items as kept encodings, the others as they are, inside a map as a node is.
      const mixed = items.map((v, i) => keep[i] === true ? new CborRaw(w.encode(v) as Uint8Array) : v)
      expect(Buffer.from(w.encode({ v: 2, items: mixed }) as Uint8Array)).toEqual(Buffer.from(encode({ v: 2, items }, rfc8949EncodeOptions)))
    }), { numRuns: 1000 })
  })

  it('leaves to cborg what it does not write', () => {
    const w = new CborWriter()
    for (const v of [1.5, -0, 2n ** 70n, undefined, { a: undefined }, [new Date(0)], NaN]) expect(w.encode(v)).toBeUndefined()
    expect(w.encode({ long: 'x'.repeat(70_000) })?.length).toBe(encode({ long: 'x'.repeat(70_000) }, rfc8949EncodeOptions).length)
  })
})
