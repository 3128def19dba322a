import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { makeNodeRef, type NodeRef } from '../../../src/chord/node-ref.js'
import { mergeSuccessors, sameNodeList } from '../../../src/chord/successor-list.js'
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
