import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { arcFraction, buildSnapshot, observe, ringPosition, type KnownNode } from '../../../src/node/ring-snapshot.js'
import type { NodeStatus } from '../../../src/node/index.js'
import { id, ringStatuses, withBlocks } from './fake-ring.js'

// The pure part of the ring view: arc fractions, what a round makes of each node, and the
// snapshot the dashboard draws.

const hex64 = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'))

function live (statuses: Map<string, NodeStatus>, now = 1_000): Map<string, KnownNode> {
  return new Map([...statuses].map(([a, status]) => [a, { status, lastSeen: now, failedSince: null }]))
}

describe('arcFraction and ringPosition', () => {
  it('measure clockwise arcs as fractions of the ring, wrapping past the top', () => {
    expect(arcFraction(id('0'), id('8'))).toBe(0.5)
    expect(arcFraction(id('8'), id('0'))).toBe(0.5)
    expect(arcFraction(id('c'), id('4'))).toBe(0.5)
    expect(arcFraction(id('4'), id('5'))).toBe(1 / 16)
    expect(arcFraction(id('4'), id('4'))).toBe(1) // (a, a] is the whole ring
    expect(ringPosition(id('8'))).toBe(0.5)
    expect(ringPosition('f'.repeat(64))).toBeLessThan(1)
  })

  it('arcs between consecutive ids cover the ring exactly once', () => {
    fc.assert(fc.property(fc.uniqueArray(hex64, { minLength: 1, maxLength: 20 }), (ids) => {
      const sorted = [...ids].sort()
      const total = sorted.reduce((s, x, i) => s + arcFraction(sorted[(i - 1 + sorted.length) % sorted.length] as string, x), 0)
      expect(Math.abs(total - 1)).toBeLessThan(1e-9)
    }))
  })
})

describe('buildSnapshot', () => {
  it('gives each vnode its arc (predecessor, id] and each node the sum of its vnodes', () => {
    const statuses = ringStatuses({ 'a:1': [id('1'), id('9')], 'b:1': [id('4')], 'c:1': [id('c')] })
    const s = buildSnapshot(live(statuses), 'a:1', 2_000)
    const owns = Object.fromEntries(s.nodes.map((n) => [n.address, n.owns]))
    // a owns (c, 1] + (4, 9] = 5/16 + 5/16, b (1, 4] = 3/16, c (9, c] = 3/16.
    expect(owns).toEqual({ 'a:1': 10 / 16, 'b:1': 3 / 16, 'c:1': 3 / 16 })
    expect(s.vnodes.map((v) => [v.address, v.at, v.from])).toEqual([['a:1', 1 / 16, 12 / 16], ['b:1', 4 / 16, 1 / 16], ['a:1', 9 / 16, 4 / 16], ['c:1', 12 / 16, 9 / 16]])
    expect(s.summary).toMatchObject({ live: 3, failed: 0, vnodes: 4 })
    expect(s.nodes.map((n) => n.address)).toEqual(['a:1', 'b:1', 'c:1']) // ring order of the first vnode
  })

  it('takes a vnode without a predecessor as owning back to the previous live vnode; a lone vnode owns the ring', () => {
    const statuses = ringStatuses({ 'a:1': [id('2')], 'b:1': [id('6')] })
    const a = statuses.get('a:1') as NodeStatus
    statuses.set('a:1', { ...a, vnodes: a.vnodes.map((v) => ({ ...v, predecessor: null })) })
    expect(buildSnapshot(live(statuses), 'a:1', 0).nodes.find((n) => n.address === 'a:1')?.owns).toBe(0.75)
    expect(buildSnapshot(live(ringStatuses({ 'a:1': [id('2')] })), 'a:1', 0).nodes[0]?.owns).toBe(1)
  })

  it('totals blocks, bytes, capacity, under-replicated keys and backlog over live nodes only', () => {
    const statuses = ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')], 'c:1': [id('9')] })
    const a = withBlocks(statuses.get('a:1') as NodeStatus, 10, 2, 1)
    const b = withBlocks(statuses.get('b:1') as NodeStatus, 20, 0, 3)
    const known = new Map<string, KnownNode>([
      // a's limit (50,000) is below its disk; b has no limit: what it holds plus its free disk.
      ['a:1', { status: { ...a, blocks: { ...a.blocks!, maxBytes: 50_000 }, disk: { totalBytes: 10 ** 9, freeBytes: 10 ** 8 } }, lastSeen: 5, failedSince: null }],
      ['b:1', { status: { ...b, disk: { totalBytes: 10 ** 6, freeBytes: 100_000 } }, lastSeen: 5, failedSince: null }],
      ['c:1', { status: withBlocks(statuses.get('c:1') as NodeStatus, 40, 9, 9), lastSeen: 4, failedSince: 5 }],
    ])
    const s = buildSnapshot(known, 'a:1', 6)
    expect(s.summary).toEqual({ live: 2, failed: 1, vnodes: 2, blocks: 30, bytes: 30_000, capacity: 170_000, underReplicated: 2, backlog: 4, volumes: 0 })
    expect(s.nodes.find((n) => n.address === 'c:1')?.capacity).toBeNull() // no limit and no disk reported
    const c = s.nodes.find((n) => n.address === 'c:1')
    expect(c).toMatchObject({ state: 'failed', lastSeen: 4, failedSince: 5, owns: 0, blocks: 40, vnodes: 1 })
    expect(s.nodes.at(-1)?.address).toBe('c:1') // failed nodes after the live ones
    expect(s.vnodes.find((v) => v.address === 'c:1')).toMatchObject({ state: 'failed', owns: 0 })
  })

  it('draws a node it never heard from with the vnodes live nodes name for it', () => {
    const statuses = ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')], 'x:1': [id('9'), id('d')] })
    const known = live(new Map([...statuses].filter(([a]) => a !== 'x:1')))
    known.set('x:1', { status: undefined, lastSeen: null, failedSince: 3 })
    const s = buildSnapshot(known, 'a:1', 4)
    expect(s.nodes.find((n) => n.address === 'x:1')).toMatchObject({ state: 'failed', lastSeen: null, vnodes: 2, blocks: null })
    expect(s.vnodes.filter((v) => v.address === 'x:1').map((v) => v.id)).toEqual([id('9'), id('d')])
  })

  it('lists each volume once with its live holders and the highest sequence number', () => {
    const statuses = ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')], 'c:1': [id('9')] })
    const vol = (seq: number, publishedAt: number | null): { key: string, owner: string, seq: number, publishedAt: number | null, expiresAt: number } =>
      ({ key: id('77'), owner: id('ee'), seq, publishedAt, expiresAt: 9e12 })
    const known = new Map<string, KnownNode>([
      ['a:1', { status: withBlocks(statuses.get('a:1') as NodeStatus, 1, 0, 0, [vol(3, 300)]), lastSeen: 1, failedSince: null }],
      ['b:1', { status: withBlocks(statuses.get('b:1') as NodeStatus, 1, 0, 0, [vol(2, 200)]), lastSeen: 1, failedSince: null }],
      ['c:1', { status: withBlocks(statuses.get('c:1') as NodeStatus, 1, 0, 0, [vol(4, 400)]), lastSeen: 0, failedSince: 1 }],
    ])
    const s = buildSnapshot(known, 'a:1', 2)
    expect(s.volumes).toEqual([{ key: id('77'), owner: id('ee'), seq: 3, publishedAt: 300, holders: [{ address: 'a:1', seq: 3 }, { address: 'b:1', seq: 2 }] }])
    expect(s.nodes.find((n) => n.address === 'a:1')?.volumes).toBe(1)
  })
})

