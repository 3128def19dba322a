import { describe, expect, it } from 'vitest'
import { FingerTable, type Finger } from '../../../src/chord/finger-table.js'
import { makeNodeRef, type NodeRef } from '../../../src/chord/node-ref.js'
import { KEY_BITS } from '../../../src/core/key.js'
import { RING, mod, refBetween, toBig } from '../ring-model.js'

const self = makeNodeRef('10.0.0.1:4000', 0)
const others = Array.from({ length: 6 }, (_, i) => makeNodeRef(`10.0.2.${i + 1}:4000`, 0))

/** The first vnode of this address whose id has the top bit set, so start(255) wraps past zero. */
function highNode (): NodeRef {
  for (let v = 0; ; v++) {
    const n = makeNodeRef('10.0.0.1:4000', v)
    if ((n.id[0] as number) >= 0x80) return n
  }
}

describe('FingerTable.start', () => {
  it.each([self, highNode()])('start(i) = self + 2^i mod 2^256 for every i (self %#)', (me) => {
    const table = new FingerTable(me)
    const s = toBig(me.id)
    const got = Array.from({ length: KEY_BITS }, (_, i) => toBig(table.start(i)))
    expect(got).toEqual(Array.from({ length: KEY_BITS }, (_, i) => mod(s + (1n << BigInt(i)))))
  })

  it('the last start wraps past zero for a node in the upper half of the ring', () => {
    const me = highNode()
    const table = new FingerTable(me)
    expect(toBig(table.start(255))).toBe(toBig(me.id) - RING / 2n)
    expect(toBig(table.start(255)) < toBig(me.id)).toBe(true)
  })

  it('returns 32-byte keys and the same answer on every call', () => {
    const table = new FingerTable(self)
    expect(table.start(0)).toHaveLength(32)
    expect(table.start(17)).toEqual(table.start(17))
  })
})

describe('FingerTable.covers', () => {
  it('is true exactly when start(i) lies in (self, node]', () => {
    const table = new FingerTable(self)
    const s = toBig(self.id)
    const wrong: string[] = []
    for (const node of [...others, highNode()]) {
      const n = toBig(node.id)
      for (let i = 0; i < KEY_BITS; i++) {
        const want = refBetween(mod(s + (1n << BigInt(i))), s, n, true)
        if (table.covers(i, node) !== want) wrong.push(`i=${i} node=${node.address}/${node.vnode} want ${want}`)
      }
    }
    expect(wrong).toEqual([])
  })

  it('covers a start that equals the node id, and nothing past it', () => {
    const me = highNode()
    const table = new FingerTable(me)
    // A node at exactly start(200) covers 0..200 and no further start.
    const at200 = { ...others[0]!, id: table.start(200), hex: Buffer.from(table.start(200)).toString('hex') }
    expect(table.covers(200, at200)).toBe(true)
    expect(table.covers(0, at200)).toBe(true)
    expect(table.covers(201, at200)).toBe(false)
  })

  it('self covers every start (alone, it is the successor of every key)', () => {
    const table = new FingerTable(self)
    expect(Array.from({ length: KEY_BITS }, (_, i) => table.covers(i, self)).every(Boolean)).toBe(true)
  })
})

describe('FingerTable.replaceAll / remove', () => {
  const [a, b, c] = others as [NodeRef, NodeRef, NodeRef]
  const fingers = (): Finger[] => [{ index: 0, node: a }, { index: 5, node: b }, { index: 9, node: c }]

  it('starts empty', () => {
    const table = new FingerTable(self)
    expect(table.fingers).toEqual([])
    expect(table.nodes()).toEqual([])
  })

  it('replaceAll reports whether anything changed', () => {
    const table = new FingerTable(self)
    expect(table.replaceAll(fingers())).toBe(true)
    expect(table.nodes()).toEqual([a, b, c])
    expect(table.replaceAll(fingers())).toBe(false)
    expect(table.replaceAll(fingers().map((f) => ({ index: f.index, node: { ...f.node } })))).toBe(false)
    expect(table.replaceAll([{ index: 0, node: a }, { index: 6, node: b }, { index: 9, node: c }])).toBe(true)
    expect(table.replaceAll([{ index: 0, node: a }, { index: 6, node: c }, { index: 9, node: c }])).toBe(true)
    expect(table.replaceAll([{ index: 0, node: a }, { index: 6, node: c }])).toBe(true)
    expect(table.replaceAll([{ index: 0, node: a }, { index: 6, node: c }, { index: 7, node: b }])).toBe(true)
    expect(table.replaceAll([])).toBe(true)
    expect(table.replaceAll([])).toBe(false)
    expect(table.fingers).toEqual([])
  })

  it('remove drops every entry of the node and reports whether it did', () => {
    const table = new FingerTable(self)
    table.replaceAll([{ index: 0, node: a }, { index: 3, node: b }, { index: 4, node: a }, { index: 8, node: c }])
    expect(table.remove({ ...a })).toBe(true)
    expect(table.fingers).toEqual([{ index: 3, node: b }, { index: 8, node: c }])
    expect(table.remove(a)).toBe(false)
    expect(table.remove(self)).toBe(false)
    expect(table.nodes()).toEqual([b, c])
  })
})
