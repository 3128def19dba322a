import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { SeededRandom } from '../../../src/core/random.js'
import { FC } from '../ring-model.js'

const draw = (r: SeededRandom): unknown[] => [
  ...Array.from({ length: 20 }, () => r.int(1_000_000)),
  ...Array.from({ length: 5 }, () => r.float()),
  Array.from(r.bytes(16)),
  r.shuffle([1, 2, 3, 4, 5, 6, 7, 8]),
  r.pick(['a', 'b', 'c', 'd']),
]

describe('SeededRandom', () => {
  it('replays the same sequence from the same seed', () => {
    fc.assert(fc.property(fc.integer(), (seed) => {
      expect(draw(new SeededRandom(seed))).toEqual(draw(new SeededRandom(seed)))
    }), { ...FC, numRuns: 50 })
  })

  it('remembers its seed', () => {
    expect(new SeededRandom(1234).seed).toBe(1234)
  })

  it('different seeds give different sequences', () => {
    const seqs = [1, 2, 3, 42].map((s) => JSON.stringify(draw(new SeededRandom(s))))
    expect(new Set(seqs).size).toBe(seqs.length)
  })

  it('int(n) is an integer in [0, n)', () => {
    fc.assert(fc.property(fc.integer(), fc.integer({ min: 1, max: 2 ** 32 }), (seed, n) => {
      const r = new SeededRandom(seed)
      const bad = Array.from({ length: 20 }, () => r.int(n)).filter((v) => !Number.isInteger(v) || v < 0 || v >= n)
      expect(bad, `seed=${seed} n=${n}`).toEqual([])
    }), FC)
  })

  it('int reaches both ends of a small range', () => {
    const r = new SeededRandom(7)
    const seen = new Set(Array.from({ length: 200 }, () => r.int(4)))
    expect([...seen].sort()).toEqual([0, 1, 2, 3])
    expect(Array.from({ length: 10 }, () => r.int(1))).toEqual(new Array<number>(10).fill(0))
  })

  it.each([0, -1])('int(%i) throws RangeError', (n) => {
    expect(() => new SeededRandom(1).int(n)).toThrow(RangeError)
  })

  it('float is in [0, 1)', () => {
    const r = new SeededRandom(99)
    const floats = Array.from({ length: 1_000 }, () => r.float())
    expect(floats.filter((f) => !(f >= 0 && f < 1))).toEqual([])
    expect(Math.min(...floats)).toBeLessThan(0.01)
    expect(Math.max(...floats)).toBeGreaterThan(0.99)
  })

  it('bytes(n) gives n bytes', () => {
    const r = new SeededRandom(5)
    expect(r.bytes(0)).toHaveLength(0)
    expect(r.bytes(33)).toHaveLength(33)
  })

  it('shuffle permutes in place', () => {
    fc.assert(fc.property(fc.integer(), fc.array(fc.integer({ min: -5, max: 5 }), { maxLength: 40 }), (seed, items) => {
      const copy = [...items]
      const out = new SeededRandom(seed).shuffle(copy)
      expect(out).toBe(copy)
      expect([...out].sort((a, b) => a - b)).toEqual([...items].sort((a, b) => a - b))
    }), FC)
  })

  it('shuffle reaches every permutation of three items', () => {
    const r = new SeededRandom(3)
    const seen = new Set(Array.from({ length: 300 }, () => r.shuffle([0, 1, 2]).join('')))
    expect([...seen].sort()).toEqual(['012', '021', '102', '120', '201', '210'])
  })

  it('pick returns an element, and throws RangeError on an empty list', () => {
    const r = new SeededRandom(11)
    const items = ['x', 'y', 'z'] as const
    for (let i = 0; i < 50; i++) expect(items).toContain(r.pick(items))
    expect(() => r.pick([])).toThrow(RangeError)
  })
})