describe('observe', () => {
  const s = ringStatuses({ 'a:1': [id('1')], 'b:1': [id('5')] })
  const a = s.get('a:1') as NodeStatus
  const b = s.get('b:1') as NodeStatus

  it('marks a node that stops answering failed from that round, keeping its last answer and when it was seen', () => {
    let known = observe(new Map(), { answered: new Map([['a:1', a], ['b:1', b]]), unreachable: new Set() }, 100, 60_000)
    expect(known.get('b:1')).toEqual({ status: b, lastSeen: 100, failedSince: null })
    known = observe(known, { answered: new Map([['a:1', a]]), unreachable: new Set(['b:1']) }, 200, 60_000)
    expect(known.get('b:1')).toEqual({ status: b, lastSeen: 100, failedSince: 200 })
    known = observe(known, { answered: new Map([['a:1', a]]), unreachable: new Set(['b:1']) }, 300, 60_000)
    expect(known.get('b:1')?.failedSince).toBe(200) // since the first round it missed
    known = observe(known, { answered: new Map([['a:1', a], ['b:1', b]]), unreachable: new Set() }, 400, 60_000)
    expect(known.get('b:1')).toEqual({ status: b, lastSeen: 400, failedSince: null }) // back
  })

  it('keeps nodes not asked this round as they were, and forgets a failed node forgetFailedMs after it was last seen', () => {
    let known = observe(new Map(), { answered: new Map([['a:1', a], ['b:1', b]]), unreachable: new Set() }, 0, 1_000)
    known = observe(known, { answered: new Map([['a:1', a]]), unreachable: new Set() }, 500, 1_000)
    expect(known.get('b:1')?.failedSince).toBeNull()
    known = observe(known, { answered: new Map([['a:1', a]]), unreachable: new Set(['b:1']) }, 600, 1_000)
    expect(known.has('b:1')).toBe(true)
    known = observe(known, { answered: new Map([['a:1', a]]), unreachable: new Set(['b:1']) }, 1_000, 1_000)
    expect(known.has('b:1')).toBe(false)
    // Never seen: forgotten forgetFailedMs after it was first found failed.
    known = observe(known, { answered: new Map(), unreachable: new Set(['x:1']) }, 2_000, 1_000)
    expect(known.get('x:1')).toEqual({ status: undefined, lastSeen: null, failedSince: 2_000 })
    expect(observe(known, { answered: new Map(), unreachable: new Set() }, 3_000, 1_000).has('x:1')).toBe(false)
  })
})
