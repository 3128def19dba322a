import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { makeNodeRef, type NodeRef } from '../../../src/chord/node-ref.js'
import { MAX_SUCCESSORS, endpointCount, mergeSuccessors, sameNodeList } from '../../../src/chord/successor-list.js'
import { FC } from '../ring-model.js'

const node = (i: number): NodeRef => makeNodeRef(`10.0.0.${i}:4000`)
const [self, a, b, c, d, e] = [0, 1, 2, 3, 4, 5].map(node) as [NodeRef, NodeRef, NodeRef, NodeRef, NodeRef, NodeRef]
const addrs = (list: readonly NodeRef[]): string[] => list.map((n) => n.address)

describe('mergeSuccessors', () => {
  it('puts first ahead of their list and keeps their order', () => {
    expect(mergeSuccessors(self, a, [b, c, d], 8)).toEqual([a, b, c, d])
  })

  it('stops where the list comes back round to self (what follows is a full circle away)', () => {
    expect(addrs(mergeSuccessors(self, a, [b, self, c], 8))).toEqual(addrs([a, b]))
    expect(mergeSuccessors(self, self, [a], 8)).toEqual([a])
    expect(mergeSuccessors(self, self, [self], 8)).toEqual([])
  })

  it('drops duplicates, keeping the first occurrence', () => {
    expect(mergeSuccessors(self, a, [a, b, a, c, b], 8)).toEqual([a, b, c])
  })

  it('treats a distinct object with the same id as a duplicate', () => {
    const aCopy: NodeRef = { ...a }
    const selfCopy: NodeRef = { ...self }
    expect(mergeSuccessors(self, a, [aCopy, b, selfCopy, c], 8)).toEqual([a, b])
  })

  it('truncates to size after removing duplicates', () => {
    expect(mergeSuccessors(self, a, [a, b, c, d, e], 3)).toEqual([a, b, c])
    expect(mergeSuccessors(self, a, [self, b, c], 3)).toEqual([a])
    expect(mergeSuccessors(self, a, [b, c], 1)).toEqual([a])
    expect(mergeSuccessors(self, a, [b, c], 0)).toEqual([])
  })

  it('grows past size until it names minEndpoints endpoints besides self\'s (vnodes of one endpoint count once)', () => {
    const v = (host: number, vnode: number): NodeRef => makeNodeRef(`10.0.1.${host}:4000`, vnode)
    const me = v(0, 0)
    // Successors: two vnodes of host 1, one of host 0 (self's own endpoint), then hosts 2, 3, 4.
    const theirs = [v(1, 1), v(0, 1), v(2, 0), v(2, 1), v(3, 0), v(4, 0), v(5, 0)]
    expect(mergeSuccessors(me, v(1, 0), theirs, 3)).toEqual([v(1, 0), v(1, 1), v(0, 1)])
    expect(mergeSuccessors(me, v(1, 0), theirs, 3, 3)).toEqual([v(1, 0), v(1, 1), v(0, 1), v(2, 0), v(2, 1), v(3, 0)])
    // Already enough endpoints: size decides.
    expect(mergeSuccessors(me, v(1, 0), theirs, 6, 2)).toHaveLength(6)
    // Never past self coming round, nor past MAX_SUCCESSORS.
    expect(mergeSuccessors(me, v(1, 0), [v(1, 1), me, v(2, 0)], 1, 3)).toEqual([v(1, 0), v(1, 1)])
    const many = Array.from({ length: 100 }, (_, i) => v(1, i + 1))
    expect(mergeSuccessors(me, v(1, 0), [...many, v(2, 0)], 4, 2)).toHaveLength(MAX_SUCCESSORS)
  })

  it('keeps enough endpoints from node to node: each list reaches min(3, the endpoints that follow)', () => {
    // 30 vnodes on up to 6 hosts in random order; lists built backwards from the last node, as
    // stabilization passes them from successor to predecessor.
    fc.assert(fc.property(fc.array(fc.nat(5), { minLength: 30, maxLength: 30 }), (hosts) => {
      const ring = hosts.map((h, i) => makeNodeRef(`10.0.2.${h}:4000`, i))
      let list: NodeRef[] = []
      for (let i = ring.length - 2; i >= 0; i--) {
        const me = ring[i] as NodeRef
        list = mergeSuccessors(me, ring[i + 1] as NodeRef, list, 4, 3)
        const following = endpointCount(ring.slice(i + 1).filter((n) => n.address !== me.address))
        expect(endpointCount(list.filter((n) => n.address !== me.address))).toBeGreaterThanOrEqual(Math.min(3, following))
        expect(list.length).toBeGreaterThanOrEqual(Math.min(4, ring.length - 1 - i))
      }
    }), FC)
  })

  it('does not modify their list', () => {
    const theirs = [b, self, b, c]
    mergeSuccessors(self, a, theirs, 2)
    expect(theirs).toEqual([b, self, b, c])
  })

  it('equals the first `size` distinct nodes of [first, ...theirs] before self comes round, in order', () => {
    const pool = Array.from({ length: 8 }, (_, i) => node(i))
    const pick = fc.nat(pool.length - 1).map((i) => pool[i] as NodeRef)
    fc.assert(fc.property(pick, pick, fc.array(pick, { maxLength: 20 }), fc.nat(10), (me, first, theirs, size) => {
      const got = mergeSuccessors(me, first, theirs, size)
      const want: NodeRef[] = []
      for (const n of [first, ...theirs]) {
        if (n === me) {
          if (want.length === 0) continue
          break
        }
        if (!want.includes(n) && want.length < size) want.push(n)
      }
      expect(addrs(got)).toEqual(addrs(want))
    }), FC)
  })
})

describe('sameNodeList', () => {
  it('compares by node identity in order', () => {
    expect(sameNodeList([], [])).toBe(true)
    expect(sameNodeList([a, b], [a, b])).toBe(true)
    expect(sameNodeList([a, b], [{ ...a }, { ...b }])).toBe(true)
    expect(sameNodeList([a, b], [b, a])).toBe(false)
    expect(sameNodeList([a], [a, b])).toBe(false)
  })
})
