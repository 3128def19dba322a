import { describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { asKey, between, keysEqual, type Key } from '../../../src/core/index.js'
import type { NodeRef } from '../../../src/chord/index.js'
import { ArcCache } from '../../../src/dhash/arc-cache.js'

const key = (n: number): Key => { const k = new Uint8Array(32); k[0] = n >> 8; k[1] = n & 0xff; return asKey(k) }
const node = (n: number): NodeRef => { const id = key(n); return { id, hex: Buffer.from(id).toString('hex'), address: `127.0.0.1:${1000 + n}`, vnode: 0 } }
const inArc = (k: Key, from: Key, to: Key): boolean => keysEqual(from, to) || between(k, from, to, true)

describe('ArcCache', () => {
  it('answers keys in (from, to] and nothing else, until the entry expires', () => {
    let t = 0
    const cache = new ArcCache(1000, 16, () => t)
    cache.add({ from: key(10), to: key(20) }, [node(20)])
    expect(cache.find(key(10))).toBeUndefined()
    expect(cache.find(key(11))?.[0]?.hex).toBe(node(20).hex)
    expect(cache.find(key(20))?.[0]?.hex).toBe(node(20).hex)
    expect(cache.find(key(21))).toBeUndefined()
    t = 1000
    expect(cache.find(key(15))).toBeUndefined()
  })

  it('keeps one entry per successor: answers ending at the same node widen one arc', () => {
    const cache = new ArcCache(1000, 16, () => 0)
    const holders = [node(20), node(30)]
    // Lookups the successor answered itself: each covers (key - 1, successor].
    for (let k = 19; k >= 11; k--) cache.add({ from: key(k - 1), to: key(20) }, holders)
    expect(cache.size).toBe(1)
    for (let k = 11; k <= 20; k++) expect(cache.find(key(k))).toBe(holders)
    // A narrower answer later does not shrink it.
    cache.add({ from: key(18), to: key(20) }, holders)
    expect(cache.find(key(12))).toBe(holders)
    expect(cache.size).toBe(1)
  })

  it('does not vouch for the older part of a widened arc past its own expiry', () => {
    let t = 0
    const cache = new ArcCache(1000, 16, () => t)
    const holders = [node(20)]
    cache.add({ from: key(10), to: key(20) }, holders)
    t = 900
    cache.add({ from: key(18), to: key(20) }, holders)
    expect(cache.find(key(12))).toBe(holders)
    t = 1000
    expect(cache.find(key(12))).toBeUndefined()
  })

  it('replaces an answer for the same end with other holders (the newer one wins)', () => {
    const cache = new ArcCache(1000, 16, () => 0)
    cache.add({ from: key(10), to: key(20) }, [node(20), node(30)])
    cache.add({ from: key(15), to: key(20) }, [node(20), node(40)])
    expect(cache.size).toBe(1)
    expect(cache.find(key(12))).toBeUndefined()
    expect(cache.find(key(17))?.[1]?.hex).toBe(node(40).hex)
  })

  it('keeps the whole ring (from == to) when a narrower answer for it comes', () => {
    const cache = new ArcCache(1000, 16, () => 0)
    const holders = [node(20)]
    cache.add({ from: key(20), to: key(20) }, holders)
    cache.add({ from: key(18), to: key(20) }, holders)
    expect(cache.find(key(500))).toBe(holders)
    expect(cache.find(key(19))).toBe(holders)
  })

  it('never answers a key outside every arc it was given for that successor list (property)', () => {
    const arb = fc.array(fc.tuple(fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 4 })), { minLength: 1, maxLength: 30 })
    fc.assert(fc.property(arb, fc.integer({ min: 0, max: 99 }), (adds, probe) => {
      const ends = [20, 40, 60, 80, 99]
      const cache = new ArcCache(1000, 256, () => 0)
      const given: Array<{ from: Key, to: Key, holders: NodeRef[] }> = []
      const lists = ends.map((e) => [node(e), node(e + 1)])
      for (const [from, i] of adds) {
        const holders = lists[i] as NodeRef[]
        const to = key(ends[i] as number)
        cache.add({ from: key(from), to }, holders)
        given.push({ from: key(from), to, holders })
      }
      const k = key(probe)
      const got = cache.find(k)
      if (got === undefined) return
      // Some answer given for exactly this list covers the key.
      expect(given.some((g) => g.holders === got && inArc(k, g.from, g.to))).toBe(true)
    }))
  })

  it('forgets the arcs a node heads', () => {
    const cache = new ArcCache(1000, 16, () => 0)
    cache.add({ from: key(10), to: key(20) }, [node(20)])
    cache.add({ from: key(20), to: key(30) }, [node(30)])
    cache.forget(node(20))
    expect(cache.find(key(15))).toBeUndefined()
    expect(cache.find(key(25))?.[0]?.hex).toBe(node(30).hex)
  })
})
